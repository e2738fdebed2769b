import { WorkerPool } from '../../../src/node/worker-pool';
import { SimulatedClock } from '../../../src/util/simulated-clock';
import { DEFAULT_ENV_KEY } from '../../../src/protocol/runtime-env';

interface FakeWorker {
  readonly id: string;
  dead: boolean;
  used?: boolean;
}

const w = (id: string, used = false): FakeWorker => ({ id, dead: false, used });

describe('WorkerPool', () => {
  it('hands out idle workers of the same env only, most recently used first', async () => {
    const pool = new WorkerPool<FakeWorker>({ idleTimeoutMs: 1000, reap: () => undefined, clock: new SimulatedClock() });
    const [a, b, c] = [w('a'), w('b'), w('c')];
    pool.put('env1', a);
    pool.put('env1', b);
    pool.put('env2', c);
    expect(pool.take('env3')).toBeUndefined();
    expect(pool.take('env1')).toBe(b);
    expect(pool.take('env1')).toBe(a);
    expect(pool.take('env1')).toBeUndefined();
    expect(pool.take('env2')).toBe(c);
  });

  it('skips dead workers', async () => {
    const pool = new WorkerPool<FakeWorker>({ idleTimeoutMs: 1000, reap: () => undefined, clock: new SimulatedClock() });
    const [a, b] = [w('a'), w('b')];
    pool.put(DEFAULT_ENV_KEY, a);
    pool.put(DEFAULT_ENV_KEY, b);
    b.dead = true;
    expect(pool.take(DEFAULT_ENV_KEY)).toBe(a);
    expect(pool.size(DEFAULT_ENV_KEY)).toBe(0);
    pool.put(DEFAULT_ENV_KEY, b);
    expect(pool.size(DEFAULT_ENV_KEY)).toBe(0);
  });

  it('reaps idle workers of a non-default env after the timeout; the default env is kept', async () => {
    const clock = new SimulatedClock();
    const reaped: string[] = [];
    const pool = new WorkerPool<FakeWorker>({ idleTimeoutMs: 1000, reap: (x) => reaped.push(x.id), clock });
    pool.put(DEFAULT_ENV_KEY, w('d'));
    pool.put('env', w('e'));
    await clock.advance(999);
    expect(reaped).toEqual([]);
    await clock.advance(1);
    expect(reaped).toEqual(['e']);
    expect(pool.size('env')).toBe(0);
    await clock.advance(60_000);
    expect(reaped).toEqual(['e']);
    expect(pool.size(DEFAULT_ENV_KEY)).toBe(1);
  });

  it('with keepIdle, reaps idle workers of the default env down to keepIdle, longest idle first', async () => {
    const clock = new SimulatedClock();
    const reaped: string[] = [];
    const pool = new WorkerPool<FakeWorker>({ idleTimeoutMs: 1000, keepIdle: 1, reap: (x) => reaped.push(x.id), clock });
    pool.put(DEFAULT_ENV_KEY, w('a'));
    await clock.advance(100);
    pool.put(DEFAULT_ENV_KEY, w('b'));
    pool.put(DEFAULT_ENV_KEY, w('c'));
    await clock.advance(899);
    expect(reaped).toEqual([]);
    await clock.advance(1);
    expect(reaped).toEqual(['a']);
    await clock.advance(100);
    expect(reaped).toEqual(['a', 'b']);
    await clock.advance(60_000);
    expect(reaped).toEqual(['a', 'b']);
    expect(pool.take(DEFAULT_ENV_KEY)?.id).toBe('c');
  });

  it('a lease takes the most recent used worker first, an actor only a fresh one', async () => {
    const pool = new WorkerPool<FakeWorker>({ idleTimeoutMs: 1000, reap: () => undefined, clock: new SimulatedClock() });
    const [u1, f1, u2, f2] = [w('u1', true), w('f1'), w('u2', true), w('f2')];
    for (const x of [u1, f1, u2, f2]) pool.put(DEFAULT_ENV_KEY, x);
    expect(pool.fresh(DEFAULT_ENV_KEY)).toBe(2);
    expect(pool.take(DEFAULT_ENV_KEY, 'actor')).toBe(f2);
    expect(pool.take(DEFAULT_ENV_KEY, 'lease')).toBe(u2);
    expect(pool.take(DEFAULT_ENV_KEY)).toBe(u1);
    // No used one left: a lease takes a fresh one.
    expect(pool.take(DEFAULT_ENV_KEY, 'lease')).toBe(f1);
    pool.put(DEFAULT_ENV_KEY, u1);
    // An actor never takes a used worker, nor a dead fresh one.
    const f3 = w('f3');
    pool.put(DEFAULT_ENV_KEY, f3);
    f3.dead = true;
    expect(pool.take(DEFAULT_ENV_KEY, 'actor')).toBeUndefined();
    expect(pool.size(DEFAULT_ENV_KEY)).toBe(1);
    expect(pool.take(DEFAULT_ENV_KEY, 'lease')).toBe(u1);
  });

  it('with keepIdle, used workers are reaped after the timeout; fresh ones are kept down to keepIdle', async () => {
    const clock = new SimulatedClock();
    const reaped: string[] = [];
    const pool = new WorkerPool<FakeWorker>({ idleTimeoutMs: 1000, keepIdle: 2, reap: (x) => reaped.push(x.id), clock });
    pool.put(DEFAULT_ENV_KEY, w('f1'));
    pool.put(DEFAULT_ENV_KEY, w('u1', true));
    await clock.advance(100);
    pool.put(DEFAULT_ENV_KEY, w('f2'));
    pool.put(DEFAULT_ENV_KEY, w('f3'));
    await clock.advance(900);
    // f1 is one fresh worker too many; u1 has run work.
    expect(reaped).toEqual(['f1', 'u1']);
    await clock.advance(60_000);
    expect(reaped).toEqual(['f1', 'u1']);
    expect(pool.fresh(DEFAULT_ENV_KEY)).toBe(2);
    // Alone in the pool, a used worker still goes.
    expect(pool.take(DEFAULT_ENV_KEY, 'actor')?.id).toBe('f3');
    expect(pool.take(DEFAULT_ENV_KEY, 'actor')?.id).toBe('f2');
    pool.put(DEFAULT_ENV_KEY, w('u2', true));
    await clock.advance(1000);
    expect(reaped).toEqual(['f1', 'u1', 'u2']);
  });

  it('taking a worker cancels its reaping; putting it back restarts the clock', async () => {
    const clock = new SimulatedClock();
    const reaped: string[] = [];
    const pool = new WorkerPool<FakeWorker>({ idleTimeoutMs: 1000, reap: (x) => reaped.push(x.id), clock });
    const e = w('e');
    pool.put('env', e);
    await clock.advance(800);
    expect(pool.take('env')).toBe(e);
    expect(clock.pending).toBe(0);
    await clock.advance(800);
    pool.put('env', e);
    await clock.advance(800);
    expect(reaped).toEqual([]);
    await clock.advance(200);
    expect(reaped).toEqual(['e']);
  });

  it('remove() forgets a worker and its timer; drain() empties the pool', async () => {
    const clock = new SimulatedClock();
    const reaped: string[] = [];
    const pool = new WorkerPool<FakeWorker>({ idleTimeoutMs: 1000, reap: (x) => reaped.push(x.id), clock });
    const [a, b, c] = [w('a'), w('b'), w('c')];
    pool.put('env', a);
    pool.put('env', b);
    pool.put(DEFAULT_ENV_KEY, c);
    pool.remove('env', a);
    expect(pool.size('env')).toBe(1);
    expect(pool.drain().map((x) => x.id).sort()).toEqual(['b', 'c']);
    expect(clock.pending).toBe(0);
    await clock.advance(5000);
    expect(reaped).toEqual([]);
    expect(pool.take('env')).toBeUndefined();
  });

  it('putting a worker that is already idle changes nothing (a prestarted worker pooled while it starts)', async () => {
    const clock = new SimulatedClock();
    const reaped: string[] = [];
    const pool = new WorkerPool<FakeWorker>({ idleTimeoutMs: 1000, reap: (x) => reaped.push(x.id), clock });
    const e = w('e');
    pool.put('env', e);
    await clock.advance(600);
    pool.put('env', e);
    expect(pool.size('env')).toBe(1);
    expect(clock.pending).toBe(1);
    // The first put's timer still runs: being pooled again does not extend an idle worker's life.
    await clock.advance(400);
    expect(reaped).toEqual(['e']);
    expect(pool.take('env')).toBeUndefined();
  });

  it('uses unref()d real timers by default (nothing holds the process open)', async () => {
    jest.useFakeTimers();
    try {
      const reaped: string[] = [];
      const pool = new WorkerPool<FakeWorker>({ idleTimeoutMs: 50, reap: (x) => reaped.push(x.id) });
      pool.put('env', w('e'));
      jest.advanceTimersByTime(50);
      expect(reaped).toEqual(['e']);
    } finally {
      jest.useRealTimers();
    }
  });
});
