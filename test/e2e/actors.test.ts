/**
 * Actors end to end on the embedded default: forms, state and ordering, concurrency, failures,
 * kill / exit / terminate, named actors and namespaces, handles as values, pending-call limits
 * and per-method numReturns.
 */
import type * as Ray from '../../src/index';

// The built package (jest maps 'raybus' to dist/); see remote-functions.test.ts for why
// `require` is used.
const ray: typeof Ray = require('raybus');
const { RemotePair } = require('../fixtures/method-wrapper') as {
  RemotePair: { remote(prefix: string): { split: Ray.ActorMethod<() => [string, string]>; count: Ray.ActorMethod<() => number> } };
};

const Counter = ray.remote(
  class Counter {
    n: number;
    constructor(start = 0) {
      this.n = start;
    }
    inc(by = 1) {
      return (this.n += by);
    }
    read() {
      return this.n;
    }
    pair() {
      return [this.n, this.n + 1];
    }
  },
);

/** The instance shape of Counter, for typing handles from getActor. */
interface CounterApi {
  n: number;
  inc(by?: number): number;
  read(): number;
  pair(): number[];
}

const T = { timeoutMs: 20000 };

/** The rejection reason of a promise (fails the test if it fulfils). */
async function rejectionOf(p: Promise<unknown>): Promise<Error> {
  return p.then(
    (v) => {
      throw new Error(`expected a rejection, got ${String(v)}`);
    },
    (e: unknown) => e as Error,
  );
}

beforeAll(async () => {
  await ray.init({ numCpus: 4 });
});

afterAll(async () => {
  await ray.shutdown();
});

describe('actor classes and handles', () => {
  test('remote(Class) and remote(options)(Class) create actors; __ray_ready__ is true', async () => {
    const c = Counter.remote(10);
    expect(await ray.get(c.__ray_ready__.remote(), T)).toBe(true);
    expect(await ray.get(c.inc.remote(5), T)).toBe(15);
    const Acc = ray.remote({ numCpus: 0, maxRestarts: 0 })(
      class Acc {
        items: string[] = [];
        add(s: string) {
          this.items.push(s);
          return this.items.length;
        }
      },
    );
    const a = Acc.remote();
    expect(await ray.get([a.add.remote('x'), a.add.remote('y')], T)).toEqual([1, 2]);
  });

  test('new / direct call of an actor class and direct call of a handle method throw, mentioning .remote()', () => {
    const Cls = Counter as unknown as new () => unknown;
    expect(() => new Cls()).toThrow(/\.remote\(\)/);
    expect(() => (Counter as unknown as () => unknown)()).toThrow(/\.remote\(\)/);
    const c = Counter.remote();
    expect(() => (c.inc as unknown as () => unknown)()).toThrow(/\.remote\(\)/);
  });

  // Ray: test_actor.py::test_multiple_actors
  test('state and per-caller ordering: 5 counters x 50 interleaved increments', async () => {
    const counters = Array.from({ length: 5 }, () => Counter.remote());
    const results: Ray.ObjectRef<number>[][] = counters.map(() => []);
    for (let i = 0; i < 50; i++) counters.forEach((c, j) => results[j]!.push(c.inc.remote()));
    const expected = Array.from({ length: 50 }, (_, i) => i + 1);
    for (const refs of results) expect(await ray.get(refs, T)).toEqual(expected);
  });
});

describe('concurrency', () => {
  test('an async actor runs calls concurrently (two calls that wait for each other both complete)', async () => {
    const Rendezvous = ray.remote(
      class Rendezvous {
        arrived = 0;
        release: (() => void) | undefined;
        both = new Promise<void>((r) => (this.release = r));
        async meet(tag: string) {
          this.arrived += 1;
          if (this.arrived === 2) this.release!();
          await this.both;
          return tag;
        }
      },
    );
    const r = Rendezvous.remote();
    expect(await ray.get([r.meet.remote('a'), r.meet.remote('b')], T)).toEqual(['a', 'b']);
  });

  test('a sync actor runs calls one at a time; maxConcurrency lets them overlap', async () => {
    const Probe = ray.remote(
      class Probe {
        active = 0;
        peak = 0;
        work() {
          this.active += 1;
          this.peak = Math.max(this.peak, this.active);
          return new Promise<number>((r) =>
            setTimeout(() => {
              this.active -= 1;
              r(this.peak);
            }, 30),
          );
        }
        getPeak() {
          return this.peak;
        }
      },
    );
    const serial = Probe.remote();
    await ray.get([0, 1, 2, 3].map(() => serial.work.remote()), T);
    expect(await ray.get(serial.getPeak.remote(), T)).toBe(1);
    const parallel = Probe.options({ maxConcurrency: 4 }).remote();
    await ray.get([0, 1, 2, 3].map(() => parallel.work.remote()), T);
    expect(await ray.get(parallel.getPeak.remote(), T)).toBeGreaterThan(1);
  });
});

describe('actor failures and termination', () => {
  test('a constructor that throws → __ray_ready__ and calls reject with ActorDiedError', async () => {
    const Bad = ray.remote(
      class Bad {
        constructor() {
          throw new Error('constructor failed');
        }
        ping() {
          return 'pong';
        }
      },
    );
    const b = Bad.remote();
    const ready = await rejectionOf(ray.get(b.__ray_ready__.remote(), T));
    expect(ready).toBeInstanceOf(ray.ActorDiedError);
    expect(ready).toBeInstanceOf(ray.RayActorError);
    const call = await rejectionOf(ray.get(b.ping.remote(), T));
    expect(call).toBeInstanceOf(ray.ActorDiedError);
  });

  test('ray.kill(handle) → later calls reject with RayActorError; a non-handle throws TypeError', async () => {
    const c = Counter.remote();
    expect(await ray.get(c.inc.remote(), T)).toBe(1);
    await ray.kill(c);
    expect(await rejectionOf(ray.get(c.inc.remote(), T))).toBeInstanceOf(ray.RayActorError);
    const kill = ray.kill as unknown as (x: unknown) => unknown;
    expect(() => kill({})).toThrow(TypeError);
    expect(() => kill(ray.put(1))).toThrow(TypeError);
  });

  test('exitActor() inside a method: that call rejects mentioning exitActor, later calls fail', async () => {
    const Quitter = ray.remote(
      class Quitter {
        quit() {
          ray.exitActor();
        }
        ping() {
          return 'pong';
        }
      },
    );
    const q = Quitter.remote();
    expect(await ray.get(q.ping.remote(), T)).toBe('pong');
    const err = await rejectionOf(ray.get(q.quit.remote(), T));
    expect(err).toBeInstanceOf(ray.RayActorError);
    expect(err.message).toMatch(/exitActor/);
    expect(await rejectionOf(ray.get(q.ping.remote(), T))).toBeInstanceOf(ray.RayActorError);
  });

  test('__ray_terminate__ exits after queued work; later calls fail', async () => {
    const c = Counter.remote();
    const queued = c.inc.remote();
    const term = c.__ray_terminate__.remote();
    expect(await ray.get(queued, T)).toBe(1);
    await ray.wait([term], T);
    expect(await rejectionOf(ray.get(c.inc.remote(), T))).toBeInstanceOf(ray.RayActorError);
  });

  test('maxPendingCalls: 2 → the third .remote() throws PendingCallsLimitExceeded synchronously', async () => {
    const c = Counter.options({ maxPendingCalls: 2 }).remote();
    const r1 = c.inc.remote();
    const r2 = c.inc.remote();
    expect(() => c.inc.remote()).toThrow(ray.PendingCallsLimitExceeded);
    expect(await ray.get([r1, r2], T)).toEqual([1, 2]);
    expect(await ray.get(c.inc.remote(), T)).toBe(3);
  });
});

describe('named actors and namespaces', () => {
  test('options({ name }) then getActor(name) gives a handle sharing state', async () => {
    const c = Counter.options({ name: 'named-counter' }).remote();
    expect(await ray.get(c.inc.remote(), T)).toBe(1);
    const same = await ray.getActor<CounterApi>('named-counter');
    expect(await ray.get(same.inc.remote(), T)).toBe(2);
    expect(await ray.get(c.read.remote(), T)).toBe(2);
  });

  test('a duplicate name → calls on the second handle reject saying the name is already taken', async () => {
    const first = Counter.options({ name: 'dup-name' }).remote();
    await ray.get(first.__ray_ready__.remote(), T);
    const second = Counter.options({ name: 'dup-name' }).remote();
    const err = await rejectionOf(ray.get(second.__ray_ready__.remote(), T));
    expect(err.message).toMatch(/already taken/);
    expect((await rejectionOf(ray.get(second.inc.remote(), T))).message).toMatch(/already taken/);
    expect(await ray.get(first.inc.remote(), T)).toBe(1);
  });

  test('getActor of a missing name rejects', async () => {
    await expect(ray.getActor('no-such-actor')).rejects.toThrow();
  });

  test('getIfExists: true returns the existing actor (state shared)', async () => {
    const a = Counter.options({ name: 'gie-counter', getIfExists: true }).remote();
    expect(await ray.get(a.inc.remote(), T)).toBe(1);
    const b = Counter.options({ name: 'gie-counter', getIfExists: true }).remote();
    expect(await ray.get(b.inc.remote(), T)).toBe(2);
    expect(await ray.get(a.read.remote(), T)).toBe(2);
  });

  test('the same name in namespace ns1 and in the default namespace are separate actors', async () => {
    const inNs = Counter.options({ name: 'ns-counter', namespace: 'ns1' }).remote(100);
    const inDefault = Counter.options({ name: 'ns-counter' }).remote(0);
    expect(await ray.get(inNs.inc.remote(), T)).toBe(101);
    expect(await ray.get(inDefault.inc.remote(), T)).toBe(1);
    const fromNs = await ray.getActor<CounterApi>('ns-counter', { namespace: 'ns1' });
    expect(await ray.get(fromNs.read.remote(), T)).toBe(101);
    const fromDefault = await ray.getActor<CounterApi>('ns-counter');
    expect(await ray.get(fromDefault.read.remote(), T)).toBe(1);
    // The handles .remote() made keep the actors alive (getActor handles do not): used last.
    expect(await ray.get([inNs.read.remote(), inDefault.read.remote()], T)).toEqual([101, 1]);
  });
});

describe('handles as values', () => {
  test('handles passed to tasks (top level and nested), to other actors and stored in actor state', async () => {
    const c = Counter.remote();
    const bumpTop = ray.remote(async (h: { inc: { remote(by: number): unknown } }) => ray.get(h.inc.remote(10) as never));
    expect(await ray.get(bumpTop.remote(c as never), T)).toBe(10);
    const bumpNested = ray.remote(async (box: { h: { inc: { remote(by: number): unknown } } }) => ray.get(box.h.inc.remote(5) as never));
    expect(await ray.get(bumpNested.remote({ h: c } as never), T)).toBe(15);
    const Holder = ray.remote(
      class Holder {
        target: { inc: { remote(by: number): unknown } };
        constructor(target: { inc: { remote(by: number): unknown } }) {
          this.target = target;
        }
        async bump() {
          return ray.get(this.target.inc.remote(1) as never);
        }
      },
    );
    const holder = Holder.remote(c as never);
    expect(await ray.get(holder.bump.remote(), T)).toBe(16);
    expect(await ray.get(holder.bump.remote(), T)).toBe(17);
    expect(await ray.get(c.read.remote(), T)).toBe(17);
  });
});

describe('per-method numReturns', () => {
  test('ray.method({ numReturns: 2 }) as a wrapper in plain JavaScript', async () => {
    const p = RemotePair.remote('x');
    const refs = p.split.remote() as unknown as Ray.ObjectRef<string>[];
    expect(Array.isArray(refs)).toBe(true);
    expect(refs).toHaveLength(2);
    expect(await ray.get(refs, T)).toEqual(['x-left', 'x-right']);
    expect(await ray.get(p.count.remote() as unknown as Ray.ObjectRef<number>, T)).toBe(1);
  });

  test('handle.m.options({ numReturns: 2 }) per call', async () => {
    const c = Counter.remote(7);
    const refs = c.pair.options({ numReturns: 2 }).remote() as unknown as Ray.ObjectRef<number>[];
    expect(refs).toHaveLength(2);
    expect(await ray.get(refs, T)).toEqual([7, 8]);
    // The handle's own method is unchanged.
    expect(await ray.get(c.pair.remote() as unknown as Ray.ObjectRef<number[]>, T)).toEqual([7, 8]);
  });
});
