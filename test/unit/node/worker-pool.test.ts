import { WorkerPool, type PoolTimers } from '../../../src/node/worker-pool';
import { DEFAULT_ENV_KEY } from '../../../src/protocol/runtime-env';

interface FakeWorker {
  readonly id: string;
  dead: boolean;
}

/** Timers driven by hand. */
function fakeTimers(): PoolTimers & { now: number; advance(ms: number): void; pending(): number } {
  let now = 0;
  let next = 1;
  const timers = new Map<number, { at: number; fn: () => void }>();
  return {
    get now() {
      return now;
    },
    set: (fn, ms) => {
      const h = next++;
      timers.set(h, { at: now + ms, fn });
      return h;
    },
    clear: (h) => void timers.delete(h as number),
    advance(ms) {
      now += ms;
      for (const [h, t] of [...timers]) {
        if (t.at <= now) {
          timers.delete(h);
          t.fn();
        }
      }
    },
    pending: () => timers.size,
  };
}

const w = (id: string): FakeWorker => ({ id, dead: false });

describe('WorkerPool', () => {
  it('hands out idle workers of the same env only, most recently used first', () => {
    const pool = new WorkerPool<FakeWorker>({ idleTimeoutMs: 1000, reap: () => undefined, timers: fakeTimers() });
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

  it('skips dead workers', () => {
    const pool = new WorkerPool<FakeWorker>({ idleTimeoutMs: 1000, reap: () => undefined, timers: fakeTimers() });
    const [a, b] = [w('a'), w('b')];
    pool.put(DEFAULT_ENV_KEY, a);
    pool.put(DEFAULT_ENV_KEY, b);
    b.dead = true;
    expect(pool.take(DEFAULT_ENV_KEY)).toBe(a);
    expect(pool.size(DEFAULT_ENV_KEY)).toBe(0);
    pool.put(DEFAULT_ENV_KEY, b);
    expect(pool.size(DEFAULT_ENV_KEY)).toBe(0);
  });

  it('reaps idle workers of a non-default env after the timeout; the default env is kept', () => {
    const timers = fakeTimers();
    const reaped: string[] = [];
    const pool = new WorkerPool<FakeWorker>({ idleTimeoutMs: 1000, reap: (x) => reaped.push(x.id), timers });
    pool.put(DEFAULT_ENV_KEY, w('d'));
    pool.put('env', w('e'));
    timers.advance(999);
    expect(reaped).toEqual([]);
    timers.advance(1);
    expect(reaped).toEqual(['e']);
    expect(pool.size('env')).toBe(0);
    timers.advance(60_000);
    expect(reaped).toEqual(['e']);
    expect(pool.size(DEFAULT_ENV_KEY)).toBe(1);
  });

  it('taking a worker cancels its reaping; putting it back restarts the clock', () => {
    const timers = fakeTimers();
    const reaped: string[] = [];
    const pool = new WorkerPool<FakeWorker>({ idleTimeoutMs: 1000, reap: (x) => reaped.push(x.id), timers });
    const e = w('e');
    pool.put('env', e);
    timers.advance(800);
    expect(pool.take('env')).toBe(e);
    expect(timers.pending()).toBe(0);
    timers.advance(800);
    pool.put('env', e);
    timers.advance(800);
    expect(reaped).toEqual([]);
    timers.advance(200);
    expect(reaped).toEqual(['e']);
  });

  it('remove() forgets a worker and its timer; drain() empties the pool', () => {
    const timers = fakeTimers();
    const reaped: string[] = [];
    const pool = new WorkerPool<FakeWorker>({ idleTimeoutMs: 1000, reap: (x) => reaped.push(x.id), timers });
    const [a, b, c] = [w('a'), w('b'), w('c')];
    pool.put('env', a);
    pool.put('env', b);
    pool.put(DEFAULT_ENV_KEY, c);
    pool.remove('env', a);
    expect(pool.size('env')).toBe(1);
    expect(pool.drain().map((x) => x.id).sort()).toEqual(['b', 'c']);
    expect(timers.pending()).toBe(0);
    timers.advance(5000);
    expect(reaped).toEqual([]);
    expect(pool.take('env')).toBeUndefined();
  });

  it('uses unref()d real timers by default (nothing holds the process open)', () => {
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
