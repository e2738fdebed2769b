/**
 * Namespaces and jobs are inherited everywhere (Ray: python/ray/tests/test_namespace.py; a
 * worker takes the job of each task it runs): tasks, nested tasks and actors run in their
 * job's namespace, getActor inside a task or an actor finds the job's named actors, the driver
 * finds an actor a task named, and names of different namespaces never collide — on the
 * embedded default and on an in-process test Cluster (several jobs one after the other). The
 * same runs on RabbitMQ in amqp-semantics.test.ts.
 */
import type * as Ray from '../../src/index';
import type * as Testing from '../../src/testing/index';
import { runNamespaceScenarios } from '../support/namespace-scenarios';

const ray: typeof Ray = require('raybus');
const { Cluster }: typeof Testing = require('raybus/testing');

jest.setTimeout(120_000);
const T = { timeoutMs: 60_000 };

const Pinger = ray.remote(
  class Pinger {
    constructor(private readonly who: string) {}
    ping() {
      return `pong from ${this.who}`;
    }
  },
);
interface PingerApi {
  ping(): string;
}

describe('the embedded default', () => {
  afterAll(async () => {
    await ray.shutdown();
  });

  test('tasks, nested tasks and actors run in the driver’s job and namespace; getActor works inside them', async () => {
    await ray.init({ numCpus: 2, namespace: 'embedded-ns' });
    const ctx = ray.getRuntimeContext();
    expect(ctx.namespace).toBe('embedded-ns');
    await runNamespaceScenarios({ ns: 'embedded-ns', job: ctx.jobId }, 'emb', 60_000);
  });
});

describe('a test Cluster shared by several jobs', () => {
  let cluster: Testing.Cluster;

  beforeAll(async () => {
    cluster = await Cluster.start({ nodes: [{ numCpus: 2 }] });
  });

  afterEach(async () => {
    await ray.shutdown();
  });

  afterAll(async () => {
    await cluster.shutdown();
  });

  /** Run `body` as a job of its own (a driver that connects, then leaves). */
  async function job<T>(namespace: string | undefined, body: () => Promise<T>): Promise<T> {
    await ray.init({ address: cluster.address, ...(namespace ? { namespace } : {}) });
    try {
      return await body();
    } finally {
      await ray.shutdown();
    }
  }

  test('every task and actor of a job runs in its namespace, not the node’s', async () => {
    await ray.init({ address: cluster.address, namespace: 'myns' });
    const ctx = ray.getRuntimeContext();
    await runNamespaceScenarios({ ns: 'myns', job: ctx.jobId }, 'cluster', 60_000);
  });

  test('test_isolation: the same name in two namespaces names two actors; each job finds its own', async () => {
    await job('different', async () => {
      const a = Pinger.options({ name: 'Pinger', lifetime: 'detached' }).remote('other job');
      expect(await ray.get(a.ping.remote(), T)).toBe('pong from other job');
    });
    await job('namespace', async () => {
      const probe = Pinger.options({ name: 'Pinger' }).remote('this job');
      expect(await ray.get(probe.ping.remote(), T)).toBe('pong from this job');
      const mine = await ray.getActor<PingerApi>('Pinger');
      expect(await ray.get(mine.ping.remote(), T)).toBe('pong from this job');
      const theirs = await ray.getActor<PingerApi>('Pinger', { namespace: 'different' });
      expect(await ray.get(theirs.ping.remote(), T)).toBe('pong from other job');
      await ray.kill(theirs as never);
      // The handle .remote() made keeps the probe alive until here.
      expect(await ray.get(probe.ping.remote(), T)).toBe('pong from this job');
    });
  });

  test('test_default_namespace: jobs without a namespace are isolated, so each may name a detached actor the same', async () => {
    const namespaces: string[] = [];
    for (const who of ['first', 'second']) {
      await job(undefined, async () => {
        namespaces.push(ray.getRuntimeContext().namespace);
        const a = Pinger.options({ name: 'Pinger', lifetime: 'detached' }).remote(who);
        expect(await ray.get(a.ping.remote(), T)).toBe(`pong from ${who}`);
      });
    }
    expect(new Set(namespaces).size).toBe(2);
    for (const namespace of namespaces) {
      await job('cleanup', async () => {
        await ray.kill((await ray.getActor('Pinger', { namespace })) as never);
      });
    }
  });

  test('test_namespace_in_job_config: a later job in the same namespace finds a detached actor a task of an earlier job named', async () => {
    await job('shared', async () => {
      const made = ray.remote(async () => {
        const A = ray.remote(
          class A {
            ping() {
              return 'pong from a task of the first job';
            }
          },
        );
        const a = A.options({ name: 'Pinger', lifetime: 'detached' }).remote();
        return ray.get(a.ping.remote());
      });
      expect(await ray.get(made.remote(), T)).toBe('pong from a task of the first job');
    });
    await job('shared', async () => {
      const a = await ray.getActor<PingerApi>('Pinger');
      expect(await ray.get(a.ping.remote(), T)).toBe('pong from a task of the first job');
      await ray.kill(a as never);
    });
  });
});
