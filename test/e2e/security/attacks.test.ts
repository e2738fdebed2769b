/**
 * A cluster nobody else can take over: a test Cluster of `raybus start` processes on RabbitMQ
 * with a cluster key, and two attackers who hold the broker's credentials — one without the
 * key, one with another key. Each attack of the list (docs/ARCHITECTURE.md, "Security") is
 * made by both; each test waits until the nodes reported the attack's messages refused, then
 * checks that it had no effect and that valid work still completes. Where it shows the attack
 * is real, a key holder sending the same message does get the effect (the control).
 */
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import type * as Ray from '../../../src/index';
import type * as Testing from '../../../src/testing/index';
import { AMQP_TEST_URL, describeWithBroker } from '../../conformance/amqp-broker';
import { eventually, lockAmqpSuites } from '../amqp-e2e-helpers';
import { openClusterTransport } from '../../../src/runtimes/open-transport';
import { clusterState } from '../../../src/broker/broker-query';
import { slot } from '../../../src/core/runtime-state';
import { BROKER_ELECTED_TOPIC, BROKER_QUEUE, OWNER_DIED_TOPIC, nodePresenceId, nodeQueue, presenceQueue, replyQueue, workerQueue } from '../../../src/protocol/queues';
import { taskOfObject, type ActorId, type LeaseId, type NodeId, type ProcId, type ReplyQueue, type WorkerId } from '../../../src/protocol/ids';
import { decodeEnvelope, encodeEnvelope, encodeValue } from '../../../src/serialization/serializer';
import type { Transport } from '../../../src/transport/transport';
import type { ActorSpec } from '../../../src/protocol/wire';
import { actorSpec } from '../../unit/broker/broker-harness';
import { expectWarnings } from '../../support/expected-warnings';
import { alive, awaitRefusals, childrenOf, connectAttackers, environOf, everyonePublishes, newMarker, refusedIn, scratchDir, type Attackers } from './security-helpers';

const ray: typeof Ray = require('raybus');
const { Cluster }: typeof Testing = require('raybus/testing');

jest.setTimeout(90_000);
const T = { timeoutMs: 60_000 };

/** An actor that tasks wait on, released by the test (no sleeps). */
const Gate = ray.remote(
  class Gate {
    open = false;
    waiters: Array<() => void> = [];
    async wait() {
      if (!this.open) await new Promise<void>((resolve) => this.waiters.push(resolve));
      return true;
    }
    release() {
      this.open = true;
      for (const w of this.waiters.splice(0)) w();
      return true;
    }
  },
);

const Counter = ray.remote(
  class Counter {
    n = 0;
    inc() {
      return ++this.n;
    }
  },
);

/** Waits for the gate, then returns `value` and how it ran. */
const gated = ray.remote(async (gate: { wait: { remote(): unknown } }, value: string) => {
  await ray.get(gate.wait.remote() as Ray.ObjectRef<boolean>);
  return { value, attempt: ray.getRuntimeContext().attempt };
});

const add = ray.remote((a: number, b: number) => a + b);

describeWithBroker('attacks by broker users without the cluster key', () => {
  let cluster: Testing.Cluster;
  let admin: Transport;
  let attackers: Attackers;
  let nodeId: NodeId;
  let nodePid: number;
  let driverReply: ReplyQueue;
  let dir: string;
  let unlock: () => void = () => undefined;
  /** The attackers' own reply queue (what a forged request names for answers). */
  const attackerReply = replyQueue(`attacker-${randomBytes(4).toString('hex')}` as ProcId);
  const attackerInbox: unknown[] = [];
  /** This driver refuses what is forged on its reply queue itself, and says so once per sender. */
  const driverRefusals = expectWarnings(/refused a message on .*raybus\.reply\.driver-/);

  /** Valid work still completes. */
  async function stillServing(): Promise<void> {
    expect(await ray.get(add.remote(20, 22), T)).toBe(42);
  }

  /** Wait until the nodes refused `n` more messages than in `before`. */
  async function refused(before: number, n: number): Promise<void> {
    await awaitRefusals(admin, before + n);
  }

  async function refusedNow(): Promise<number> {
    return refusedIn(await clusterState(admin, 5000));
  }

  beforeAll(async () => {
    unlock = await lockAmqpSuites();
    dir = scratchDir();
    // Nodes report what they refused every 300 ms (default 10 s): the tests wait on it.
    // No prestarted workers: the node starts a worker only for work it accepted, so a process
    // it started during an attack would be one started for the attacker (a prestarted pool
    // starts one in the background whenever work takes one).
    process.env.RAYBUS_LEASE_REPORT_MS = '300';
    process.env.RAYBUS_PRESTART_WORKERS = '0';
    cluster = await Cluster.start({ address: AMQP_TEST_URL, nodes: [{ numCpus: 3 }] });
    delete process.env.RAYBUS_LEASE_REPORT_MS;
    delete process.env.RAYBUS_PRESTART_WORKERS;
    nodeId = cluster.nodes[0]!.nodeId;
    nodePid = cluster.nodePid(nodeId)!;
    await ray.init({ address: cluster.address, namespace: 'security' });
    driverReply = slot.core!.address;
    admin = openClusterTransport(cluster.address, { connectionName: 'raybus test key holder', clusterKey: cluster.clusterKey! });
    await admin.connect();
    attackers = await connectAttackers(cluster.address);
    await attackers.noKey.assertQueue(attackerReply);
    await attackers.noKey.consume(
      attackerReply,
      (d) => {
        d.ack();
        attackerInbox.push(d.body);
      },
      { prefetch: 0 },
    );
    await stillServing();
  }, 120_000);

  afterAll(async () => {
    await ray.shutdown().catch(() => undefined);
    await attackers?.close();
    await admin?.close().catch(() => undefined);
    await cluster?.shutdown();
    rmSync(dir, { recursive: true, force: true });
    unlock();
  }, 90_000);

  test('code in a lease request, a start-lease or an actor: runtime env modules and NODE_OPTIONS never run', async () => {
    const viaModules = newMarker(dir, 'lease-modules');
    const viaNodeOptions = newMarker(dir, 'lease-node-options');
    const viaActor = newMarker(dir, 'actor-modules');
    const viaStartLease = newMarker(dir, 'start-lease');
    const before = await refusedNow();
    const workersBefore = new Set(childrenOf(nodePid));
    const lease = (env: unknown, req: string) => ({ t: 'request-lease', req, owner: attackerReply, demand: { CPU: 1 }, strategy: { kind: 'DEFAULT' }, desc: 'evil', env });
    await everyonePublishes(attackers, BROKER_QUEUE, lease({ modules: [viaModules.dataModule] }, 'evil-1'));
    await everyonePublishes(attackers, BROKER_QUEUE, lease({ envVars: { NODE_OPTIONS: `--import ${viaNodeOptions.dataModule}` } }, 'evil-2'));
    const spec: ActorSpec = actorSpec(`evil-actor-${randomBytes(3).toString('hex')}`, {
      owner: attackerReply,
      placement: { CPU: 0 },
      ctx: { jobId: 'evil' as never, namespace: 'evil', attempt: 0, env: { modules: [viaActor.dataModule] } },
    });
    await everyonePublishes(attackers, BROKER_QUEUE, { t: 'create-actor', req: 'evil-3', spec });
    await everyonePublishes(attackers, nodeQueue(nodeId), {
      t: 'start-lease',
      lease: `evil@${nodeId}`,
      req: 'evil-4',
      owner: attackerReply,
      demand: { CPU: 0 },
      gpuIds: [],
      env: { modules: [viaStartLease.dataModule] },
    });
    await refused(before, 8);
    expect(childrenOf(nodePid).filter((pid) => !workersBefore.has(pid))).toEqual([]);
    await stillServing();
    for (const m of [viaModules, viaNodeOptions, viaActor, viaStartLease]) expect(m.exists()).toBe(false);
    expect(attackerInbox).toHaveLength(0);

    // The control: the same lease request from a key holder does run the module.
    const control = newMarker(dir, 'control');
    const inbox: Array<Record<string, unknown>> = [];
    const controlReply = replyQueue(`control-${randomBytes(4).toString('hex')}` as ProcId);
    await admin.assertQueue(controlReply);
    const sub = await admin.consume(controlReply, (d) => (d.ack(), inbox.push(decodeEnvelope(d.body) as Record<string, unknown>)), { prefetch: 0 });
    await admin.publish(BROKER_QUEUE, encodeEnvelope({ ...lease({ modules: [control.dataModule] }, 'control-1'), owner: controlReply }));
    const granted = await eventually(() => inbox.find((m) => m.t === 'lease-granted'), 30_000, 'the key holder to be granted its lease');
    await eventually(() => control.exists() || undefined, 30_000, 'the key holder\'s module to run');
    await admin.publish(BROKER_QUEUE, encodeEnvelope({ t: 'return-lease', lease: granted.lease }));
    await sub.cancel();
  });

  test('a by-reference descriptor naming an absolute path is never imported', async () => {
    const worker = (await ray.get(ray.remote(() => ray.getRuntimeContext().workerId).remote(), T)) as WorkerId;
    const marker = newMarker(dir, 'by-reference');
    const task = (id: string) => ({
      t: 'task',
      task: `evil-task-${id}`,
      fn: { id: `evil-${id}`, name: 'evil', kind: 'function', module: marker.cjsFile },
      args: [],
      nret: 1,
      owner: attackerReply,
      ctx: { jobId: 'evil', namespace: 'evil', attempt: 0 },
      lease: `evil@${nodeId}`,
    });
    const before = await refusedNow();
    await attackers.noKey.publish(workerQueue(worker), encodeEnvelope(task('a')));
    await attackers.otherKey.publish(workerQueue(worker), encodeEnvelope(task('b')));
    await refused(before, 2);
    await stillServing();
    expect(marker.exists()).toBe(false);
    expect(attackerInbox).toHaveLength(0);
  });

  test('forged control messages: kill-actor, owner-died, lease-lost, node-gone, broker-elected change nothing', async () => {
    const counter = Counter.remote();
    expect(await ray.get(counter.inc.remote(), T)).toBe(1);
    const gate = Gate.remote();
    const running = gated.remote(gate, 'true value');
    const lease = await eventually(
      async () => (await clusterState(admin, 5000)).leases.find((l) => l.owner === driverReply && !l.actorId)?.lease,
      30_000,
      'the gated task to hold a lease',
    );
    const { leader } = await clusterState(admin, 5000);
    const before = await refusedNow();
    const actor = (counter as unknown as { actorId: ActorId }).actorId;
    await everyonePublishes(attackers, BROKER_QUEUE, { t: 'kill-actor', actor, noRestart: true, req: 'evil-kill', reply: attackerReply });
    await everyonePublishes(attackers, BROKER_QUEUE, { t: 'node-gone', node: nodeId });
    await everyonePublishes(attackers, driverReply, { t: 'lease-lost', lease: lease as LeaseId, reason: 'forged' });
    for (const t of attackers.all) {
      await t.broadcast(OWNER_DIED_TOPIC, encodeEnvelope({ owner: driverReply }));
      await t.broadcast(BROKER_ELECTED_TOPIC, encodeEnvelope({ t: 'broker-elected', epoch: 'forged' }));
    }
    await everyonePublishes(attackers, presenceQueue(nodePresenceId(nodeId)), { t: 'broker-elected', epoch: 'forged' });
    // kill-actor, node-gone, presence: 2 each; the topics reach the broker and every worker.
    await refused(before, 10);
    expect(await ray.get(counter.inc.remote(), T)).toBe(2);
    await ray.get(gate.release.remote(), T);
    expect(await ray.get(running, T)).toEqual({ value: 'true value', attempt: 0 });
    const after = await clusterState(admin, 5000);
    expect(after.nodes.find((n) => n.nodeId === nodeId)?.alive).toBe(true);
    expect(after.leader.epoch).toBe(leader.epoch);
    expect(alive(nodePid)).toBe(true);
    expect(attackerInbox).toHaveLength(0);
    await stillServing();
  });

  test('forged and stolen data: get returns the true value, get-object answers no outsider, a fake node gets no work', async () => {
    const gate = Gate.remote();
    const running = gated.remote(gate, 'true value');
    const task = taskOfObject((running as unknown as { id: string }).id);
    const secret = ray.put({ secret: 'of this job' });
    const before = await refusedNow();
    await everyonePublishes(attackers, driverReply, { t: 'result', task, rets: [{ d: encodeValue({ value: 'forged', attempt: 0 }) }] });
    await everyonePublishes(attackers, driverReply, { t: 'get-object', id: (secret as unknown as { id: string }).id, reply: attackerReply });
    const fake = `fake${randomBytes(12).toString('hex')}`;
    await everyonePublishes(attackers, BROKER_QUEUE, { t: 'node-register', node: fake, resources: { CPU: 64 }, labels: {} });
    await refused(before, 2);
    // The driver read the forged messages before this result (one queue, in order).
    expect(await ray.get(add.remote(1, 1), T)).toBe(2);
    await ray.get(gate.release.remote(), T);
    expect(await ray.get(running, T)).toEqual({ value: 'true value', attempt: 0 });
    expect(attackerInbox).toHaveLength(0);
    expect(driverRefusals.messages().join('\n')).toMatch(/not sealed with a cluster key[\s\S]*bad seal|bad seal[\s\S]*not sealed/);
    const state = await clusterState(admin, 5000);
    expect(state.nodes.map((n) => n.nodeId)).toEqual([nodeId]);
    const where = await ray.get(Array.from({ length: 4 }, () => ray.remote(() => ray.getRuntimeContext().nodeId).remote()), T);
    expect(new Set(where)).toEqual(new Set([nodeId]));
  });

  test('the cluster key is out of reach of user code: not in a worker\'s environment, not in the runtime context', async () => {
    const key = cluster.clusterKey!;
    const probe = ray.remote(() => ({
      env: { ...process.env },
      context: JSON.stringify(ray.getRuntimeContext()),
      pid: process.pid,
    }));
    const { env, context, pid } = await ray.get(probe.remote(), T);
    expect(Object.keys(env).filter((k) => /CLUSTER_KEY/.test(k))).toEqual([]);
    expect(Object.values(env).some((v) => typeof v === 'string' && v.includes(key))).toBe(false);
    expect(env.RAYBUS_REQUIRE_SIGNED_CODE).toBe('1');
    expect(context).not.toContain(key);
    expect(environOf(pid)).not.toContain(key);
    expect(environOf(nodePid)).not.toContain(key);
    // An actor's process too.
    const A = ray.remote(
      class A {
        env() {
          return Object.values(process.env).join('\n');
        }
      },
    );
    expect(await ray.get(A.remote().env.remote(), T)).not.toContain(key);
  });
});
