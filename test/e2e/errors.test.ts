/**
 * Errors end to end on the embedded default: RayTaskError and its cause, error chains through
 * nested tasks, get failing fast, worker crashes and get timeouts.
 */
import type * as Ray from '../../src/index';

// The built package (jest maps 'raybus' to dist/); see remote-functions.test.ts for why
// `require` is used.
const ray: typeof Ray = require('raybus');

beforeAll(async () => {
  await ray.init({ numCpus: 4 });
});

afterAll(async () => {
  await ray.shutdown();
});

/** The rejection reason of a promise (fails the test if it fulfils). */
async function rejectionOf(p: Promise<unknown>): Promise<Error> {
  return p.then(
    (v) => {
      throw new Error(`expected a rejection, got ${String(v)}`);
    },
    (e: unknown) => e as Error,
  );
}

describe('RayTaskError', () => {
  test('carries the original error as cause, with name, message and stack; message has the remote stack', async () => {
    const failing = ray.remote(function failingTask(x: number) {
      if (x > 0) throw new TypeError(`bad type ${x}`);
      return x;
    });
    const err = (await rejectionOf(ray.get(failing.remote(7)))) as Ray.RayTaskError;
    expect(err).toBeInstanceOf(ray.RayTaskError);
    expect(err).toBeInstanceOf(ray.RayError);
    // Ray's as_instanceof_cause: the error is also an instance of the cause's class.
    expect(err).toBeInstanceOf(TypeError);
    const cause = err.cause as Error;
    expect(cause).toBeInstanceOf(Error);
    expect(cause.name).toBe('TypeError');
    expect(cause.message).toBe('bad type 7');
    expect(cause.stack).toContain('bad type 7');
    expect(cause.stack).toContain('failingTask');
    // The remote stack is part of the message (first frame of the cause's stack).
    const firstFrame = cause.stack!.split('\n').find((l) => l.trim().startsWith('at '))!;
    expect(firstFrame).toBeDefined();
    expect(err.message).toContain(firstFrame.trim());
    expect(err.message).toContain('bad type 7');
    expect(err.functionName).toContain('failingTask');
  });

  test('a plain Error cause gives a RayTaskError that is not a TypeError', async () => {
    const failing = ray.remote(() => {
      const e = new Error('custom failure');
      e.name = 'MyDomainError';
      throw e;
    });
    const err = await rejectionOf(ray.get(failing.remote()));
    expect(err).toBeInstanceOf(ray.RayTaskError);
    expect(err).not.toBeInstanceOf(TypeError);
    expect((err.cause as Error).name).toBe('MyDomainError');
    expect((err.cause as Error).message).toBe('custom failure');
  });

  // Ray: test_failure.py::test_exception_chain
  test('an error in a nested task surfaces at the top as RayTaskError and as the original type', async () => {
    const outer = ray.remote(async () => {
      const inner = ray.remote(function innerTask() {
        throw new RangeError('deep down');
      });
      return ray.get(inner.remote());
    });
    const err = await rejectionOf(ray.get(outer.remote()));
    expect(err).toBeInstanceOf(ray.RayTaskError);
    expect(err).toBeInstanceOf(RangeError);
    expect((err.cause as Error).name).toBe('RangeError');
    expect((err.cause as Error).message).toBe('deep down');
  });
});

describe('ray.get fails fast', () => {
  // Ray: test_failure.py::test_get_throws_quickly_when_found_exception (actor variant)
  test('get of an array rejects on the first error without waiting for a never-finishing actor call', async () => {
    const Blocker = ray.remote(
      class Blocker {
        async block() {
          await new Promise(() => undefined);
        }
      },
    );
    const blocker = Blocker.remote();
    await ray.get(blocker.__ray_ready__.remote(), { timeoutMs: 20000 });
    const fail = ray.remote(() => {
      throw new Error('fails fast');
    });
    const stuck = blocker.block.remote();
    // If get waited for the stuck call it would end with GetTimeoutError instead.
    const err = await rejectionOf(ray.get([stuck, fail.remote()], { timeoutMs: 15000 }));
    expect(err).toBeInstanceOf(ray.RayTaskError);
    expect((err.cause as Error).message).toBe('fails fast');
    await ray.kill(blocker);
    await expect(ray.get(stuck, { timeoutMs: 15000 })).rejects.toBeInstanceOf(ray.RayActorError);
  });
});

describe('worker crashes', () => {
  test('a task that exits its process fails with WorkerCrashedError and the driver survives', async () => {
    const crash = ray.remote({ maxRetries: 0 })(() => {
      process.exit(1);
    });
    const err = await rejectionOf(ray.get(crash.remote(), { timeoutMs: 20000 }));
    expect(err).toBeInstanceOf(ray.WorkerCrashedError);
    expect(err).toBeInstanceOf(ray.RayError);
    const ok = ray.remote((x: number) => x * 2);
    expect(await ray.get(ok.remote(21), { timeoutMs: 20000 })).toBe(42);
  });

  test('an uncaught error that kills the worker is named in the WorkerCrashedError, with what it printed last', async () => {
    const crash = ray.remote({ maxRetries: 0 })(() => {
      console.error('about to fail');
      setTimeout(() => {
        throw new Error('thrown from a timer, out of any task');
      }, 10);
      return new Promise(() => undefined);
    });
    const err = await rejectionOf(ray.get(crash.remote(), { timeoutMs: 20000 }));
    expect(err).toBeInstanceOf(ray.WorkerCrashedError);
    expect(err.message).toMatch(/exited with code 1\. The end of its stderr:/);
    expect(err.message).toContain('about to fail');
    expect(err.message).toContain('Error: thrown from a timer, out of any task');
  });
});

describe('timeouts', () => {
  test('get with timeoutMs rejects with GetTimeoutError, a RayError; the value still arrives later', async () => {
    const slow = ray.remote(async (ms: number) => {
      await new Promise((r) => setTimeout(r, ms));
      return 'done';
    });
    const ref = slow.remote(1500);
    const started = Date.now();
    const err = await rejectionOf(ray.get(ref, { timeoutMs: 50 }));
    expect(Date.now() - started).toBeLessThan(1400);
    expect(err).toBeInstanceOf(ray.GetTimeoutError);
    expect(err).toBeInstanceOf(ray.RayError);
    expect(await ray.get(ref, { timeoutMs: 20000 })).toBe('done');
  });

  // Ray: test_failure.py::test_get_throws_quickly_when_found_exception (task variant). The
  // never-finishing task keeps a worker busy until shutdown, so it runs last in this file.
  test('get of an array rejects on the first error without waiting for a never-finishing task', async () => {
    const never = ray.remote(() => new Promise(() => undefined));
    const fail = ray.remote(() => {
      throw new TypeError('sibling failed');
    });
    const err = await rejectionOf(ray.get([never.remote(), fail.remote()], { timeoutMs: 15000 }));
    expect(err).toBeInstanceOf(ray.RayTaskError);
    expect(err).toBeInstanceOf(TypeError);
    expect((err.cause as Error).message).toBe('sibling failed');
  });
});

describe('misuse of get, wait, cancel and kill throws at once, naming the option', () => {
  test('unknown option names are refused with the valid ones listed', async () => {
    const f = ray.remote(() => 1);
    const A = ray.remote(
      class A {
        m() {
          return 1;
        }
      },
    );
    const ref = f.remote();
    const a = A.options({ numCpus: 0 }).remote();
    const bad = (o: object) => o as never;
    expect(() => ray.get(ref, bad({ numReturns: 1 }))).toThrow("ray.get: unknown option 'numReturns'. Valid options: timeoutMs, timeout");
    expect(() => ray.wait([ref], bad({ bogus: 1 }))).toThrow("ray.wait: unknown option 'bogus'. Valid options: numReturns, num_returns, timeoutMs, timeout, fetchLocal, fetch_local");
    expect(() => ray.cancel(ref, bad({ forse: true }))).toThrow("ray.cancel: unknown option 'forse'. Valid options: force, recursive");
    expect(() => ray.kill(a, bad({ norestart: true }))).toThrow("ray.kill: unknown option 'norestart'. Valid options: noRestart, no_restart");
    expect(await ray.get(ref)).toBe(1);
    expect(await ray.get(a.m.remote())).toBe(1);
    await ray.kill(a, { no_restart: true });
  });
});
