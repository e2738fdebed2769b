/**
 * NodeManager on the in-memory bus with a fake spawner and simulated time: what the node
 * answers the broker and task owners as its workers start, fail, crash, retire and drain.
 * Ray's counterparts: worker_pool_test.cc (pooling by runtime env, idle worker killing,
 * start failures) and the raylet's node drain tests (test_draining.py).
 */
import { InMemoryBus } from '../../../src/transport/in-memory-transport';
import type { Transport } from '../../../src/transport/transport';
import { NodeManager, type NodeOptions } from '../../../src/node/node-manager';
import { SimulatedClock } from '../../../src/util/simulated-clock';
import { decodeEnvelope, encodeEnvelope } from '../../../src/serialization/serializer';
import { BROKER_QUEUE, nodeQueue, workerQueue } from '../../../src/protocol/queues';
import type { JobId, LeaseId, NodeId, ReplyQueue, RequestId } from '../../../src/protocol/ids';
import type { NodeMsg } from '../../../src/protocol/messages/node';
import type { BrokerMsg } from '../../../src/protocol/messages/broker';
import type { ReplyMsg } from '../../../src/protocol/messages/reply';
import type { RuntimeEnv } from '../../../src/protocol/runtime-env';
import { FakeSpawner, type FakeWorker } from './fake-spawner';
import { actorSpec } from '../broker/broker-harness';
import { expectWarnings } from '../../support/expected-warnings';

const NODE = 'node0000aaaa' as NodeId;
const OWNER = 'raybus.reply.driver-test' as ReplyQueue;
const ACK_TO = 'raybus.reply.driver-acks' as ReplyQueue;
const IDLE_TIMEOUT_MS = 60_000;

interface Harness {
  node: NodeManager;
  spawner: FakeSpawner;
  clock: SimulatedClock;
  broker: BrokerMsg[];
  owner: ReplyMsg[];
  acks: ReplyMsg[];
  /** The test's own bus connection. */
  test: Transport;
  send(msg: NodeMsg): Promise<void>;
  /** Let the bus and the node's promise chains run (event-loop turns, no real time). */
  settle(): Promise<void>;
  of<T extends BrokerMsg['t']>(t: T): Array<Extract<BrokerMsg, { t: T }>>;
}

let open: Harness[] = [];

async function startNode(options: Partial<NodeOptions> = {}, bus = new InMemoryBus()): Promise<Harness> {
  const clock = new SimulatedClock();
  const spawner = new FakeSpawner();
  const connect = async (): Promise<Transport> => {
    const t = bus.connect();
    await t.connect();
    return t;
  };
  const test = await connect();
  const broker: BrokerMsg[] = [];
  const owner: ReplyMsg[] = [];
  const acks: ReplyMsg[] = [];
  const collect = async (queue: string, into: unknown[]): Promise<void> => {
    await test.assertQueue(queue);
    await test.consume(
      queue,
      (d) => {
        d.ack();
        into.push(decodeEnvelope(d.body));
      },
      { prefetch: 0 },
    );
  };
  await collect(BROKER_QUEUE, broker);
  await collect(OWNER, owner);
  await collect(ACK_TO, acks);
  const node = new NodeManager({
    nodeId: NODE,
    resources: { CPU: 4 },
    jobId: 'job1' as JobId,
    namespace: 'default',
    connect,
    workerEntry: 'unused: the fake spawner starts no process',
    spawner,
    clock,
    idleWorkerTimeoutMs: IDLE_TIMEOUT_MS,
    workerStartTimeoutMs: 10_000,
    ...options,
  });
  await node.start();
  const settle = async (): Promise<void> => {
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
  };
  const h: Harness = {
    node,
    spawner,
    clock,
    broker,
    owner,
    acks,
    test,
    settle,
    async send(msg) {
      await test.publish(nodeQueue(NODE), encodeEnvelope(msg));
      await settle();
    },
    of: <T extends BrokerMsg['t']>(t: T) => broker.filter((m): m is Extract<BrokerMsg, { t: T }> => m.t === t),
  };
  open.push(h);
  await settle();
  return h;
}

afterEach(async () => {
  for (const h of open) await h.node.stop();
  open = [];
});

let n = 0;
function startLease(env?: RuntimeEnv, gpuIds: number[] = []): { msg: NodeMsg; lease: LeaseId; req: RequestId } {
  n += 1;
  const lease = `g${n}@${NODE}` as LeaseId;
  const req = `req${n}` as RequestId;
  return { lease, req, msg: { t: 'start-lease', lease, req, owner: OWNER, demand: { CPU: 1 }, gpuIds, ...(env ? { env } : {}) } };
}

/** A lease on a new worker that is ready and granted. */
async function leased(h: Harness, env?: RuntimeEnv): Promise<{ lease: LeaseId; w: FakeWorker }> {
  const { msg, lease } = startLease(env);
  const before = h.spawner.workers.length;
  await h.send(msg);
  const w = h.spawner.workers[h.spawner.workers.length - 1]!;
  if (h.spawner.workers.length > before) w.ready();
  await h.settle();
  return { lease, w };
}

describe('NodeManager', () => {
  it('registers with the broker on start', async () => {
    const h = await startNode();
    expect(h.of('node-register')).toEqual([{ t: 'node-register', node: NODE, resources: { CPU: 4 }, labels: {} }]);
  });

  it('start-lease: starts a worker and grants the lease to the owner once it is ready', async () => {
    const h = await startNode();
    const { msg, lease, req } = startLease();
    await h.send(msg);
    expect(h.spawner.workers).toHaveLength(1);
    expect(h.owner).toEqual([]);
    const w = h.spawner.workers[0]!;
    w.ready();
    await h.settle();
    expect(h.owner).toEqual([{ t: 'lease-granted', req, lease, worker: w.spec.workerId, node: NODE }]);
    expect(h.node.leaseReports()).toEqual([{ lease, worker: w.spec.workerId, demand: { CPU: 1 }, gpuIds: [], owner: OWNER, req }]);
  });

  it('start failure: the owner gets lease-failed, the broker worker-died (once), the worker is stopped', async () => {
    const h = await startNode();
    const { msg, lease, req } = startLease();
    await h.send(msg);
    const w = h.spawner.workers[0]!;
    w.failToStart(new Error('spawn EAGAIN'));
    await h.settle();
    expect(h.owner).toEqual([{ t: 'lease-failed', req, err: expect.objectContaining({ name: 'WorkerCrashedError', message: 'The worker process could not be started: spawn EAGAIN' }) }]);
    expect(h.of('worker-died')).toEqual([{ t: 'worker-died', node: NODE, worker: w.spec.workerId, lease, reason: 'The worker process could not be started: spawn EAGAIN' }]);
    expect(w.killed).toBe(1);
    expect(w.exited).toBe(true);
    expect(w.closed).toBe(true);
    expect(h.of('worker-died')).toHaveLength(1);
  });

  it('runtime env setup failure: the lease fails with RuntimeEnvSetupError; an actor is dead without restarts', async () => {
    const h = await startNode();
    const env = { envVars: { A: '1' } };
    const { msg, req } = startLease(env);
    await h.send(msg);
    h.spawner.workers[0]!.failEnvSetup('Failed to set up the runtime env: no module x');
    await h.settle();
    expect(h.owner).toEqual([{ t: 'lease-failed', req, err: expect.objectContaining({ name: 'RuntimeEnvSetupError' }) }]);
    expect(h.spawner.workers[0]!.spec.runtimeEnv).toEqual(env);

    const spec = actorSpec('actor1', { lifetime: { CPU: 0 }, ctx: { jobId: 'j' as JobId, namespace: 'ns', attempt: 0, env } });
    await h.send({ t: 'start-actor', lease: `ga@${NODE}` as LeaseId, spec, gpuIds: [], restart: false });
    h.spawner.workers[1]!.failEnvSetup('no module y');
    await h.settle();
    expect(h.of('actor-failed')).toEqual([
      { t: 'actor-failed', actor: 'actor1', err: expect.objectContaining({ name: 'RuntimeEnvSetupError', message: 'no module y' }), intentional: false, initFailed: true },
    ]);
  });

  it('a start that times out (simulated time) fails the lease', async () => {
    const h = await startNode();
    const { msg, req } = startLease();
    await h.send(msg);
    await h.clock.advance(9_999);
    expect(h.owner).toEqual([]);
    await h.clock.advance(1);
    await h.settle();
    expect(h.owner).toEqual([{ t: 'lease-failed', req, err: expect.objectContaining({ message: 'The worker process did not start within 10000 ms.' }) }]);
  });

  it('release-lease: the worker goes back to the pool and is reused for the same env', async () => {
    const h = await startNode();
    const { lease, w } = await leased(h);
    await h.send({ t: 'release-lease', lease });
    const next = startLease();
    await h.send(next.msg);
    expect(h.spawner.workers).toHaveLength(1);
    expect(h.owner.at(-1)).toEqual({ t: 'lease-granted', req: next.req, lease: next.lease, worker: w.spec.workerId, node: NODE });
    // A different env needs its own worker.
    await leased(h, { envVars: { B: '2' } });
    expect(h.spawner.workers).toHaveLength(2);
  });

  it('idle workers of any env are reaped after the idle timeout (none prestarted here)', async () => {
    const h = await startNode();
    const d = await leased(h);
    const e = await leased(h, { envVars: { B: '2' } });
    await h.send({ t: 'release-lease', lease: d.lease });
    await h.send({ t: 'release-lease', lease: e.lease });
    await h.clock.advance(IDLE_TIMEOUT_MS - 1);
    expect([d.w.killed, e.w.killed]).toEqual([0, 0]);
    await h.clock.advance(1);
    await h.settle();
    expect([d.w.killed, e.w.killed]).toEqual([1, 1]);
    expect(e.w.exited).toBe(true);
    // Stopped on purpose: not a death the broker hears of.
    expect(h.of('worker-died')).toEqual([]);
  });

  it('kill-worker: acknowledged only once the worker has exited; its death is reported with the lease', async () => {
    const h = await startNode();
    const { lease, w } = await leased(h);
    w.holdExit = true;
    await h.send({ t: 'kill-worker', lease, reply: ACK_TO, req: 'kill1' as RequestId });
    expect(w.killed).toBe(1);
    expect(h.acks).toEqual([]);
    w.exit('worker process was killed by SIGKILL');
    await h.settle();
    expect(h.acks).toEqual([{ t: 'ack', req: 'kill1' }]);
    expect(w.closed).toBe(true);
    expect(h.of('worker-died')).toEqual([{ t: 'worker-died', node: NODE, worker: w.spec.workerId, lease, reason: 'worker process was killed by SIGKILL' }]);
    // A lease nobody holds is acknowledged at once.
    await h.send({ t: 'kill-worker', lease: 'gnone@x' as LeaseId, reply: ACK_TO, req: 'kill2' as RequestId });
    expect(h.acks.at(-1)).toEqual({ t: 'ack', req: 'kill2' });
  });

  it('a crash reports worker-died with its lease, or its actor, exactly once', async () => {
    const h = await startNode();
    const { lease, w } = await leased(h);
    w.exit();
    await h.settle();
    w.exit('again');
    await h.settle();
    expect(h.of('worker-died')).toEqual([{ t: 'worker-died', node: NODE, worker: w.spec.workerId, lease, reason: `worker process ${w.pid} exited with code 1` }]);

    const spec = actorSpec('actor2', { lifetime: { CPU: 1 } });
    const actorLease = `gb@${NODE}` as LeaseId;
    await h.send({ t: 'start-actor', lease: actorLease, spec, gpuIds: [], restart: false });
    const a = h.spawner.workers.at(-1)!;
    const hosted: unknown[] = [];
    // A worker declares and consumes its queue before it says it is ready.
    const queue = workerQueue(a.spec.workerId);
    await h.test.assertQueue(queue);
    await h.test.consume(queue, (d) => (d.ack(), hosted.push(decodeEnvelope(d.body))), { prefetch: 0 });
    a.ready();
    await h.settle();
    expect(hosted).toEqual([{ t: 'host-actor', spec, restart: false, nodeId: NODE }]);
    a.exit();
    await h.settle();
    expect(h.of('worker-died').slice(1)).toEqual([{ t: 'worker-died', node: NODE, worker: a.spec.workerId, lease: actorLease, actor: 'actor2', reason: `worker process ${a.pid} exited with code 1` }]);
  });

  it('maxCalls: a retiring worker is stopped when its lease is released, and the next lease gets a new one', async () => {
    const h = await startNode();
    const { lease, w } = await leased(h);
    w.retire();
    await h.send({ t: 'release-lease', lease });
    expect(w.killed).toBe(1);
    await leased(h);
    expect(h.spawner.workers).toHaveLength(2);
    expect(h.of('worker-died')).toEqual([]);
  });

  it('prestarted workers serve the first leases even before they are ready; each one taken is replaced', async () => {
    const h = await startNode({ prestart: 2 });
    expect(h.spawner.workers).toHaveLength(2);
    const { msg, req, lease } = startLease();
    await h.send(msg);
    // The lease took a prestarted worker (no new one for it); its replacement starts once work
    // has stopped taking workers for a moment (it would take the CPU a burst needs).
    expect(h.spawner.workers).toHaveLength(2);
    await h.clock.advance(200);
    expect(h.spawner.workers).toHaveLength(3);
    for (const w of h.spawner.workers) w.ready();
    await h.settle();
    expect(h.owner).toEqual([{ t: 'lease-granted', req, lease, worker: h.spawner.workers[1]!.spec.workerId, node: NODE }]);
  });

  it('a burst of actors takes the warm workers, then starts its own; the pool is warm again after', async () => {
    const h = await startNode({ prestart: 2 });
    for (const i of [1, 2, 3]) {
      const spec = actorSpec(`burst${i}`, { lifetime: { CPU: 0 } });
      await h.send({ t: 'start-actor', lease: `gb${i}@${NODE}` as LeaseId, spec, gpuIds: [], restart: false });
    }
    // 2 prestarted, the third actor a process of its own; no replacement during the burst.
    expect(h.spawner.workers).toHaveLength(3);
    await h.clock.advance(199);
    expect(h.spawner.workers).toHaveLength(3);
    // The burst is over: 2 warm again.
    await h.clock.advance(1);
    expect(h.spawner.workers).toHaveLength(5);
    for (const w of h.spawner.workers) w.ready();
    await h.settle();
    const hosts = h.node.leaseReports().map((r) => r.worker);
    expect(hosts).toHaveLength(3);
    const idle = h.spawner.workers.filter((w) => !hosts.includes(w.spec.workerId));
    expect(idle).toHaveLength(2);
    // The warm ones are kept however long they stay idle.
    await h.clock.advance(IDLE_TIMEOUT_MS * 3);
    expect(idle.map((w) => w.killed)).toEqual([0, 0]);
  });

  it('an actor gets a worker that has run nothing; a lease takes a used one first; used ones go after the idle timeout', async () => {
    const h = await startNode({ prestart: 1 });
    const [warm] = h.spawner.workers;
    warm!.ready();
    const a = startLease();
    await h.send(a.msg);
    expect(h.owner.at(-1)).toMatchObject({ t: 'lease-granted', lease: a.lease, worker: warm!.spec.workerId });
    // The burst is over: a fresh one is started to replace the prestarted worker.
    await h.clock.advance(200);
    expect(h.spawner.workers).toHaveLength(2);
    const fresh = h.spawner.workers[1]!;
    fresh.ready();
    await h.send({ t: 'release-lease', lease: a.lease });
    // The next lease takes the worker that ran the first (warm code, nothing new touched)...
    const b = startLease();
    await h.send(b.msg);
    expect(h.owner.at(-1)).toMatchObject({ t: 'lease-granted', lease: b.lease, worker: warm!.spec.workerId });
    await h.send({ t: 'release-lease', lease: b.lease });
    // ...and an actor, which keeps its process for life, the fresh one, never the used one.
    await h.send({ t: 'start-actor', lease: `ga1@${NODE}` as LeaseId, spec: actorSpec('fresh1', { lifetime: { CPU: 0 } }), gpuIds: [], restart: false });
    expect(h.node.leaseReports().find((r) => r.lease === `ga1@${NODE}`)?.worker).toBe(fresh.spec.workerId);
    await h.send({ t: 'start-actor', lease: `ga2@${NODE}` as LeaseId, spec: actorSpec('fresh2', { lifetime: { CPU: 0 } }), gpuIds: [], restart: false });
    expect(h.spawner.workers).toHaveLength(3);
    expect(h.node.leaseReports().find((r) => r.lease === `ga2@${NODE}`)?.worker).toBe(h.spawner.workers[2]!.spec.workerId);
    // A fresh worker is started again once the burst is over; the used one, idle, goes after
    // the timeout, though only one is kept warm; the fresh one stays.
    await h.clock.advance(200);
    expect(h.spawner.workers).toHaveLength(4);
    const refilled = h.spawner.workers[3]!;
    refilled.ready();
    await h.settle();
    await h.clock.advance(IDLE_TIMEOUT_MS);
    await h.settle();
    expect(warm!.killed).toBe(1);
    await h.clock.advance(IDLE_TIMEOUT_MS * 3);
    expect(refilled.killed).toBe(0);
  });

  it('idle workers beyond the prestarted ones are reaped after the idle timeout (simulated time)', async () => {
    const h = await startNode({ prestart: 1 });
    // Two leases: the prestarted worker and a new one, plus a replacement (3 processes).
    const a = startLease();
    const b = startLease();
    await h.send(a.msg);
    await h.send(b.msg);
    await h.clock.advance(200);
    for (const w of h.spawner.workers) w.ready();
    await h.settle();
    expect(h.spawner.workers).toHaveLength(3);
    await h.send({ t: 'release-lease', lease: a.lease });
    await h.send({ t: 'release-lease', lease: b.lease });
    await h.clock.advance(IDLE_TIMEOUT_MS - 1);
    expect(h.spawner.workers.filter((w) => w.killed > 0)).toHaveLength(0);
    await h.clock.advance(1);
    await h.settle();
    // 3 idle, 1 kept warm: the 2 idle longest go.
    expect(h.spawner.workers.filter((w) => w.killed > 0)).toHaveLength(2);
    expect(h.spawner.workers.filter((w) => !w.exited)).toHaveLength(1);
  });

  it('a node that stops starts no replacement and leaves no worker behind', async () => {
    const h = await startNode({ prestart: 2 });
    await leased(h);
    // Work took a warm worker: its replacement waits, and the node stops before it is due.
    const started = h.spawner.workers.length;
    await h.node.stop();
    await h.clock.advance(1_000);
    expect(h.spawner.workers).toHaveLength(started);
    expect(h.spawner.workers.every((w) => w.exited)).toBe(true);
  });

  describe('drain', () => {
    it('gives back idle leases at once, waits for busy workers, then leaves', async () => {
      const h = await startNode();
      const idle = await leased(h);
      const busy = await leased(h);
      busy.w.inFlight = 1;
      const pooled = await leased(h);
      await h.send({ t: 'release-lease', lease: pooled.lease });
      const lines: string[] = [];
      let done = false;
      const drained = h.node.drain(5_000, (l) => lines.push(l)).then(() => (done = true));
      await h.settle();
      expect(h.of('node-draining')).toHaveLength(1);
      expect(pooled.w.killed).toBe(1);
      expect(idle.w.paused).toBe(true);
      expect(h.of('lease-revoked')).toEqual([{ t: 'lease-revoked', node: NODE, lease: idle.lease, reason: `its node ${NODE} is draining` }]);
      expect(idle.w.killed).toBe(1);
      expect(busy.w.paused).toBe(false);
      expect(lines).toEqual(['waiting for 1 worker to finish its current work']);
      expect(done).toBe(false);
      busy.w.finishWork();
      await drained;
      expect(h.of('lease-revoked').map((m) => m.lease)).toEqual([idle.lease, busy.lease]);
      expect(h.of('node-gone')).toHaveLength(1);
      expect(h.of('worker-died')).toEqual([]);
      expect(h.spawner.workers.every((w) => w.exited)).toBe(true);
    });

    it('stops work still running at the timeout (simulated time)', async () => {
      const h = await startNode();
      const busy = await leased(h);
      busy.w.inFlight = 2;
      const lines: string[] = [];
      let done = false;
      const drained = h.node.drain(5_000, (l) => lines.push(l)).then(() => (done = true));
      await h.settle();
      await h.clock.advance(4_999);
      expect(done).toBe(false);
      expect(busy.w.killed).toBe(0);
      await h.clock.advance(1);
      await drained;
      expect(lines).toEqual(['waiting for 1 worker to finish its current work', 'drain timeout (5000 ms): stopping 1 busy worker; their work fails over']);
      expect(busy.w.killed).toBe(1);
      expect(h.of('node-gone')).toHaveLength(1);
      // The node stopped: the busy worker's lease fails over through node-gone, not worker-died.
      expect(h.of('worker-died')).toEqual([]);
    });

    it('a worker still starting when the drain begins is granted, then gives its lease back once idle', async () => {
      const h = await startNode();
      const { msg, lease, req } = startLease();
      await h.send(msg);
      const w = h.spawner.workers[0]!;
      let done = false;
      const drained = h.node.drain(5_000).then(() => (done = true));
      await h.settle();
      expect(done).toBe(false);
      w.ready();
      await drained;
      expect(h.owner).toEqual([{ t: 'lease-granted', req, lease, worker: w.spec.workerId, node: NODE }]);
      expect(h.of('lease-revoked').map((m) => m.lease)).toEqual([lease]);
      expect(w.paused).toBe(true);
    });

    it('stops an actor once it is idle; its death is reported as drained', async () => {
      const h = await startNode();
      const spec = actorSpec('actor3', { lifetime: { CPU: 1 } });
      const lease = `gc@${NODE}` as LeaseId;
      await h.send({ t: 'start-actor', lease, spec, gpuIds: [], restart: false });
      const a = h.spawner.workers[0]!;
      a.ready();
      await h.settle();
      await h.node.drain(5_000);
      expect(h.of('worker-died')).toEqual([{ t: 'worker-died', node: NODE, worker: a.spec.workerId, lease, actor: 'actor3', reason: `its node ${NODE} was drained` }]);
    });
  });
  describe('hostile input and lease reports', () => {
    it('a malformed message on the node queue is dead-lettered with its reason; the node goes on', async () => {
      const warned = expectWarnings(/raybus node: rejected a malformed message on raybus\.node\./);
      const h = await startNode();
      await h.test.publish(nodeQueue(NODE), encodeEnvelope({ t: 'start-lease', lease: 'x', req: 'y', owner: OWNER, demand: { CPU: 1 }, gpuIds: null }));
      await h.test.publish(nodeQueue(NODE), new Uint8Array([0xc1]));
      await h.settle();
      expect(h.spawner.workers).toHaveLength(0);
      expect(h.node.malformedCount).toBe(2);
      expect(warned.messages()).toEqual([expect.stringMatching(/\(1 so far\): 'start-lease': gpuIds must be an array/)]);
      const { msg, req } = startLease();
      await h.send(msg);
      h.spawner.workers[0]!.ready();
      await h.settle();
      expect(h.owner.map((m) => m.t === 'lease-granted' && m.req)).toEqual([req]);
    });

    it('in cluster mode, reports its leases and refusals every leaseReportMs; kill-worker stops a lease the broker does not know', async () => {
      const h = await startNode({ cluster: true, leaseReportMs: 10_000, refusals: () => ({ 'bad seal (another cluster key, or altered)': 4 }) });
      const { lease, w } = await leased(h);
      expect(h.of('leases-report')).toEqual([]);
      await h.clock.advance(10_000);
      await h.settle();
      expect(h.of('leases-report')).toEqual([{ t: 'leases-report', node: NODE, leases: [lease], refused: { 'bad seal (another cluster key, or altered)': 4 } }]);
      await h.send({ t: 'kill-worker', lease });
      expect(w.killed).toBe(1);
      await h.clock.advance(10_000);
      await h.settle();
      expect(h.of('leases-report')[1]).toMatchObject({ leases: [] });
    });
  });
});

describe('blocked tasks (Ray: the raylet hears NotifyWorkerBlocked / NotifyWorkerUnblocked)', () => {
  it('a worker’s blocked task reaches the broker once per change, and the node’s reports carry it for a new leader', async () => {
    const h = await startNode();
    const { lease } = await leased(h);
    await h.send({ t: 'worker-blocked', lease, blocked: true });
    await h.send({ t: 'worker-blocked', lease, blocked: true });
    expect(h.of('lease-blocked')).toEqual([{ t: 'lease-blocked', node: NODE, lease, blocked: true }]);
    expect(h.node.leaseReports()).toEqual([expect.objectContaining({ lease, blocked: true })]);
    await h.send({ t: 'worker-blocked', lease, blocked: false });
    expect(h.of('lease-blocked').map((m) => m.blocked)).toEqual([true, false]);
    expect(h.node.leaseReports()[0]!.blocked).toBeUndefined();
    // A lease this node does not hold (released, or never granted) is not reported.
    await h.send({ t: 'release-lease', lease });
    await h.send({ t: 'worker-blocked', lease, blocked: true });
    await h.send({ t: 'worker-blocked', lease: `g999@${NODE}` as LeaseId, blocked: true });
    expect(h.of('lease-blocked')).toHaveLength(2);
  });
});

describe("NodeManager: shared actors (isolation: 'shared')", () => {
  /** Consume worker `w`'s queue as its process would, collecting what the node sends it. */
  async function workerInbox(h: Harness, w: FakeWorker): Promise<unknown[]> {
    const got: unknown[] = [];
    const queue = workerQueue(w.spec.workerId);
    await h.test.assertQueue(queue);
    await h.test.consume(queue, (d) => (d.ack(), got.push(decodeEnvelope(d.body))), { prefetch: 0 });
    return got;
  }
  const shared = (id: string, maxRestarts = 0) => actorSpec(id, { iso: 'shared', maxRestarts });
  const start = (h: Harness, i: number) =>
    h.send({ t: 'start-actor', lease: `gs${i}@${NODE}` as LeaseId, spec: shared(`shared${i}`), gpuIds: [], restart: false });

  it('hosts many actors of one env in one process: those given while it starts go once it is ready', async () => {
    const h = await startNode();
    for (const i of [1, 2, 3]) await start(h, i);
    expect(h.spawner.workers).toHaveLength(1);
    const w = h.spawner.workers[0]!;
    const inbox = await workerInbox(h, w);
    expect(inbox).toEqual([]);
    w.ready();
    await h.settle();
    expect(inbox).toEqual([1, 2, 3].map((i) => ({ t: 'host-actor', spec: shared(`shared${i}`), restart: false, nodeId: NODE })));
    await start(h, 4);
    await h.settle();
    expect(inbox).toHaveLength(4);
    expect(h.node.leaseReports().map((r) => r.lease)).toEqual([1, 2, 3, 4].map((i) => `gs${i}@${NODE}`));
    // Another env, or a process actor, is not put with them.
    await h.send({ t: 'start-actor', lease: `gp@${NODE}` as LeaseId, spec: actorSpec('own'), gpuIds: [], restart: false });
    await h.send({ t: 'start-actor', lease: `ge@${NODE}` as LeaseId, spec: actorSpec('env', { iso: 'shared', ctx: { jobId: 'j' as JobId, namespace: 'ns', attempt: 0, env: { envVars: { A: '1' } } } }), gpuIds: [], restart: false });
    expect(h.spawner.workers).toHaveLength(3);
  });

  it('kill-worker of one shared actor ends its mailbox consumer and tells the worker; the last one stops the process', async () => {
    const h = await startNode();
    for (const i of [1, 2]) await start(h, i);
    const w = h.spawner.workers[0]!;
    const inbox = await workerInbox(h, w);
    w.ready();
    await h.settle();
    await h.send({ t: 'kill-worker', lease: `gs1@${NODE}` as LeaseId, reply: ACK_TO, req: 'k1' as RequestId });
    await h.settle();
    expect(w.killed).toBe(0);
    expect(w.dropped).toEqual(['raybus.actor.shared1']);
    expect(inbox.at(-1)).toEqual({ t: 'stop-actor', actor: 'shared1' });
    expect(h.acks).toEqual([{ t: 'ack', req: 'k1' }]);
    expect(h.node.leaseReports().map((r) => r.lease)).toEqual([`gs2@${NODE}`]);
    await h.send({ t: 'kill-worker', lease: `gs2@${NODE}` as LeaseId, reply: ACK_TO, req: 'k2' as RequestId });
    await h.settle();
    expect(w.killed).toBe(1);
    expect(h.acks.at(-1)).toEqual({ t: 'ack', req: 'k2' });
    // Nothing is reported for actors killed on purpose.
    expect(h.of('worker-died')).toEqual([]);
  });

  it("a host takes no more shared actors than one bus connection can consume (the bus's maxConsumers)", async () => {
    const bus = new InMemoryBus({ capabilities: { singleActiveConsumer: true, requeueAtHead: true, queueExpiry: true, leases: false, maxConsumers: 66 } });
    const h = await startNode({}, bus);
    for (const i of [1, 2, 3]) await start(h, i);
    // 66 consumers, 64 kept for the worker's own queues and topics: 2 actors a host.
    expect(h.spawner.workers).toHaveLength(2);
  });

  it('a crash of the host is the death of each actor on it (and only of those still there)', async () => {
    const h = await startNode();
    for (const i of [1, 2, 3]) await start(h, i);
    const w = h.spawner.workers[0]!;
    w.ready();
    await h.settle();
    await h.send({ t: 'kill-worker', lease: `gs2@${NODE}` as LeaseId });
    w.exit();
    await h.settle();
    expect(h.of('worker-died').map((m) => [m.lease, m.actor])).toEqual([
      [`gs1@${NODE}`, 'shared1'],
      [`gs3@${NODE}`, 'shared3'],
    ]);
    // The next shared actor gets a new host.
    await start(h, 4);
    expect(h.spawner.workers).toHaveLength(2);
  });

  it('a host that fails to start fails each actor given to it, except one killed meanwhile', async () => {
    const h = await startNode();
    for (const i of [1, 2, 3]) await start(h, i);
    await h.send({ t: 'kill-worker', lease: `gs1@${NODE}` as LeaseId });
    h.spawner.workers[0]!.failToStart(new Error('spawn EAGAIN'));
    await h.settle();
    expect(h.of('worker-died').map((m) => m.actor)).toEqual(['shared2', 'shared3']);
  });
});
