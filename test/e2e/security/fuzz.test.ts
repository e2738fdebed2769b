/**
 * Fuzzing every kind of queue (and topic) of a running cluster with thousands of random, cut
 * short, bit-flipped and type-confused messages (fuzzer.ts, fixed seed), while valid tasks and
 * actor calls go on: every valid call completes with the right value, no process dies, and
 * memory stays bounded. On the in-memory bus (a test Cluster in this process: the messages
 * reach the decoders directly) and on RabbitMQ (with the cluster key, so they reach the
 * decoders, and without it, refused unopened). FUZZ_COUNT sets the messages per queue kind.
 */
import { randomBytes } from 'node:crypto';
import type * as Ray from '../../../src/index';
import type * as Testing from '../../../src/testing/index';
import { AMQP_TEST_URL, describeWithBroker } from '../../conformance/amqp-broker';
import { lockAmqpSuites } from '../amqp-e2e-helpers';
import { findMemoryCluster } from '../../../src/runtimes/memory-clusters';
import { openClusterTransport } from '../../../src/runtimes/open-transport';
import { createTransport } from '../../../src/transport/transport-registry';
import { slot } from '../../../src/core/runtime-state';
import {
  BROKER_ELECTED_TOPIC,
  BROKER_ELECTION_QUEUE,
  BROKER_QUEUE,
  CANCEL_TOPIC,
  OWNER_DIED_TOPIC,
  actorQueue,
  nodePresenceId,
  nodeQueue,
  presenceQueue,
  workerQueue,
} from '../../../src/protocol/queues';
import type { ActorId, NodeId, WorkerId } from '../../../src/protocol/ids';
import type { Transport } from '../../../src/transport/transport';
import { expectWarnings } from '../../support/expected-warnings';
import { fuzzMessage, seededRandom, templates } from './fuzzer';
import { alive, rssOf } from './security-helpers';

const ray: typeof Ray = require('raybus');
const { Cluster }: typeof Testing = require('raybus/testing');

jest.setTimeout(240_000);
const T = { timeoutMs: 120_000 };
const PER_KIND = Number(process.env.FUZZ_COUNT) || 2000;
const SEED = 0x5eed;
const MiB = 1024 * 1024;

const add = ray.remote((a: number, b: number) => a + b);
const whoAmI = ray.remote(async () => {
  // Held a moment, so that several workers take these at once.
  await new Promise((r) => setTimeout(r, 100));
  return { worker: ray.getRuntimeContext().workerId as string, pid: process.pid };
});
const Pinger = ray.remote(
  class Pinger {
    n = 0;
    ping() {
      return ++this.n;
    }
  },
);

/** What a fuzz run aims at. */
interface Targets {
  /** Queue → the kind of queue whose messages it is fuzzed with. */
  readonly queues: Array<[string, string]>;
  readonly topics: readonly string[];
  /** Sends junk with the cluster key (or on a bus without one). */
  readonly sender: Transport;
  /** Sends junk without the key (RabbitMQ only). */
  readonly outsider?: Transport;
  /** Memory of the processes that must stay bounded. */
  rss(): number;
  /** Processes that must stay alive. */
  pids(): number[];
}

/** Learn the targets of a cluster the driver in this process has joined. */
async function discover(): Promise<{ workers: Array<{ worker: string; pid: number }>; pinger: ReturnType<typeof Pinger.remote>; firstPing: number }> {
  const seen = await ray.get(Array.from({ length: 4 }, () => whoAmI.remote()), T);
  const workers = [...new Map(seen.map((w) => [w.worker, w])).values()];
  const pinger = Pinger.remote();
  const firstPing = await ray.get(pinger.ping.remote(), T);
  return { workers, pinger, firstPing };
}

async function fuzz(targets: Targets, pinger: ReturnType<typeof Pinger.remote>, firstPing: number): Promise<void> {
  const random = seededRandom(SEED);
  const sink = 'raybus.reply.fuzz-sink';
  await targets.sender.assertQueue(sink);
  const pools = templates(sink);
  const topicPool = [{ owner: 'raybus.reply.fuzz-owner' }, { task: 'fuzz-task' }, { t: 'broker-elected', epoch: 'fuzz' }];
  const baseline = targets.rss();
  const valid: Array<Promise<unknown>> = [];
  const expected: unknown[] = [];
  let pings = firstPing;
  let sent = 0;
  let batch: Array<Promise<void>> = [];
  const flush = async (): Promise<void> => {
    await Promise.all(batch);
    batch = [];
  };
  for (let i = 0; i < PER_KIND; i++) {
    for (const [queue, kind] of targets.queues) {
      // One in eight from the outsider (refused unopened), where there is one.
      const from = targets.outsider && random() < 0.125 ? targets.outsider : targets.sender;
      batch.push(from.publish(queue, fuzzMessage(random, pools[kind]!)).catch(() => undefined));
      sent++;
    }
    if (i % 4 === 0) {
      for (const topic of targets.topics) batch.push(targets.sender.broadcast(topic, fuzzMessage(random, topicPool)).catch(() => undefined));
    }
    if (i % 100 === 0) {
      await flush();
      // Valid work in the middle of it, which must all complete.
      valid.push(ray.get(add.remote(i, 1), T), ray.get(pinger.ping.remote(), T));
      expected.push(i + 1, ++pings);
    }
  }
  await flush();
  expect(await Promise.all(valid)).toEqual(expected);
  console.log(`fuzz: ${sent} messages to ${targets.queues.length} queues; RSS ${Math.round(baseline / MiB)} MB before, ${Math.round(targets.rss() / MiB)} MB after`);
  for (const pid of targets.pids()) expect(alive(pid)).toBe(true);
  expect(targets.rss()).toBeLessThan(2 * baseline + 100 * MiB);
  expect(await ray.get(add.remote(2, 2), T)).toBe(4);
  expect(await ray.get(pinger.ping.remote(), T)).toBe(pings + 1);
}

/**
 * Start a cluster whose processes (nodes, workers) print no warnings: they report each kind of
 * junk they reject, which is expected here, and would drown the test's output.
 */
async function quietCluster(options: Parameters<typeof Cluster.start>[0]): Promise<Testing.Cluster> {
  quiet(true);
  try {
    return await Cluster.start(options);
  } finally {
    // An in-process cluster forks its workers later, with this process's environment.
    if (options?.address !== undefined) quiet(false);
  }
}

const noWarnings = process.env.NODE_NO_WARNINGS;
/** Child processes started from now on print no warnings (or do again). */
function quiet(on: boolean): void {
  if (on) process.env.NODE_NO_WARNINGS = '1';
  else if (noWarnings === undefined) delete process.env.NODE_NO_WARNINGS;
  else process.env.NODE_NO_WARNINGS = noWarnings;
}

/** The driver's own reply queue. */
function driverReply(): string {
  return slot.core!.address;
}

// The driver reports each malformed message on its reply queue (its dispatch belongs to the core).
expectWarnings(/dropped a malformed message|failed to handle|rejected a malformed message|refused a message/);

describe('fuzzing a cluster on the in-memory bus', () => {
  let cluster: Testing.Cluster;

  beforeAll(async () => {
    cluster = await quietCluster({ nodes: [{ numCpus: 2 }] });
    await ray.init({ address: cluster.address, namespace: 'fuzz' });
  }, 60_000);

  afterAll(async () => {
    await ray.shutdown().catch(() => undefined);
    await cluster?.shutdown();
    quiet(false);
  }, 60_000);

  test(`${PER_KIND} fuzzed messages per queue kind and topic: valid work completes, nothing dies, memory bounded`, async () => {
    const { workers, pinger, firstPing } = await discover();
    const bus = findMemoryCluster(cluster.address)!.bus;
    const sender = bus.connect();
    await sender.connect();
    const nodeId = cluster.nodes[0]!.nodeId as NodeId;
    const actor = (pinger as unknown as { actorId: ActorId }).actorId;
    const queues: Array<[string, string]> = [
      [BROKER_QUEUE, 'broker'],
      [nodeQueue(nodeId), 'node'],
      ...workers.map((w): [string, string] => [workerQueue(w.worker as WorkerId), 'worker']),
      [actorQueue(actor), 'mailbox'],
      [driverReply(), 'reply'],
    ];
    await fuzz(
      {
        queues,
        topics: [OWNER_DIED_TOPIC, CANCEL_TOPIC],
        sender,
        rss: () => process.memoryUsage().rss,
        pids: () => [process.pid, ...workers.map((w) => w.pid)],
      },
      pinger,
      firstPing,
    );
    await sender.close();
  });
});

describeWithBroker('fuzzing a cluster on RabbitMQ', () => {
  let cluster: Testing.Cluster;
  let unlock: () => void = () => undefined;

  beforeAll(async () => {
    unlock = await lockAmqpSuites();
    cluster = await quietCluster({ address: AMQP_TEST_URL, nodes: [{ numCpus: 2 }] });
    await ray.init({ address: cluster.address, namespace: 'fuzz' });
  }, 120_000);

  afterAll(async () => {
    await ray.shutdown().catch(() => undefined);
    await cluster?.shutdown();
    unlock();
  }, 90_000);

  test(`${PER_KIND} fuzzed messages per queue kind, with and without the key: valid work completes, nothing dies, memory bounded`, async () => {
    const { workers, pinger, firstPing } = await discover();
    const sender = openClusterTransport(cluster.address, { connectionName: 'raybus fuzz (key holder)', clusterKey: cluster.clusterKey! });
    const outsider = createTransport(cluster.address, { connectionName: `raybus fuzz (outsider ${randomBytes(2).toString('hex')})` });
    await Promise.all([sender.connect(), outsider.connect()]);
    const nodeId = cluster.nodes[0]!.nodeId as NodeId;
    const nodePid = cluster.nodePid(nodeId)!;
    const actor = (pinger as unknown as { actorId: ActorId }).actorId;
    const queues: Array<[string, string]> = [
      [BROKER_QUEUE, 'broker'],
      [BROKER_ELECTION_QUEUE, 'election'],
      [nodeQueue(nodeId), 'node'],
      [presenceQueue(nodePresenceId(nodeId)), 'presence'],
      ...workers.map((w): [string, string] => [workerQueue(w.worker as WorkerId), 'worker']),
      [actorQueue(actor), 'mailbox'],
      [driverReply(), 'reply'],
    ];
    try {
      await fuzz(
        {
          queues,
          topics: [OWNER_DIED_TOPIC, CANCEL_TOPIC, BROKER_ELECTED_TOPIC],
          sender,
          outsider,
          rss: () => rssOf(nodePid),
          pids: () => [nodePid, ...workers.map((w) => w.pid)],
        },
        pinger,
        firstPing,
      );
    } finally {
      await sender.close().catch(() => undefined);
      await outsider.close().catch(() => undefined);
    }
  });
});
