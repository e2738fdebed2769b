/**
 * Regressions found in review: each case once hung, lost work or crashed a worker.
 */
import type * as Ray from '../../src/index';
import { HitCounter } from '../support/actors';
import { waitUntil } from '../support/wait-until';

const ray: typeof Ray = require('raybus');
const T = { timeoutMs: 20000 };

beforeAll(async () => {
  await ray.init({ numCpus: 2 });
});

afterAll(async () => {
  await ray.shutdown();
});

const slow = ray.remote(async (x: number) => {
  await new Promise((r) => setTimeout(r, 50));
  return x + 1;
});

test('a ref passed straight into another call (no variable holds it) still resolves', async () => {
  expect(await ray.get(slow.remote(slow.remote(slow.remote(1))), T)).toBe(4);
});

test('objects owned by a worker that exited fail with OwnerDiedError instead of hanging', async () => {
  const owner = ray.remote({ maxCalls: 1 })(() => [ray.put(42)]);
  const [inner] = (await ray.get(owner.remote(), T)) as Ray.ObjectRef<number>[];
  await expect(ray.get(inner!, T)).rejects.toBeInstanceOf(ray.OwnerDiedError);
});

test('a retried generator with backpressure does not deadlock', async () => {
  const crashy = ray.remote({ maxRetries: 1, backpressure: 1 })(function* () {
    for (let i = 0; i < 6; i++) {
      if (i === 3 && ray.getRuntimeContext().attempt === 0) process.exit(1);
      yield i;
    }
  });
  const out: number[] = [];
  for await (const ref of crashy.remote()) out.push(await ray.get(ref, T));
  expect(out).toEqual([0, 1, 2, 3, 4, 5]);
});

test("a streaming call to a killed actor ends with the actor's error", async () => {
  const A = ray.remote(
    class A {
      *gen() {
        yield 1;
      }
    },
  );
  const a = A.remote();
  await ray.get(a.__ray_ready__.remote(), T);
  await ray.kill(a);
  const items: string[] = [];
  for await (const ref of a.gen.remote()) items.push(await ray.get(ref, T).then(String, (e: Error) => e.name));
  expect(items).toEqual(['ActorDiedError']);
});

test('a task cancelled while its arguments resolve never runs', async () => {
  const Marker = ray.remote(HitCounter);
  const m = Marker.remote();
  const gate = slow.remote(0);
  const touch = ray.remote((_x: number, h: Ray.ActorHandle<{ hit(): number }>) => ray.get(h.hit.remote()));
  const ref = touch.remote(gate, m as never);
  await ray.cancel(ref);
  await ray.get(gate, T);
  await expect(ray.get(ref, T)).rejects.toBeInstanceOf(ray.TaskCancelledError);
  // One more call through the same actor: if the cancelled task had run, its hit came first.
  expect(await ray.get(m.count.remote(), T)).toBe(0);
});

test('an actor whose constructor argument failed is dead, with the cause', async () => {
  const bad = ray.remote({ maxRetries: 0 })(() => {
    throw new RangeError('no value');
  });
  const A = ray.remote(
    class A {
      constructor(readonly x: number) {}
      get() {
        return this.x;
      }
    },
  );
  const a = A.remote(bad.remote() as never);
  const err = (await ray.get(a.get.remote(), T).catch((e: Error) => e)) as Error;
  expect(err).toBeInstanceOf(ray.ActorDiedError);
  expect(err.message).toContain('no value');
});

test('removing a pending placement group rejects its ready() instead of hanging', async () => {
  const pg = ray.util.placementGroup([{ CPU: 64 }]);
  await ray.util.removePlacementGroup(pg);
  await expect(ray.get(pg.ready(), T)).rejects.toBeInstanceOf(ray.RayError);
});

test('throwing a null-prototype object is a task error, not a worker crash', async () => {
  const weird = ray.remote({ maxRetries: 0 })(() => {
    throw Object.create(null);
  });
  await expect(ray.get(weird.remote(), T)).rejects.toBeInstanceOf(ray.RayTaskError);
});

test('a value above the message limit travels as a blob: an argument, a return value, a put', async () => {
  const saved = process.env.RAYBUS_MAX_MESSAGE_BYTES;
  // The chunk size, not a limit on values (this process sends; its workers answer).
  process.env.RAYBUS_MAX_MESSAGE_BYTES = '1000';
  try {
    const f = ray.remote((b: Uint8Array) => ({ n: b.length, sum: b.reduce((a, x) => a + x, 0) }));
    const big = Uint8Array.from({ length: 50_000 }, (_, i) => i % 251);
    const expected = { n: big.length, sum: big.reduce((a, x) => a + x, 0) };
    expect(await ray.get(f.remote(big), T)).toEqual(expected);
    const ref = ray.put(big);
    expect(await ray.get(f.remote(ref), T)).toEqual(expected);
    const echo = ray.remote((b: Uint8Array) => b);
    expect(Buffer.from((await ray.get(echo.remote(big), T)) as Uint8Array).equals(Buffer.from(big))).toBe(true);
  } finally {
    if (saved === undefined) delete process.env.RAYBUS_MAX_MESSAGE_BYTES;
    else process.env.RAYBUS_MAX_MESSAGE_BYTES = saved;
  }
});

// Ray's "Actor Fault Tolerance" docs: a non-detached actor fate-shares with its owner, here a
// worker that exits.
test('an actor created inside a task dies when that worker exits (its owner)', async () => {
  const makeActor = ray.remote({ maxCalls: 1 })(() => {
    const Inner = ray.remote(
      class Inner {
        ping() {
          return 'pong';
        }
      },
    );
    const h = Inner.remote();
    return ray.get(h.ping.remote()).then(() => [h]);
  });
  const [handle] = (await ray.get(makeActor.remote(), T)) as Array<{ ping: Ray.ActorMethod<() => string> }>;
  // The owner's exit is noticed asynchronously: calls succeed until then, and fail after.
  let err: Error | undefined;
  await waitUntil(async () => {
    err = (await ray.get(handle!.ping.remote(), T).then(() => undefined, (e: Error) => e)) ?? undefined;
    return err !== undefined;
  });
  expect(err).toBeInstanceOf(ray.ActorDiedError);
  expect(err!.message).toMatch(/owner/);
});
