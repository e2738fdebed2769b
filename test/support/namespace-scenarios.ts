/**
 * Jobs and namespaces seen from inside tasks and actors (Ray: every task and actor runs in
 * its job's namespace, WorkerContext::SetCurrentTask takes the job from each task;
 * python/ray/tests/test_namespace.py). Self-contained remote code, so the scenarios run on
 * any raybus the test initialised `ray` for.
 */
import type * as Ray from '../../src/index';

const ray: typeof Ray = require('raybus');

export interface Where {
  ns: string;
  job: string;
}

/** The namespace and job a task sees. */
export const whereTask = ray.remote((): Where => {
  const c = ray.getRuntimeContext();
  return { ns: c.namespace, job: c.jobId };
});

/** The same, from a task two levels down. */
export const whereNested = ray.remote(async (): Promise<Where> => {
  const inner = ray.remote(async () => {
    const innermost = ray.remote(() => {
      const c = ray.getRuntimeContext();
      return { ns: c.namespace, job: c.jobId };
    });
    return ray.get(innermost.remote());
  });
  return ray.get(inner.remote());
});

/** An actor that reports its namespace and job, and looks actors up by name. */
export const Probe = ray.remote(
  class Probe {
    where(): Where {
      const c = ray.getRuntimeContext();
      return { ns: c.namespace, job: c.jobId };
    }
    async lookup(name: string): Promise<string> {
      const h = (await ray.getActor(name)) as unknown as { hi: { remote(): Ray.ObjectRef<string> } };
      return ray.get(h.hi.remote());
    }
  },
);

/** A named actor to find. */
export const Named = ray.remote(
  class Named {
    hi() {
      return 'hi';
    }
  },
);

/** A task that finds the named actor `name` with getActor (in its own namespace). */
export const lookupTask = ray.remote(async (name: string) => {
  const h = (await ray.getActor(name)) as unknown as { hi: { remote(): Ray.ObjectRef<string> } };
  return ray.get(h.hi.remote());
});

/** A task that creates a detached actor named `name` in its job's namespace. */
export const nameFromTask = ray.remote(async (name: string) => {
  const Made = ray.remote(
    class Made {
      hi() {
        return `made by a task`;
      }
    },
  );
  const m = Made.options({ name, lifetime: 'detached' }).remote();
  await ray.get(m.__ray_ready__.remote());
  return true;
});

/**
 * What a driver in namespace `ns` (job `job`) must see: tasks, nested tasks and actors in its
 * job and namespace; getActor inside a task and inside an actor finds the driver's named
 * actor; the driver finds an actor a task named.
 */
export async function runNamespaceScenarios(expected: Where, suffix: string, timeoutMs: number): Promise<void> {
  const T = { timeoutMs };
  expect(await ray.get(whereTask.remote(), T)).toEqual(expected);
  expect(await ray.get(whereNested.remote(), T)).toEqual(expected);
  const probe = Probe.remote();
  expect(await ray.get(probe.where.remote(), T)).toEqual(expected);
  const named = Named.options({ name: `named-${suffix}` }).remote();
  expect(await ray.get(named.hi.remote(), T)).toBe('hi');
  expect(await ray.get(lookupTask.remote(`named-${suffix}`), T)).toBe('hi');
  expect(await ray.get(probe.lookup.remote(`named-${suffix}`), T)).toBe('hi');
  expect(await ray.get(nameFromTask.remote(`from-task-${suffix}`), T)).toBe(true);
  const fromTask = (await ray.getActor(`from-task-${suffix}`)) as unknown as { hi: { remote(): Ray.ObjectRef<string> }; };
  expect(await ray.get(fromTask.hi.remote(), T)).toBe('made by a task');
  await ray.kill(fromTask as never);
  // Used last: the handles .remote() made keep their actors alive while the lookups run
  // (a getActor handle keeps nothing alive).
  expect(await ray.get([named.hi.remote(), probe.where.remote()], T)).toEqual(['hi', expected]);
}
