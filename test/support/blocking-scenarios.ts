/**
 * Ray's test_basic.py::test_blocking_tasks as scenarios that run on any raybus (the embedded
 * default, a test Cluster on a broker): more parents than CPUs, each waiting in `get` or
 * `wait` for children that need a CPU of their own. Without a blocked task giving its CPU
 * back they deadlock. The remote code is self-contained (shipped by value), so these run
 * wherever the test points `ray`.
 */
import type * as Ray from '../../src/index';

const ray: typeof Ray = require('raybus');

/** Each parent submits two children and waits for them with `get`. */
export const getParent = ray.remote(async (i: number) => {
  const f = ray.remote((a: number, b: number) => [a, b]);
  return ray.get([f.remote(i, 0), f.remote(i, 1)]);
});

/** Each parent submits two children and waits for both with `wait`. */
export const waitParent = ray.remote(async (i: number) => {
  const f = ray.remote((a: number, b: number) => [a, b]);
  const refs = [f.remote(i, 0), f.remote(i, 1)];
  const [ready] = await ray.wait(refs, { numReturns: refs.length });
  return ready.length;
});

/** A parent that gets ten children that each take 10 ms. */
export const sleepParent = ray.remote(async () => {
  const nap = ray.remote(async (i: number) => {
    await new Promise((r) => setTimeout(r, 10));
    return i;
  });
  return ray.get(Array.from({ length: 10 }, (_, i) => nap.remote(i)));
});

/** An actor the parents call (Ray's variant with an actor created just before them). */
export const Answer = ray.remote(
  class Answer {
    f() {
      return 1;
    }
  },
);

/** A parent that waits for a call of an actor. */
export const actorParent = ray.remote(async (a: { f: { remote(): Ray.ObjectRef<number> } }) => (await ray.get(a.f.remote())) + 1);

/** Everything `test_blocking_tasks` checks, on `cpus` CPUs: results in order, nothing lost. */
export async function runBlockingScenarios(cpus: number, timeoutMs: number): Promise<void> {
  const T = { timeoutMs };
  const parents = Array.from({ length: 2 * cpus }, (_, i) => i);
  expect(await ray.get(parents.map((i) => getParent.remote(i)), T)).toEqual(parents.map((i) => [[i, 0], [i, 1]]));
  expect(await ray.get(parents.map((i) => waitParent.remote(i)), T)).toEqual(parents.map(() => 2));
  const tens = Array.from({ length: 10 }, (_, i) => i);
  expect(await ray.get(Array.from({ length: cpus }, () => sleepParent.remote()), T)).toEqual(Array.from({ length: cpus }, () => tens));
  // The actor's creation must not queue behind the parents' lease requests made after it.
  const a = Answer.remote();
  expect(await ray.get(parents.map(() => actorParent.remote(a)), T)).toEqual(parents.map(() => 2));
}
