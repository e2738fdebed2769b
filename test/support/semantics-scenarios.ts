/**
 * Scenarios of Ray semantics that must hold on every raybus (the embedded default, a test
 * Cluster on a broker): names taken at `.remote()`, hard node affinity to a node that does
 * not exist, getIfExists handles, and maxTaskRetries counted exactly. The remote code is
 * self-contained (shipped by value); each scenario makes its own actors and names (`tag`).
 */
import type * as Ray from '../../src/index';

const ray: typeof Ray = require('raybus');

/** Counts arrivals; `reached(n)` resolves once it has seen n (no sleeps in tests). */
export const Latch = ray.remote(
  class Latch {
    n = 0;
    waiting: Array<{ n: number; resolve: () => void }> = [];
    arrive() {
      this.n += 1;
      for (const w of this.waiting.filter((x) => x.n <= this.n)) w.resolve();
      this.waiting = this.waiting.filter((x) => x.n > this.n);
      return this.n;
    }
    count() {
      return this.n;
    }
    async reached(n: number) {
      if (this.n < n) await new Promise<void>((resolve) => this.waiting.push({ n, resolve }));
      return this.n;
    }
  },
);

/** Ray's SignalActor. */
export const Signal = ray.remote(
  class Signal {
    open!: () => void;
    done = new Promise<void>((r) => (this.open = r));
    send() {
      this.open();
    }
    async wait() {
      await this.done;
    }
  },
);

interface LatchApi {
  arrive(): number;
  count(): number;
  reached(n: number): number;
}
type Handle<T> = Ray.ActorHandle<T>;

const Echo = ray.remote(
  class Echo {
    constructor(private readonly initial: unknown = null) {}
    echo(x: unknown) {
      return x;
    }
    init() {
      return this.initial;
    }
    id() {
      return ray.getRuntimeContext().actorId;
    }
  },
);

const later = ray.remote(async (v: number) => {
  await new Promise((r) => setTimeout(r, 200));
  return v;
});

/** getActor right after `.remote()` finds the actor: with its arguments ready, and while they compute. */
export async function getActorRightAfterCreate(tag: string, T: { timeoutMs: number }): Promise<void> {
  const first = Echo.options({ name: `early-${tag}` }).remote();
  const found = await ray.getActor<{ echo(x: string): string }>(`early-${tag}`);
  expect(await ray.get(found.echo.remote('x'), T)).toBe('x');
  const second = Echo.options({ name: `early-ref-${tag}` }).remote(later.remote(5));
  const found2 = await ray.getActor<{ init(): number }>(`early-ref-${tag}`);
  expect(await ray.get(found2.init.remote(), T)).toBe(5);
  // The handles made by .remote() keep their actors alive until here.
  expect([first, second].every((h) => h !== undefined)).toBe(true);
}

/** Hard NodeAffinity to a node that does not exist: TaskUnschedulableError / ActorUnschedulableError. */
export async function affinityToMissingNode(T: { timeoutMs: number }): Promise<void> {
  const nowhere = new ray.NodeAffinitySchedulingStrategy({ nodeId: 'ff'.repeat(14), soft: false });
  const f = ray.remote(() => 1);
  await expect(ray.get(f.options({ schedulingStrategy: nowhere }).remote(), T)).rejects.toBeInstanceOf(ray.TaskUnschedulableError);
  const a = Echo.options({ schedulingStrategy: nowhere }).remote();
  const err = await ray.get(a.echo.remote(1), T).then(
    () => undefined,
    (e: unknown) => e as Error,
  );
  expect(err).toBeInstanceOf(ray.ActorUnschedulableError);
  expect(err?.message).toContain('ffff');
}

/** A getIfExists handle reaches the existing actor, says its id, and may travel before it knows it. */
export async function getIfExistsIdentity(tag: string, T: { timeoutMs: number }): Promise<void> {
  const viaTask = ray.remote(async (h: { id: { remote(): Ray.ObjectRef<string> } }) => ray.get(h.id.remote()));
  const h1 = Echo.options({ name: `gie-${tag}` }).remote();
  const real = await ray.get(h1.id.remote(), T);
  expect(h1.actorId).toBe(real);
  const h2 = Echo.options({ name: `gie-${tag}`, getIfExists: true }).remote();
  // Sent to a task before the broker answered which actor it is.
  const passed = viaTask.remote(h2 as never);
  expect(await ray.get(h2.id.remote(), T)).toBe(real);
  expect(h2.actorId).toBe(real);
  expect(await ray.get(passed, T)).toBe(real);
  // h1 keeps the actor alive (h2 found it, as getActor would: it counts nothing).
  expect(await ray.get(h1.id.remote(), T)).toBe(real);
}

const Crasher = ray.remote(
  class Crasher {
    async crash(latch: Handle<LatchApi>) {
      await ray.get(latch.arrive.remote());
      process.exit(1);
    }
  },
);

/**
 * maxTaskRetries N runs a call N + 1 times at most when its actor keeps dying in it (counted
 * by the caller; test_actor_failures.py max_task_retries cases); -1 runs it while restarts last.
 */
export async function maxTaskRetriesExact(T: { timeoutMs: number }): Promise<void> {
  for (const [retries, runs] of [
    [0, 1],
    [1, 2],
    [2, 3],
    [-1, 5],
  ] as const) {
    const latch = Latch.remote();
    const c = Crasher.options({ maxRestarts: 4, maxTaskRetries: retries }).remote();
    const err = await ray.get(c.crash.remote(latch), T).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect([retries, err]).toEqual([retries, expect.any(ray.RayActorError)]);
    expect([retries, await ray.get(latch.count.remote(), T)]).toEqual([retries, runs]);
  }
}

/**
 * test_actor_failures.py::test_named_actor_max_task_retries: a call made through a getActor
 * handle by another actor runs again on the restarted actor (maxTaskRetries -1).
 */
export async function namedActorMaxTaskRetries(tag: string, T: { timeoutMs: number }): Promise<void> {
  const ActorToKill = ray.remote(
    class ActorToKill {
      constructor(counter: Handle<LatchApi>) {
        counter.arrive.remote();
      }
      async run(counter: Handle<LatchApi>, signal: { wait: { remote(): Ray.ObjectRef<void> } }) {
        counter.arrive.remote();
        await ray.get(signal.wait.remote());
        return 'ran';
      }
    },
  );
  const CallingActor = ray.remote(
    class CallingActor {
      async callOther(name: string, counter: unknown, signal: unknown) {
        const a = (await ray.getActor(name)) as unknown as { run: { remote(c: unknown, s: unknown): Ray.ObjectRef<string> } };
        return ray.get(a.run.remote(counter, signal));
      }
    },
  );
  const initCounter = Latch.remote();
  const runCounter = Latch.remote();
  const signal = Signal.remote();
  const a = ActorToKill.options({ name: `a-${tag}`, maxRestarts: -1, maxTaskRetries: -1 }).remote(initCounter);
  const c = CallingActor.remote();
  await ray.get(initCounter.reached.remote(1), T);
  const ref = c.callOther.remote(`a-${tag}`, runCounter, signal);
  await ray.get(runCounter.reached.remote(1), T);
  await ray.kill(a, { noRestart: false });
  // The constructor ran a second time, and so did the call in flight.
  await ray.get(initCounter.reached.remote(2), T);
  await ray.get(runCounter.reached.remote(2), T);
  signal.send.remote();
  expect(await ray.get(ref, T)).toBe('ran');
  await ray.kill(a);
}
