/**
 * Remote functions end to end on the embedded default: forms, options, numReturns, nested
 * tasks, ObjectRef arguments, dependency failures and value round-trips.
 *
 * Remote functions here use only their arguments, globals, `ray` and `require`, so they are
 * shipped to the workers by value.
 */
import type * as Ray from '../../src/index';

// The built package, as users meet it (jest maps 'raybus' to dist/). TypeScript's node10
// resolution cannot see the package's self-reference, so the types come from src; a plain
// `require` keeps the name `ray` in compiled remote functions, where workers provide it.
const ray: typeof Ray = require('raybus');

beforeAll(async () => {
  await ray.init({ numCpus: 4 });
});

afterAll(async () => {
  await ray.shutdown();
});

describe('forms of ray.remote', () => {
  // Ray: test_basic.py::test_submit_api (decorator forms)
  test('remote(fn) and remote(options)(fn) both give a remote function', async () => {
    const add = ray.remote((a: number, b: number, c: number) => a + b + c);
    const mul = ray.remote({ numCpus: 1, maxRetries: 0 })((a: number, b: number) => a * b);
    expect(await ray.get(add.remote(1, 2, 3))).toBe(6);
    expect(await ray.get(mul.remote(6, 7))).toBe(42);
  });

  test('remote(fn, options), remote() and a non-function target throw TypeError', () => {
    const r = ray.remote as unknown as (...a: unknown[]) => unknown;
    expect(() => r((x: number) => x, { numCpus: 1 })).toThrow(TypeError);
    expect(() => r()).toThrow(TypeError);
    expect(() => (r({ numCpus: 1 }) as (t: unknown) => unknown)(42)).toThrow(TypeError);
    expect(() => (r({ numCpus: 1 }) as (t: unknown) => unknown)('not a function')).toThrow(TypeError);
  });

  test('calling a remote function directly throws a TypeError that mentions .remote()', () => {
    const add = ray.remote((a: number, b: number) => a + b);
    const direct = add as unknown as (a: number, b: number) => number;
    expect(() => direct(1, 2)).toThrow(TypeError);
    expect(() => direct(1, 2)).toThrow(/\.remote\(\)/);
  });
});

describe('options', () => {
  test('.options() merges (including _metadata per key) and leaves the original unchanged', async () => {
    const meta = ray.remote({ _metadata: { lib: { a: 1 } }, numReturns: 2 })(() => [ray.getRuntimeContext().metadata, 'x']);
    const merged = meta.options({ _metadata: { lib: { b: 2 }, other: { c: 3 } } });
    const [mergedMeta] = merged.remote() as unknown as Ray.ObjectRef<unknown>[];
    expect(await ray.get(mergedMeta!)).toEqual({ lib: { a: 1, b: 2 }, other: { c: 3 } });
    // numReturns: 2 carried over by the merge; the original still has its own _metadata.
    const orig = meta.remote() as unknown as Ray.ObjectRef<unknown>[];
    expect(Array.isArray(orig)).toBe(true);
    expect(orig).toHaveLength(2);
    expect(await ray.get(orig[0]!)).toEqual({ lib: { a: 1 } });
    // Overriding numReturns on the copy does not change the original.
    const single = meta.options({ numReturns: 1 }).remote() as unknown as Ray.ObjectRef<unknown>;
    expect(single).toBeInstanceOf(ray.ObjectRef);
    expect(await ray.get(single)).toEqual([{ lib: { a: 1 } }, 'x']);
    expect(meta.remote() as unknown as unknown[]).toHaveLength(2);
  });

  test('.options({ maxCalls }) throws (maxCalls cannot be overridden)', () => {
    const f = ray.remote((x: number) => x);
    expect(() => f.options({ maxCalls: 1 })).toThrow(/max_?calls/i);
  });

  test('invalid options throw synchronously naming the option', () => {
    const fn = (x: number) => x;
    expect(() => ray.remote({ numCpus: -1 })(fn)).toThrow(/numCpus|num_cpus/);
    // A typo does not compile (test/types); untyped callers get the error at run time.
    // @ts-expect-error unknown option
    expect(() => ray.remote({ numCpu: 1 })(fn)).toThrow(/numCpu/);
    const f = ray.remote(fn);
    expect(() => f.options({ numCpus: -1 })).toThrow(/numCpus|num_cpus/);
    // @ts-expect-error unknown option
    expect(() => f.options({ numCpu: 2 })).toThrow(/numCpu/);
  });
});

describe('numReturns', () => {
  // Ray: test_basic.py::test_submit_api (num_returns=0 returns None)
  test('numReturns 0 → .remote() returns null', async () => {
    const f = ray.remote({ numReturns: 0 })(() => 'ignored');
    expect(f.remote()).toBeNull();
    // The task still ran: the worker pool is usable afterwards.
    const g = ray.remote(() => 1);
    expect(await ray.get(g.remote())).toBe(1);
  });

  test('numReturns 2 → an array of 2 refs holding the two values', async () => {
    const f = ray.remote({ numReturns: 2 })((a: number) => [a, a * 10]);
    const refs = f.remote(4) as unknown as Ray.ObjectRef<number>[];
    expect(Array.isArray(refs)).toBe(true);
    expect(refs).toHaveLength(2);
    expect(await ray.get(refs)).toEqual([4, 40]);
  });

  // Ray: test_basic.py::test_submit_api (returned length != num_returns → error in every ref)
  test('a return value of the wrong length rejects every ref with RayTaskError', async () => {
    const three = ray.remote(() => [0, 1, 2]);
    const refs = three.options({ numReturns: 2 }).remote() as unknown as Ray.ObjectRef<number>[];
    for (const r of refs) {
      const err = await ray.get(r).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(ray.RayTaskError);
    }
    const two = ray.remote(() => [0, 1]);
    const refs3 = two.options({ numReturns: 3 }).remote() as unknown as Ray.ObjectRef<number>[];
    expect(refs3).toHaveLength(3);
    for (const r of refs3) await expect(ray.get(r)).rejects.toBeInstanceOf(ray.RayTaskError);
  });
});

describe('task bodies', () => {
  test('async functions are awaited', async () => {
    const f = ray.remote(async (x: number) => {
      await new Promise((r) => setTimeout(r, 10));
      return x + 1;
    });
    expect(await ray.get(f.remote(41))).toBe(42);
  });

  test('nested tasks: a task submits tasks, puts, waits, creates an actor and calls it', async () => {
    const outer = ray.remote(async (n: number) => {
      const sq = ray.remote((x: number) => x * x);
      const refs = [1, 2, 3].map((i) => sq.remote(i + n));
      const [ready, notReady] = await ray.wait(refs, { numReturns: 3, timeoutMs: 20000 });
      const stored = ray.put({ hello: 'world' });
      const Counter = ray.remote(
        class Counter {
          n = 0;
          inc(by: number) {
            return (this.n += by);
          }
        },
      );
      const c = Counter.remote();
      await ray.get(c.inc.remote(5));
      const total = await ray.get(c.inc.remote(2));
      return { squares: await ray.get(refs), ready: ready.length, notReady: notReady.length, stored: await ray.get(stored), total };
    });
    expect(await ray.get(outer.remote(1), { timeoutMs: 25000 })).toEqual({
      squares: [4, 9, 16],
      ready: 3,
      notReady: 0,
      stored: { hello: 'world' },
      total: 7,
    });
  });
});

describe('ObjectRef arguments', () => {
  test('top-level refs are resolved; refs nested in an array arrive as refs', async () => {
    const inspect = ray.remote(async (top: unknown, nested: unknown[]) => {
      const inner = nested[0];
      return {
        topIsRef: top instanceof ray.ObjectRef,
        top,
        innerIsRef: inner instanceof ray.ObjectRef,
        innerValue: await ray.get(inner as Ray.ObjectRef<unknown>),
      };
    });
    const a = ray.put(10);
    const b = ray.put('deep');
    expect(await ray.get(inspect.remote(a, [b]))).toEqual({ topIsRef: false, top: 10, innerIsRef: true, innerValue: 'deep' });
    const producer = ray.remote((x: number) => x * 3);
    const consumer = ray.remote((x: number) => x + 1);
    expect(await ray.get(consumer.remote(producer.remote(5)))).toBe(16);
  });

  test('a failed dependency fails the dependent with RayTaskError whose cause is the original error', async () => {
    const bad = ray.remote(() => {
      throw new RangeError('upstream exploded');
    });
    const dependent = ray.remote((x: unknown) => ({ ran: true, x }));
    const err = (await ray.get(dependent.remote(bad.remote())).then(
      () => undefined,
      (e: unknown) => e,
    )) as Ray.RayTaskError;
    expect(err).toBeInstanceOf(ray.RayTaskError);
    const cause = err.cause as Error;
    expect(cause).toBeDefined();
    expect(cause.name).toBe('RangeError');
    expect(cause.message).toBe('upstream exploded');
  });

  test('an unserializable argument throws TypeError at .remote() naming its path', () => {
    const f = ray.remote((x: unknown) => x);
    expect(() => f.remote({ cb: () => 1 } as unknown)).toThrow(TypeError);
    expect(() => f.remote({ cb: () => 1 } as unknown)).toThrow(/args\[0\]\.cb/);
    const g = ray.remote((_a: unknown, _b: unknown) => null);
    expect(() => g.remote(1, { deep: { fn: Symbol('s') } } as unknown)).toThrow(/args\[1\]\.deep\.fn/);
  });
});

describe('values round-trip', () => {
  test('Map, Set, Date, BigInt, undefined, Uint8Array, nested objects and Error', async () => {
    const echo = ray.remote((v: unknown) => v);
    const value = {
      map: new Map<string, number>([
        ['a', 1],
        ['b', 2],
      ]),
      set: new Set([1, 'two', 3]),
      date: new Date('2024-01-02T03:04:05.678Z'),
      big: 12345678901234567890n,
      undef: undefined,
      bytes: new Uint8Array([1, 2, 255]),
      nested: { arr: [1, [2, { three: 3 }]], s: 'str', n: null, f: 1.5 },
    };
    const back = (await ray.get(echo.remote(value))) as typeof value;
    expect(back.map).toBeInstanceOf(Map);
    expect([...back.map]).toEqual([
      ['a', 1],
      ['b', 2],
    ]);
    expect(back.set).toBeInstanceOf(Set);
    expect([...back.set]).toEqual([1, 'two', 3]);
    expect(back.date).toBeInstanceOf(Date);
    expect(back.date.toISOString()).toBe('2024-01-02T03:04:05.678Z');
    expect(back.big).toBe(12345678901234567890n);
    expect('undef' in back).toBe(true);
    expect(back.undef).toBeUndefined();
    expect(back.bytes).toBeInstanceOf(Uint8Array);
    expect([...back.bytes]).toEqual([1, 2, 255]);
    expect(back.nested).toEqual(value.nested);
    expect(await ray.get(echo.remote(undefined))).toBeUndefined();

    const err = (await ray.get(echo.remote(new TypeError('as a value')))) as Error;
    expect(err).toBeInstanceOf(Error);
    expect(err.message).toBe('as a value');
    expect(err.name).toBe('TypeError');
  });

  test('arguments are copied at submission', async () => {
    const echo = ray.remote((v: { n: number }) => v.n);
    const obj = { n: 1 };
    const ref = echo.remote(obj);
    obj.n = 2;
    expect(await ray.get(ref)).toBe(1);
  });
});
