/**
 * Fault tolerance with real crashes: task retries, actor restarts, actor task retries,
 * maxCalls and cancel. Ports of the Ray tests named on each case.
 */
import type * as Ray from '../../src/index';
import { HitCounter } from '../support/actors';
import { waitUntil } from '../support/wait-until';

const ray: typeof Ray = require('raybus');

beforeAll(async () => {
  await ray.init({ numCpus: 2 });
});

afterAll(async () => {
  await ray.shutdown();
});

describe('task retries', () => {
  // Ray: test_failure_2.py::test_retry_system_level_error
  test('a worker crash is retried up to maxRetries, then WorkerCrashedError', async () => {
    const crashOnce = ray.remote((marker: string) => {
      if (ray.getRuntimeContext().attempt === 0) process.exit(1);
      return `${marker}:${ray.getRuntimeContext().attempt}`;
    });
    expect(await ray.get(crashOnce.options({ maxRetries: 1 }).remote('a'))).toBe('a:1');
    await expect(ray.get(crashOnce.options({ maxRetries: 0 }).remote('b'))).rejects.toBeInstanceOf(ray.WorkerCrashedError);
    // The default is 4 retries (the product's specification).
    expect(await ray.get(crashOnce.remote('c'))).toBe('c:1');
  });

  // Ray: test_failure_2.py::test_retry_application_level_error
  test('user errors are retried only with retryExceptions', async () => {
    const failOnce = ray.remote((kind: string) => {
      if (ray.getRuntimeContext().attempt === 0) throw kind === 'range' ? new RangeError('first attempt') : new TypeError('first attempt');
      return ray.getRuntimeContext().attempt + 1;
    });
    expect(await ray.get(failOnce.options({ maxRetries: 1, retryExceptions: true }).remote('range'))).toBe(2);
    await expect(ray.get(failOnce.options({ maxRetries: 0, retryExceptions: true }).remote('range'))).rejects.toBeInstanceOf(RangeError);
    await expect(ray.get(failOnce.options({ maxRetries: 1, retryExceptions: false }).remote('range'))).rejects.toBeInstanceOf(RangeError);
    expect(await ray.get(failOnce.options({ maxRetries: 1, retryExceptions: [RangeError] }).remote('range'))).toBe(2);
    expect(await ray.get(failOnce.options({ maxRetries: 1, retryExceptions: ['TypeError'] }).remote('type'))).toBe(2);
    await expect(ray.get(failOnce.options({ maxRetries: 1, retryExceptions: [RangeError] }).remote('type'))).rejects.toBeInstanceOf(TypeError);
  });

  test('when retries run out the last error is raised', async () => {
    const always = ray.remote({ maxRetries: 2, retryExceptions: true })(() => {
      throw new Error(`attempt ${ray.getRuntimeContext().attempt}`);
    });
    const err = (await ray.get(always.remote()).catch((e: Error) => e)) as Ray.RayTaskError;
    expect((err.cause as Error).message).toBe('attempt 2');
  });
});

const Counter = ray.remote(
  class Counter {
    n = 0;
    inc() {
      return ++this.n;
    }
    pid() {
      return process.pid;
    }
    die() {
      process.exit(1);
    }
    reconstructed() {
      return ray.getRuntimeContext().wasCurrentActorReconstructed;
    }
  },
);

describe('actor restarts', () => {
  // Ray: test_actor_failures.py::test_actor_restart
  test('a crashed actor restarts with fresh state while maxRestarts allows, then dies', async () => {
    const c = Counter.options({ maxRestarts: 1 }).remote();
    expect(await ray.get([c.inc.remote(), c.inc.remote()])).toEqual([1, 2]);
    expect(await ray.get(c.reconstructed.remote())).toBe(false);
    await expect(ray.get(c.die.remote())).rejects.toBeInstanceOf(ray.RayActorError);
    expect(await ray.get(c.inc.remote(), { timeoutMs: 20000 })).toBe(1);
    expect(await ray.get(c.reconstructed.remote())).toBe(true);
    await expect(ray.get(c.die.remote())).rejects.toBeInstanceOf(ray.RayActorError);
    await expect(ray.get(c.inc.remote(), { timeoutMs: 20000 })).rejects.toBeInstanceOf(ray.ActorDiedError);
  });

  test('no restart after kill (unless noRestart: false), __ray_terminate__ or exitActor', async () => {
    const a = Counter.options({ maxRestarts: 5 }).remote();
    await ray.get(a.inc.remote());
    await ray.kill(a);
    await expect(ray.get(a.inc.remote(), { timeoutMs: 20000 })).rejects.toBeInstanceOf(ray.ActorDiedError);

    const b = Counter.options({ maxRestarts: 5 }).remote();
    expect(await ray.get([b.inc.remote(), b.inc.remote()])).toEqual([1, 2]);
    await ray.kill(b, { noRestart: false });
    expect(await ray.get(b.inc.remote(), { timeoutMs: 20000 })).toBe(1);

    const t = Counter.options({ maxRestarts: 5 }).remote();
    await ray.get(t.__ray_terminate__.remote());
    await expect(ray.get(t.inc.remote(), { timeoutMs: 20000 })).rejects.toBeInstanceOf(ray.ActorDiedError);
  });

  // Ray: test_actor_failures.py::test_actor_restart_with_retry
  test('maxTaskRetries -1: queued calls survive a SIGKILL and run on the new incarnation, in order', async () => {
    const Echo = ray.remote(
      class Echo {
        echo(i: number) {
          const until = Date.now() + 5;
          while (Date.now() < until);
          return i;
        }
        pid() {
          return process.pid;
        }
      },
    );
    const e = Echo.options({ maxRestarts: 1, maxTaskRetries: -1 }).remote();
    const pid = (await ray.get(e.pid.remote())) as number;
    const refs = Array.from({ length: 100 }, (_, i) => e.echo.remote(i));
    await ray.get(refs[10]!);
    process.kill(pid, 'SIGKILL');
    expect(await ray.get(refs, { timeoutMs: 30000 })).toEqual(Array.from({ length: 100 }, (_, i) => i));
    const pid2 = (await ray.get(e.pid.remote())) as number;
    expect(pid2).not.toBe(pid);
    process.kill(pid2, 'SIGKILL');
    await expect(ray.get(e.echo.remote(1), { timeoutMs: 20000 })).rejects.toBeInstanceOf(ray.RayActorError);
  });
});

describe('maxCalls', () => {
  // Ray: test_basic.py::test_background_tasks_with_max_calls
  test('a worker exits after maxCalls runs; its results stay valid', async () => {
    const pid = ray.remote({ maxCalls: 2 })(() => process.pid);
    const pids = (await ray.get(Array.from({ length: 6 }, () => pid.remote()))) as number[];
    const counts = new Map<number, number>();
    for (const p of pids) counts.set(p, (counts.get(p) ?? 0) + 1);
    expect(Math.max(...counts.values())).toBeLessThanOrEqual(2);
    expect(counts.size).toBeGreaterThanOrEqual(3);
    const putter = ray.remote({ maxCalls: 1 })(() => ray.put('kept'));
    void putter;
  });
});

describe('cancel', () => {
  const blocker = ray.remote(async (ms: number) => {
    await new Promise((r) => setTimeout(r, ms));
    return 'done';
  });

  // Ray: test_cancel.py::test_cancel_chain / basics
  test('a queued task never runs; dependents fail; cancelled tasks are not retried', async () => {
    const busy = [blocker.remote(1500), blocker.remote(1500)];
    const Marker = ray.remote(HitCounter);
    const m = Marker.remote();
    const queued = ray.remote({ maxRetries: 5 })((h: Ray.ActorHandle<{ hit(): number }>) => ray.get(h.hit.remote())).remote(m as never);
    const dependent = ray.remote((x: unknown) => x).remote(queued);
    await ray.cancel(queued);
    await expect(ray.get(queued)).rejects.toBeInstanceOf(ray.TaskCancelledError);
    await expect(ray.get(dependent, { timeoutMs: 20000 })).rejects.toBeInstanceOf(ray.RayTaskError);
    await ray.get(busy);
    expect(await ray.get(m.count.remote())).toBe(0);
  });

  test('a running task sees its AbortSignal fire', async () => {
    const Seen = ray.remote(
      class Seen {
        value = 'none';
        set(v: string) {
          this.value = v;
        }
        get() {
          return this.value;
        }
      },
    );
    const seen = Seen.remote();
    const watcher = ray.remote(async (s: Ray.ActorHandle<{ set(v: string): void }>) => {
      const signal = ray.getRuntimeContext().signal!;
      await ray.get(s.set.remote('started'));
      // The driver may cancel as soon as it sees 'started', before this get returns: the
      // signal is then aborted already (an 'abort' listener added now would never run).
      if (!signal.aborted) await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve()));
      await ray.get(s.set.remote(`aborted:${(signal.reason as Error).name}`));
    });
    const ref = watcher.remote(seen as never);
    await waitUntil(async () => (await ray.get(seen.get.remote())) === 'started');
    await ray.cancel(ref);
    await expect(ray.get(ref)).rejects.toBeInstanceOf(ray.TaskCancelledError);
    await waitUntil(async () => (await ray.get(seen.get.remote())) === 'aborted:TaskCancelledError');
  });

  test('force kills the worker; a finished task is unaffected; bad input throws', async () => {
    const stuck = ray.remote({ maxRetries: 3 })(() => {
      for (;;);
    });
    const ref = stuck.remote();
    await new Promise((r) => setImmediate(r));
    await ray.cancel(ref, { force: true });
    await expect(ray.get(ref)).rejects.toBeInstanceOf(ray.TaskCancelledError);
    const done = blocker.remote(1);
    expect(await ray.get(done)).toBe('done');
    await ray.cancel(done);
    expect(await ray.get(done)).toBe('done');
    expect(() => ray.cancel('nope' as never)).toThrow(TypeError);
    const a = Counter.remote();
    expect(() => ray.cancel(a.inc.remote(), { force: true })).toThrow(/force/);
  });

  test('a queued actor call is removed from the mailbox', async () => {
    const Slow = ray.remote(
      class Slow {
        ran: number[] = [];
        work(i: number) {
          const until = Date.now() + 200;
          while (Date.now() < until);
          this.ran.push(i);
        }
        log() {
          return this.ran;
        }
      },
    );
    const s = Slow.remote();
    await ray.get(s.__ray_ready__.remote());
    const first = s.work.remote(1);
    const second = s.work.remote(2);
    await ray.cancel(second);
    await ray.get(first);
    await expect(ray.get(second)).rejects.toBeInstanceOf(ray.TaskCancelledError);
    expect(await ray.get(s.log.remote())).toEqual([1]);
  });
});

