/**
 * Generators: numReturns 'streaming' (the default for generator functions and methods) and
 * 'dynamic', on the embedded default with real worker processes.
 * Ports of Ray's test_streaming_generator.py / test_generators.py cases, named below.
 */
import { firstValueFrom, lastValueFrom, toArray } from 'rxjs';
import type * as Ray from '../../src/index';
import { waitUntil } from '../support/wait-until';

const ray: typeof Ray = require('raybus');

const count = ray.remote(function* (n: number) {
  for (let i = 0; i < n; i++) yield i;
});

const failAfter = ray.remote(async function* (n: number) {
  for (let i = 0; i < n; i++) yield `v${i}`;
  throw new RangeError(`failed after ${n}`);
});

/** Yields 0, 1, 2, … every 5 ms, until cancelled. */
const endless = ray.remote(async function* () {
  for (let i = 0; ; i++) {
    await new Promise((r) => setTimeout(r, 5));
    yield i;
  }
});

async function drain<T>(gen: AsyncIterable<Ray.ObjectRef<T>>): Promise<Array<T | string>> {
  const out: Array<T | string> = [];
  for await (const ref of gen) {
    try {
      out.push(await ray.get(ref, { timeoutMs: 20000 }));
    } catch (e) {
      out.push(`error:${(e as Error).name}:${((e as Error).cause as Error | undefined)?.message ?? (e as Error).message}`);
    }
  }
  return out;
}

beforeAll(async () => {
  await ray.init({ numCpus: 4 });
});

afterAll(async () => {
  await ray.shutdown();
});

describe('streaming generators', () => {
  // Ray: test_streaming_generator.py::test_streaming_generator_basic (order)
  test('yields refs in order; next() keeps returning done at the end', async () => {
    const gen = count.remote(5);
    expect(gen).toBeInstanceOf(ray.ObjectRefGenerator);
    expect(await drain(gen)).toEqual([0, 1, 2, 3, 4]);
    expect((await gen.next()).done).toBe(true);
    expect((await gen.next()).done).toBe(true);
  });

  test('next() by hand and completed()', async () => {
    const gen = count.remote(2);
    const a = await gen.next();
    expect(a.done).toBe(false);
    expect(await ray.get(a.value!)).toBe(0);
    expect(await ray.get(gen.completed(), { timeoutMs: 20000 })).toBeNull();
    expect(await ray.get((await gen.next()).value!)).toBe(1);
    expect((await gen.next()).done).toBe(true);
  });

  // Ray: test_streaming_generator.py::test_streaming_generator_exception
  test('an error after k yields is item k+1, then the stream ends', async () => {
    const gen = failAfter.remote(2);
    expect(await drain(gen)).toEqual(['v0', 'v1', 'error:RayTaskError(RangeError):failed after 2']);
    expect((await gen.next()).done).toBe(true);
    await expect(ray.get(gen.completed())).rejects.toBeInstanceOf(ray.RayTaskError);
  });

  test('asObservable emits the values and errors where the generator threw', async () => {
    expect(await lastValueFrom(count.remote(3).asObservable().pipe(toArray()))).toEqual([0, 1, 2]);
    const err = await lastValueFrom(failAfter.remote(1).asObservable().pipe(toArray())).catch((e: Error) => e);
    expect(err).toBeInstanceOf(RangeError);
  });

  test('ray.get of a generator is refused', () => {
    expect(() => ray.get(count.remote(1) as never)).toThrow(TypeError);
  });

  // Ray: test_streaming_generator.py::test_generator_wait
  test('wait accepts generators mixed with refs', async () => {
    const slow = ray.remote(async function* () {
      await new Promise((r) => setTimeout(r, 50));
      yield 1;
    });
    const gen = slow.remote();
    const plain = ray.put(42);
    const [ready, notReady] = await ray.wait<unknown, Ray.ObjectRef<unknown> | Ray.ObjectRefGenerator<unknown>>([gen, plain], { numReturns: 2, timeoutMs: 20000 });
    expect(ready).toEqual([gen, plain]);
    expect(notReady).toEqual([]);
    expect(await drain(gen)).toEqual([1]);
  });

  // Ray: test_streaming_generator.py cancel cases
  test('cancel stops the producer: a cancellation error, then the end', async () => {
    const gen = endless.remote();
    expect(await ray.get((await gen.next()).value!)).toBe(0);
    await ray.cancel(gen);
    const rest = await drain(gen);
    expect(rest[rest.length - 1]).toMatch(/^error:TaskCancelledError/);
    expect((await gen.next()).done).toBe(true);
  });

  test('leaving a for-await loop early (break, or a throw) cancels the producer, as ending a loop over a Node stream does', async () => {
    const gen = endless.remote();
    const seen: number[] = [];
    for await (const ref of gen) {
      seen.push(await ray.get(ref));
      if (seen.length === 3) break;
    }
    expect(seen).toEqual([0, 1, 2]);
    // The endless task ended: cancelled.
    await expect(ray.get(gen.completed(), { timeoutMs: 20_000 })).rejects.toBeInstanceOf(ray.TaskCancelledError);
    expect((await gen.next()).done).toBe(true);

    const other = endless.remote();
    await expect(
      (async () => {
        for await (const ref of other) if ((await ray.get(ref)) === 1) throw new Error('consumer gave up');
      })(),
    ).rejects.toThrow('consumer gave up');
    await expect(ray.get(other.completed(), { timeoutMs: 20_000 })).rejects.toBeInstanceOf(ray.TaskCancelledError);

    // An actor's generator method too; the actor goes on.
    const Ticker = ray.remote(
      class Ticker {
        async *ticks() {
          for (let i = 0; ; i++) {
            await new Promise((r) => setTimeout(r, 5));
            yield i;
          }
        }
        ping() {
          return 'pong';
        }
      },
    );
    const t = Ticker.remote();
    const ticks = t.ticks.remote();
    for await (const ref of ticks) if ((await ray.get(ref)) === 2) break;
    await expect(ray.get(ticks.completed(), { timeoutMs: 20_000 })).rejects.toBeInstanceOf(ray.TaskCancelledError);
    expect(await ray.get(t.ping.remote())).toBe('pong');
  });

  test('actor methods stream too (sync and async generator methods)', async () => {
    const A = ray.remote(
      class A {
        prefix = 'x';
        *items(n: number) {
          for (let i = 0; i < n; i++) yield `${this.prefix}${i}`;
        }
        async *later(n: number) {
          for (let i = 0; i < n; i++) yield i * 2;
        }
      },
    );
    const a = A.remote();
    expect(await drain(a.items.remote(3))).toEqual(['x0', 'x1', 'x2']);
    expect(await drain(a.later.remote(3))).toEqual([0, 2, 4]);
  });

  test('a worker crash mid-stream is retried without duplicating delivered items', async () => {
    const crashy = ray.remote({ maxRetries: 1 })(function* () {
      for (let i = 0; i < 4; i++) {
        if (i === 2 && ray.getRuntimeContext().attempt === 0) process.exit(1);
        yield i;
      }
    });
    expect(await drain(crashy.remote())).toEqual([0, 1, 2, 3]);
  });

  test('a crash with no retries left ends the stream with WorkerCrashedError', async () => {
    const crashy = ray.remote({ maxRetries: 0 })(function* () {
      yield 'first';
      process.exit(1);
    });
    const out = await drain(crashy.remote());
    // As Ray's streaming generators: a system failure surfaces at an arbitrary point (the item in flight may be
    // lost with the process), so N yields give 1..N+1 refs, the last one the error.
    expect(out[out.length - 1]).toMatch(/^error:WorkerCrashedError/);
    expect(out.slice(0, -1)).toEqual(['first'].slice(0, out.length - 1));
  });

  // Ray: test_streaming_generator_backpressure.py::test_streaming_generator_backpressure_basic
  test('backpressure: the producer waits for the consumer', async () => {
    const Recorder = ray.remote(
      class Recorder {
        seen: number[] = [];
        report(i: number) {
          this.seen.push(i);
          return this.seen.length;
        }
        get() {
          return this.seen;
        }
      },
    );
    const rec = Recorder.remote();
    const produce = ray.remote({ backpressure: 1 })(async function* (r: Ray.ActorHandle<{ report(i: number): number }>) {
      for (let i = 0; i < 5; i++) {
        await ray.get(r.report.remote(i));
        yield i;
      }
    });
    const gen = produce.remote(rec as never);
    await waitUntil(async () => (await ray.get(rec.get.remote())).length >= 1);
    // Nothing consumed: with backpressure 1 the producer stops after its first item.
    await new Promise((r) => setTimeout(r, 300));
    expect(await ray.get(rec.get.remote())).toEqual([0]);
    expect(await ray.get((await gen.next()).value!)).toBe(0);
    await waitUntil(async () => (await ray.get(rec.get.remote())).length >= 2);
    await new Promise((r) => setTimeout(r, 300));
    expect(await ray.get(rec.get.remote())).toEqual([0, 1]);
    expect(await drain(gen)).toEqual([1, 2, 3, 4]);
  });

  test('backpressure 0 is refused', () => {
    expect(() => ray.remote({ backpressure: 0 })(function* () {})).toThrow(/backpressure/);
  });
});

describe('dynamic generators', () => {
  // Ray: test_generators.py::test_dynamic_generator
  test("'dynamic' resolves to a synchronously iterable generator of refs", async () => {
    const ref = count.options({ numReturns: 'dynamic' }).remote(3);
    const gen = await ray.get(ref);
    expect(gen).toBeInstanceOf(ray.ObjectRefGenerator);
    expect(await ray.get([...gen])).toEqual([0, 1, 2]);
  });

  test('an error after k yields is the (k+1)-th ref', async () => {
    const gen = await ray.get(failAfter.options({ numReturns: 'dynamic' }).remote(2));
    const refs = [...gen];
    expect(refs).toHaveLength(3);
    expect(await ray.get(refs.slice(0, 2))).toEqual(['v0', 'v1']);
    await expect(ray.get(refs[2]!)).rejects.toBeInstanceOf(RangeError);
  });

  test('the generator can be passed to another task', async () => {
    const sum = ray.remote(async (g: Ray.ObjectRefGenerator<number>) => {
      let total = 0;
      for (const ref of g) total += await ray.get(ref);
      return total;
    });
    const gen = count.options({ numReturns: 'dynamic' }).remote(4);
    expect(await ray.get(sum.remote(gen as never))).toBe(6);
    expect(await firstValueFrom(sum.remote(gen as never).asObservable())).toBe(6);
  });
});

