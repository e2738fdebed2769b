/**
 * What a cluster on RabbitMQ does with hostile bytes, even from a holder of the cluster key:
 * decoding is bounded (a message of array headers that would take gigabytes is refused before
 * it is decoded; one above the message limit before its seal is even checked), a malformed
 * ("poison") message is dead-lettered with its reason and never comes back — not to this
 * broker leader, not to the next — and no process crashes; a worker started for a lease the
 * broker never granted is stopped. Valid work completes throughout.
 */
import { randomBytes } from 'node:crypto';
import * as amqp from 'amqplib';
import type * as Ray from '../../../src/index';
import type * as Testing from '../../../src/testing/index';
import { AMQP_TEST_URL, describeWithBroker } from '../../conformance/amqp-broker';
import { eventually, lockAmqpSuites } from '../amqp-e2e-helpers';
import { openClusterTransport } from '../../../src/runtimes/open-transport';
import { createTransport } from '../../../src/transport/transport-registry';
import { clusterState } from '../../../src/broker/broker-query';
import { BROKER_QUEUE, nodeQueue, replyQueue, workerQueue } from '../../../src/protocol/queues';
import type { NodeId, ProcId, WorkerId } from '../../../src/protocol/ids';
import { decodeEnvelope, encodeEnvelope, encodeValue } from '../../../src/serialization/serializer';
import type { Transport } from '../../../src/transport/transport';
import { alive, awaitRefusals, childrenOf, malformedIn, refusedIn, rssOf } from './security-helpers';

const ray: typeof Ray = require('raybus');
const { Cluster }: typeof Testing = require('raybus/testing');

jest.setTimeout(120_000);
const T = { timeoutMs: 60_000 };
const MiB = 1024 * 1024;

const add = ray.remote((a: number, b: number) => a + b);
const whoAmI = ray.remote(() => ({ worker: ray.getRuntimeContext().workerId as string, pid: process.pid }));

/**
 * A broker message whose field `x` is an array of `n` empty arrays: one byte each on the wire,
 * tens of bytes each once decoded.
 */
function arrayBomb(bytes: number): Uint8Array {
  const n = bytes - 32;
  const head = Buffer.from(encodeEnvelope({ t: 'request-lease', x: null })).subarray(0, -1);
  const len = Buffer.alloc(5);
  len[0] = 0xdd; // array32
  len.writeUInt32BE(n, 1);
  return Buffer.concat([head, len, Buffer.alloc(n, 0x90)]);
}

describeWithBroker('hostile bytes on a cluster on RabbitMQ', () => {
  let cluster: Testing.Cluster;
  let keyHolder: Transport;
  let nodes: NodeId[];
  let unlock: () => void = () => undefined;
  const inboxQueue = replyQueue(`key-holder-${randomBytes(4).toString('hex')}` as ProcId);
  const inbox: Array<Record<string, unknown>> = [];

  async function stillServing(): Promise<void> {
    expect(await ray.get(add.remote(40, 2), T)).toBe(42);
  }

  function nodePids(): number[] {
    return cluster.nodes.map((n) => cluster.nodePid(n)!);
  }

  beforeAll(async () => {
    unlock = await lockAmqpSuites();
    process.env.RAYBUS_LEASE_REPORT_MS = '300';
    // No prestarted workers: a node starts a process only for work it was given, so a child
    // that appears is the one a test's message made it start (a prestarted pool starts one in
    // the background whenever work takes one).
    process.env.RAYBUS_PRESTART_WORKERS = '0';
    cluster = await Cluster.start({ address: AMQP_TEST_URL, nodes: [{ numCpus: 2 }, { numCpus: 2 }] });
    delete process.env.RAYBUS_LEASE_REPORT_MS;
    delete process.env.RAYBUS_PRESTART_WORKERS;
    nodes = cluster.nodes.map((n) => n.nodeId);
    await ray.init({ address: cluster.address, namespace: 'robustness' });
    keyHolder = openClusterTransport(cluster.address, { connectionName: 'raybus test key holder', clusterKey: cluster.clusterKey!, maxMessageBytes: 24 * MiB });
    await keyHolder.connect();
    await keyHolder.assertQueue(inboxQueue);
    await keyHolder.consume(inboxQueue, (d) => (d.ack(), inbox.push(decodeEnvelope(d.body) as Record<string, unknown>)), { prefetch: 0 });
    await stillServing();
  }, 120_000);

  afterAll(async () => {
    await ray.shutdown().catch(() => undefined);
    await keyHolder?.close().catch(() => undefined);
    await cluster?.shutdown();
    unlock();
  }, 90_000);

  test('16 MB of array headers is refused before decoding (with or without the key): node memory stays bounded', async () => {
    const baseline = Math.max(...nodePids().map(rssOf));
    const bomb = arrayBomb(15 * MiB);
    const before = await clusterState(keyHolder, 5000);
    // Without the key: refused unopened. With it: opened, then refused by the decoder's bounds.
    const raw = createTransport(cluster.address, { connectionName: 'raybus test bomber', maxMessageBytes: 24 * MiB });
    await raw.connect();
    for (const n of nodes) {
      await raw.publish(BROKER_QUEUE, bomb);
      await raw.publish(nodeQueue(n), bomb);
      await keyHolder.publish(BROKER_QUEUE, bomb);
      await keyHolder.publish(nodeQueue(n), bomb);
    }
    await raw.close();
    await awaitRefusals(keyHolder, refusedIn(before) + 2 * nodes.length);
    await awaitRefusals(keyHolder, malformedIn(before) + 2 * nodes.length, malformedIn);
    await stillServing();
    for (const pid of nodePids()) {
      expect(alive(pid)).toBe(true);
      expect(rssOf(pid)).toBeLessThan(2 * baseline + 100 * MiB);
    }
  });

  test('a message above the limit is refused before its seal is checked', async () => {
    const before = await clusterState(keyHolder, 5000);
    const big = randomBytes(17 * MiB);
    await keyHolder.publish(nodeQueue(nodes[0]!), big);
    const state = await awaitRefusals(keyHolder, refusedIn(before) + 1);
    const reasons = Object.keys(state.nodes.find((n) => n.nodeId === nodes[0])!.refused ?? {});
    expect(reasons.some((r) => /larger than \d+ bytes/.test(r))).toBe(true);
    await stillServing();
  });

  test('poison messages from a key holder are dead-lettered with a reason, crash nothing, and never come back', async () => {
    const { worker, pid: workerPid } = await ray.get(whoAmI.remote(), T);
    const prefix = new URL(cluster.address).searchParams.get('cluster')!;
    const conn = await amqp.connect(AMQP_TEST_URL);
    const ch = await conn.createChannel();
    const dead: Array<{ queue: string; reason: string }> = [];
    await ch.consume(
      'raybus.dead-letters',
      (m) => {
        if (!m) return;
        const queue = String(m.properties.headers?.['x-raybus-death-queue'] ?? '');
        const reason = String(m.properties.headers?.['x-raybus-death-reason'] ?? '');
        // This test's poison (the bombs of the first test lie there too).
        if (queue.startsWith(`${prefix}:`) && /^malformed: '(request-lease|owner-register|task)'/.test(reason)) dead.push({ queue: queue.slice(prefix.length + 1), reason });
      },
      { noAck: true },
    );
    try {
      const before = await clusterState(keyHolder, 5000);
      const task = (id: string, extra: Record<string, unknown>) => ({
        t: 'task',
        task: `poison-${id}`,
        fn: { id: 'poison', name: 'poison', kind: 'function', source: '() => 1' },
        args: [{ d: encodeValue(1) }],
        nret: 1,
        owner: inboxQueue,
        ctx: { jobId: 'poison', namespace: 'poison', attempt: 0 },
        lease: `poison@${nodes[0]}`,
        ...extra,
      });
      const poison: Array<[string, unknown]> = [
        [BROKER_QUEUE, { t: 'request-lease', req: 'p1', owner: inboxQueue, demand: { CPU: 1 }, strategy: null, desc: 'null strategy' }],
        [BROKER_QUEUE, { t: 'owner-register', owner: inboxQueue, presence: { not: 'a string' } }],
        [workerQueue(worker as WorkerId), task('null-arg', { args: [null] })],
        [workerQueue(worker as WorkerId), task('huge-nret', { nret: 1e9 })],
      ];
      for (const [queue, msg] of poison) await keyHolder.publish(queue, encodeEnvelope(msg));
      await eventually(() => (dead.length >= poison.length ? true : undefined), 30_000, 'the poison messages to be dead-lettered');
      expect(dead.map((d) => d.queue).sort()).toEqual([BROKER_QUEUE, BROKER_QUEUE, workerQueue(worker as WorkerId), workerQueue(worker as WorkerId)].sort());
      expect(dead.map((d) => d.reason).sort()).toEqual([
        expect.stringMatching(/^malformed: 'owner-register': presence must be a string/),
        expect.stringMatching(/^malformed: 'request-lease': strategy must be an object/),
        expect.stringMatching(/^malformed: 'task': args\[0\] must be an object/),
        expect.stringMatching(/^malformed: 'task': nret must be an integer/),
      ]);
      await awaitRefusals(keyHolder, malformedIn(before) + 2, malformedIn);
      expect(alive(workerPid)).toBe(true);
      for (const pid of nodePids()) expect(alive(pid)).toBe(true);
      await stillServing();
      expect(inbox.filter((m) => m.t === 'result')).toEqual([]);

      // The next leader never sees them: kill this one; its successor starts clean.
      const { leader } = await clusterState(keyHolder, 5000);
      const leaderNode = leader.nodeId!;
      await cluster.removeNode(leaderNode);
      const next = await eventually(
        async () => {
          const s = await clusterState(keyHolder, 3000);
          return s.leader.epoch !== leader.epoch ? s : undefined;
        },
        60_000,
        'a new broker leader',
      );
      expect(next.leader.malformed ?? 0).toBe(0);
      await stillServing();
      expect(dead).toHaveLength(poison.length);
    } finally {
      await conn.close().catch(() => undefined);
    }
  });

  test('a worker started for a lease the broker never granted is stopped', async () => {
    const node = cluster.nodes[0]!.nodeId;
    const nodePid = cluster.nodePid(node)!;
    const before = new Set(childrenOf(nodePid));
    const lease = `forged-${randomBytes(3).toString('hex')}@${node}`;
    // A runtime env of its own: a new process, never an idle one from the pool.
    await keyHolder.publish(
      nodeQueue(node),
      encodeEnvelope({ t: 'start-lease', lease, req: 'forged', owner: inboxQueue, demand: { CPU: 0 }, gpuIds: [], env: { envVars: { RAYBUS_TEST_FORGED: '1' } } }),
    );
    // The node forks it at once; the broker hears of the lease within one report (300 ms here).
    const spawned = await eventually(
      () => {
        const fresh = childrenOf(nodePid).filter((p) => !before.has(p));
        return fresh.length > 0 ? fresh : undefined;
      },
      10_000,
      'the node to start a worker for the forged lease',
      10,
    );
    await eventually(() => (spawned.every((p) => !alive(p)) ? true : undefined), 30_000, 'the worker of the forged lease to be stopped');
    expect((await clusterState(keyHolder, 5000)).leases.some((l) => l.lease === lease)).toBe(false);
    await stillServing();
  });
});
