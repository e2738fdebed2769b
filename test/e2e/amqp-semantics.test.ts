/**
 * Ray semantics on a cluster of `raybus start` processes on RabbitMQ (`Cluster.start({
 * address })`), as the embedded default has them (blocking.test.ts, namespaces.test.ts,
 * actor-lifetimes.test.ts, ray-semantics.test.ts): blocked tasks give their CPU back, every
 * task and actor runs in its job's namespace, dropped actor handles end their actors, named
 * actors are found right after `.remote()`, hard affinity to a missing node fails, getIfExists
 * handles, maxTaskRetries counted exactly, user error classes, and DEFAULT from a driver
 * without a node packs on one home node. Two nodes of one CPU each.
 */
import * as path from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type * as Ray from '../../src/index';
import type * as Testing from '../../src/testing/index';
import { AMQP_TEST_URL, describeWithBroker } from '../conformance/amqp-broker';
import { lockAmqpSuites, spawnDriver } from './amqp-e2e-helpers';
import { runBlockingScenarios } from '../support/blocking-scenarios';
import { runNamespaceScenarios } from '../support/namespace-scenarios';
import { Signal, affinityToMissingNode, getActorRightAfterCreate, getIfExistsIdentity, maxTaskRetriesExact, namedActorMaxTaskRetries } from '../support/semantics-scenarios';
import { waitUntil } from '../support/wait-until';

const ray: typeof Ray = require('raybus');
const { Cluster }: typeof Testing = require('raybus/testing');

jest.setTimeout(180_000);
const T = { timeoutMs: 90_000 };
const NS = 'amqp-semantics';

const Pid = ray.remote(
  class Pid {
    pid() {
      return process.pid;
    }
    method() {
      return 1;
    }
  },
);
const whereAmI = ray.remote(() => ray.getRuntimeContext().nodeId);

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describeWithBroker('Ray semantics on a RabbitMQ cluster', () => {
  let cluster: Testing.Cluster;
  let unlock: () => void = () => undefined;

  beforeAll(async () => {
    unlock = await lockAmqpSuites();
    cluster = await Cluster.start({ address: AMQP_TEST_URL, nodes: [{ numCpus: 1 }, { numCpus: 1 }] });
    await ray.init({ address: cluster.address, namespace: NS });
    // Other RabbitMQ suites (of this run or another) may hold the lock for a while.
  }, 480_000);

  afterAll(async () => {
    await ray.shutdown().catch(() => undefined);
    await cluster?.shutdown();
    unlock();
  }, 120_000);

  test('test_blocking_tasks: parents waiting in get / wait on 2 CPUs, with children and with an actor; the CPUs all come back', async () => {
    await runBlockingScenarios(2, T.timeoutMs);
    await waitUntil(async () => (await ray.availableResources()).CPU === 2, 60_000);
  });

  test('tasks, nested tasks and actors run in the job’s namespace; getActor inside them; the driver finds what a task named', async () => {
    await runNamespaceScenarios({ ns: NS, job: ray.getRuntimeContext().jobId }, 'amqp', T.timeoutMs);
  });

  test('test_isolation, test_default_namespace: names of other namespaces and of anonymous jobs never collide', async () => {
    const other = spawnDriver(
      cluster.address,
      `await ray.init({ address, namespace: 'different' });
       const P = ray.remote(class P { ping() { return 'pong from other job'; } });
       const a = P.options({ name: 'Pinger', lifetime: 'detached' }).remote();
       console.log('OTHER ' + await ray.get(a.ping.remote()));
       await ray.shutdown();`,
      { RAYBUS_CLUSTER_KEY: cluster.clusterKey },
    );
    await other.line(/OTHER pong from other job/, 90_000);
    expect(await other.exited()).toBe(0);
    const anonymous = ['first', 'second'].map((who) =>
      spawnDriver(
        cluster.address,
        `await ray.init({ address });
         const P = ray.remote(class P { ping() { return ${JSON.stringify(who)}; } });
         const a = P.options({ name: 'Pinger', lifetime: 'detached' }).remote();
         console.log('NS ' + ray.getRuntimeContext().namespace + ' ' + await ray.get(a.ping.remote()));
         await ray.kill(a);
         await ray.shutdown();`,
        { RAYBUS_CLUSTER_KEY: cluster.clusterKey },
      ),
    );
    const lines = await Promise.all(anonymous.map((d) => d.line(/NS (\S+) (\w+)/, 90_000)));
    expect(lines.map((m) => m[2])).toEqual(['first', 'second']);
    expect(lines[0]![1]).not.toBe(lines[1]![1]);
    for (const d of anonymous) expect(await d.exited()).toBe(0);

    const mine = Pid.options({ name: 'Pinger' }).remote();
    expect(await ray.get(mine.method.remote(), T)).toBe(1);
    const theirs = await ray.getActor<{ ping(): string }>('Pinger', { namespace: 'different' });
    expect(await ray.get(theirs.ping.remote(), T)).toBe('pong from other job');
    await ray.kill(theirs as never);
    await ray.kill(mine as never);
  });

  test('test_actor_deletion, test_distributed_actor_handle_deletion: dropped handles end their actors on the cluster', async () => {
    async function exits(pid: number): Promise<boolean> {
      for (const end = Date.now() + 60_000; Date.now() < end; ) {
        gc();
        await new Promise((r) => setTimeout(r, 20));
        if (!alive(pid)) return true;
      }
      return false;
    }
    const pid = await (async () => {
      const a = Pid.remote();
      return ray.get(a.pid.remote(), T);
    })();
    expect(await exits(pid)).toBe(true);

    const f = ray.remote(async (actor: { method: { remote(): Ray.ObjectRef<number> } }, signal: { wait: { remote(): Ray.ObjectRef<void> } }) => {
      await ray.get(signal.wait.remote());
      return ray.get(actor.method.remote());
    });
    const signal = Signal.remote();
    const [pid2, x] = await (async () => {
      const a = Pid.remote();
      return [await ray.get(a.pid.remote(), T), f.remote(a as never, signal as never)] as const;
    })();
    for (let i = 0; i < 10; i++) {
      gc();
      await new Promise((r) => setImmediate(r));
    }
    await ray.get(signal.send.remote(), T);
    expect(await ray.get(x, T)).toBe(1);
    expect(await exits(pid2)).toBe(true);
  });

  test('getActor right after .remote(); hard affinity to a missing node; getIfExists handles', async () => {
    await getActorRightAfterCreate('amqp', T);
    await affinityToMissingNode(T);
    await getIfExistsIdentity('amqp', T);
  });

  test('maxTaskRetries counted exactly; a call through a getActor handle runs again on the restarted actor', async () => {
    await maxTaskRetriesExact(T);
    await namedActorMaxTaskRetries('amqp', T);
  });

  test('an error class exported by the task’s module comes back as that class and as RayTaskError', async () => {
    const m = require(path.resolve(__dirname, '../fixtures/error-classes.js')) as {
      InsufficientFunds: new (n: number) => Error & { needed: number };
      pay: Ray.RemoteFunction<(n: number) => number>;
    };
    const e = await ray.get(m.pay.remote(15), T).then(
      () => undefined,
      (err: unknown) => err as Error & { needed?: number },
    );
    expect(e).toBeInstanceOf(m.InsufficientFunds);
    expect(e).toBeInstanceOf(ray.RayTaskError);
    expect((e?.cause as { needed: number }).needed).toBe(5);
  });

  test('DEFAULT from a driver on no node packs on one home node, the same for every driver of the cluster', async () => {
    const here: string[] = [];
    for (let i = 0; i < 6; i++) here.push((await ray.get(whereAmI.remote(), T))!);
    expect(new Set(here).size).toBe(1);
    const other = spawnDriver(
      cluster.address,
      `await ray.init({ address });
       const where = ray.remote(() => ray.getRuntimeContext().nodeId);
       const seen = [];
       for (let i = 0; i < 6; i++) seen.push(await ray.get(where.remote()));
       console.log('NODES ' + [...new Set(seen)].join(','));
       await ray.shutdown();`,
      { RAYBUS_CLUSTER_KEY: cluster.clusterKey },
    );
    const [, nodes] = await other.line(/NODES (\S+)/, 90_000);
    expect(nodes).toBe(here[0]);
    expect(await other.exited()).toBe(0);
  });
});
