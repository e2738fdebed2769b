/**
 * Lease dispatch and release on the broker server, driven through `raybus.broker` with fake
 * nodes and owners on the in-memory bus. After Ray's scheduling tests
 * (python/ray/tests/test_scheduling.py, test_basic.py: infeasible tasks, resource accounting)
 * and GCS fault-tolerance tests (test_gcs_fault_tolerance.py: node death fails leases over).
 */
import type { LeaseId, NodeId, ReplyQueue, WorkerId } from '../../../src/protocol/ids';
import { OWNER_DIED_TOPIC } from '../../../src/protocol/queues';
import { encodeEnvelope } from '../../../src/serialization/serializer';
import { BrokerHarness, actorSpec, settle, type Inbox } from './broker-harness';

let h: BrokerHarness;
afterEach(async () => {
  await h.stop();
});

const leases = (node: Inbox): Array<{ lease: LeaseId; req: string }> => node.of('start-lease') as never;

describe('lease dispatch', () => {
  test('leases are granted within capacity, and waiting work is granted in order as resources free', async () => {
    h = await BrokerHarness.start();
    const n1 = await h.node('n1', { CPU: 2 });
    const { queue: owner } = await h.owner('a');
    for (const req of ['r1', 'r2', 'r3', 'r4']) await h.requestLease(owner, req, { CPU: 1 });
    expect(leases(n1).map((l) => l.req)).toEqual(['r1', 'r2']);
    expect(h.server.clusterInfo().available).toEqual({});
    expect(h.server.clusterState().pending.map((p) => p.id)).toEqual(['r3', 'r4']);

    await h.send({ t: 'return-lease', lease: leases(n1)[1]!.lease });
    expect(n1.of('release-lease')).toEqual([{ t: 'release-lease', lease: leases(n1)[1]!.lease }]);
    expect(leases(n1).map((l) => l.req)).toEqual(['r1', 'r2', 'r3']);
    await h.send({ t: 'return-lease', lease: leases(n1)[0]!.lease });
    expect(leases(n1).map((l) => l.req)).toEqual(['r1', 'r2', 'r3', 'r4']);
    expect(h.server.clusterState().pending).toEqual([]);
  });

  test('work that waits for resources asks every owner holding task leases for its idle ones (leases-wanted)', async () => {
    h = await BrokerHarness.start();
    const n1 = await h.node('n1', { CPU: 2 });
    const a = await h.owner('a');
    const b = await h.owner('b');
    await h.requestLease(a.queue, 'a1', { CPU: 1 });
    await h.requestLease(b.queue, 'b1', { CPU: 1 });
    expect(leases(n1).map((l) => l.req)).toEqual(['a1', 'b1']);
    // Granted at once: nobody is asked for anything.
    expect([...a.inbox.of('leases-wanted'), ...b.inbox.of('leases-wanted')]).toEqual([]);
    await h.requestLease(b.queue, 'b2', { CPU: 1 });
    expect(a.inbox.of('leases-wanted')).toEqual([{ t: 'leases-wanted' }]);
    expect(b.inbox.of('leases-wanted')).toEqual([{ t: 'leases-wanted' }]);
    // Owner a gives its idle lease back: b2 runs, nothing waits, nobody is asked again.
    await h.send({ t: 'return-lease', lease: leases(n1)[0]!.lease });
    expect(leases(n1).map((l) => l.req)).toEqual(['a1', 'b1', 'b2']);
    expect(a.inbox.of('leases-wanted')).toHaveLength(1);
    // Infeasible work is not helped by idle leases: nobody is asked for it.
    await h.requestLease(a.queue, 'gpu', { GPU: 1 });
    expect(b.inbox.of('leases-wanted')).toHaveLength(1);
  });

  test('a cancelled lease request is never granted', async () => {
    h = await BrokerHarness.start();
    const n1 = await h.node('n1', { CPU: 1 });
    const { queue: owner } = await h.owner('a');
    await h.requestLease(owner, 'r1', { CPU: 1 });
    await h.requestLease(owner, 'r2', { CPU: 1 });
    await h.send({ t: 'cancel-lease-request', req: 'r2' as never });
    await h.send({ t: 'return-lease', lease: leases(n1)[0]!.lease });
    expect(leases(n1).map((l) => l.req)).toEqual(['r1']);
    expect(h.server.clusterInfo().available).toEqual({ CPU: 1 });
  });

  test('infeasible work waits visibly (one warning) without blocking feasible work, and runs once a node fits', async () => {
    h = await BrokerHarness.start();
    const n1 = await h.node('n1', { CPU: 2 });
    const { queue: owner } = await h.owner('a');
    await h.requestLease(owner, 'gpu', { GPU: 1 });
    await h.requestLease(owner, 'cpu', { CPU: 1 });
    expect(leases(n1).map((l) => l.req)).toEqual(['cpu']);
    const pending = h.server.clusterState().pending;
    expect(pending).toEqual([expect.objectContaining({ id: 'gpu', kind: 'task', infeasible: true })]);
    expect(h.warnings.filter((w) => w.includes('infeasible'))).toHaveLength(1);
    expect(h.warnings[0]).toContain('{GPU: 1}');

    // More passes over the queue do not warn again.
    await h.requestLease(owner, 'cpu2', { CPU: 1 });
    await h.send({ t: 'return-lease', lease: leases(n1)[0]!.lease });
    expect(h.warnings.filter((w) => w.includes('infeasible'))).toHaveLength(1);

    const n2 = await h.node('n2', { CPU: 1, GPU: 1 });
    expect(leases(n2).map((l) => l.req)).toEqual(['gpu']);
    expect(h.server.clusterState().pending).toEqual([]);
  });

  test('the owner of an infeasible lease request is told so, once (its driver need not stay alive for it)', async () => {
    h = await BrokerHarness.start();
    await h.node('n1', { CPU: 2 });
    const { queue: owner, inbox } = await h.owner('a');
    await h.requestLease(owner, 'never', { unobtainium: 1 });
    await h.requestLease(owner, 'cpu', { CPU: 1 });
    await h.requestLease(owner, 'cpu2', { CPU: 1 });
    expect(inbox.of('lease-infeasible')).toEqual([{ t: 'lease-infeasible', req: 'never' }]);
  });

  test('in a cluster, the owner of infeasible work hears the warning too (its driver prints it)', async () => {
    h = await BrokerHarness.start({ cluster: { epoch: 'e1', restoreGraceMs: 0, leaderNode: 'n1' as NodeId } });
    await h.node('n1', { CPU: 2 });
    const a = await h.owner('a');
    await h.requestLease(a.queue, 'gpu', { GPU: 1 });
    // The new leader's restore grace (0 ms) ends on the next turn of its clock.
    await h.advance(1);
    const told = a.inbox.of('log-lines');
    expect(told).toHaveLength(1);
    expect(told[0]).toMatchObject({ worker: 'broker', node: 'n1', lines: [{ name: 'raybus broker', err: true }] });
    expect((told[0]!.lines as Array<{ text: string }>)[0]!.text).toMatch(/a task needing \{GPU: 1\} \(gpu\) is infeasible/);
  });

  test('work asked for before any node registered waits without being called infeasible', async () => {
    // The embedded default: `.remote()` before init() may reach the broker before its node.
    h = await BrokerHarness.start();
    const { queue: owner } = await h.owner('a');
    await h.requestLease(owner, 'early', { CPU: 1 });
    expect(h.server.clusterState().pending).toEqual([expect.objectContaining({ id: 'early', infeasible: false })]);
    const n1 = await h.node('n1', { CPU: 1 });
    expect(leases(n1).map((l) => l.req)).toEqual(['early']);
    expect(h.warnings.filter((w) => w.includes('infeasible'))).toEqual([]);
    // Once a node is known, work no node could hold is infeasible again.
    await h.requestLease(owner, 'gpu', { GPU: 1 });
    expect(h.warnings.filter((w) => w.includes('infeasible'))).toHaveLength(1);
  });

  test('return-lease and worker-died release a lease exactly once', async () => {
    h = await BrokerHarness.start();
    const n1 = await h.node('n1', { CPU: 1 });
    const a = await h.owner('a');
    await h.requestLease(a.queue, 'r1', { CPU: 1 });
    const [first] = leases(n1);
    await h.send({ t: 'return-lease', lease: first!.lease });
    await h.send({ t: 'return-lease', lease: first!.lease });
    // A second return does not free a second CPU: the node never has more than it has.
    expect(h.server.clusterInfo().available).toEqual({ CPU: 1 });

    await h.requestLease(a.queue, 'r2', { CPU: 1 });
    await h.requestLease(a.queue, 'r3', { CPU: 1 });
    await h.requestLease(a.queue, 'r4', { CPU: 1 });
    const second = leases(n1).find((l) => l.req === 'r2')!;
    const died = { t: 'worker-died', node: 'n1' as NodeId, worker: 'n1w1' as WorkerId, lease: second.lease, reason: 'SIGKILL' } as const;
    await h.send(died);
    await h.send(died);
    expect(a.inbox.of('lease-lost')).toEqual([{ t: 'lease-lost', lease: second.lease, reason: 'SIGKILL' }]);
    // Released once: exactly one waiting request (r3) got the freed CPU, r4 still waits.
    expect(leases(n1).map((l) => l.req)).toEqual(['r1', 'r2', 'r3']);
    expect(h.server.clusterState().pending.map((p) => p.id)).toEqual(['r4']);
  });

  test('a lease this leader never granted is still released on its node', async () => {
    h = await BrokerHarness.start();
    const n1 = await h.node('n1', { CPU: 1 });
    await h.send({ t: 'return-lease', lease: 'g1abc@n1' as LeaseId });
    expect(n1.of('release-lease')).toEqual([{ t: 'release-lease', lease: 'g1abc@n1' }]);
    expect(h.server.clusterInfo().available).toEqual({ CPU: 1 });
  });
});

describe('failover', () => {
  test('node-gone: its leases are lost to their owners, its actors restart elsewhere per maxRestarts', async () => {
    h = await BrokerHarness.start();
    const n1 = await h.node('n1', { CPU: 4 });
    const a = await h.owner('a');
    const onN1 = { kind: 'NODE_AFFINITY', nodeId: 'n1' as NodeId, soft: true } as const;
    await h.requestLease(a.queue, 'r1', { CPU: 1 }, onN1);
    await h.send({ t: 'create-actor', req: 'c1' as never, spec: actorSpec('restartable', { owner: a.queue, maxRestarts: 1, strategy: onN1 }) });
    await h.send({ t: 'create-actor', req: 'c2' as never, spec: actorSpec('mortal', { owner: a.queue, maxRestarts: 0, strategy: onN1 }) });
    expect(n1.of('start-actor')).toHaveLength(2);
    await h.send({ t: 'actor-ready', actor: 'restartable' as never, worker: 'n1w2' as WorkerId });
    await h.send({ t: 'actor-ready', actor: 'mortal' as never, worker: 'n1w3' as WorkerId });
    const n2 = await h.node('n2', { CPU: 4 });

    await h.send({ t: 'node-gone', node: 'n1' as NodeId });
    const lease = leases(n1)[0]!.lease;
    expect(a.inbox.of('lease-lost')).toEqual([{ t: 'lease-lost', lease, reason: 'its node n1 died' }]);
    expect(n2.of('start-actor')).toEqual([expect.objectContaining({ restart: true, spec: expect.objectContaining({ actorId: 'restartable' }) })]);
    const states = Object.fromEntries(h.server.clusterState().actors.map((x) => [x.actorId, x.state]));
    expect(states).toEqual({ restartable: 'RESTARTING', mortal: 'DEAD' });
    expect(h.server.clusterInfo().nodes.find((n) => n.nodeId === 'n1')?.alive).toBe(false);
    // A second notice of the same death changes nothing.
    await h.send({ t: 'node-gone', node: 'n1' as NodeId });
    expect(a.inbox.of('lease-lost')).toHaveLength(1);
    expect(n2.of('start-actor')).toHaveLength(1);
  });

  test('owner-died: non-detached actors die, detached ones live, task leases are released and waiting requests dropped', async () => {
    h = await BrokerHarness.start();
    const n1 = await h.node('n1', { CPU: 3 });
    const a = await h.owner('a');
    await h.send({ t: 'create-actor', req: 'c1' as never, spec: actorSpec('owned', { owner: a.queue }) });
    await h.send({ t: 'create-actor', req: 'c2' as never, spec: actorSpec('detached', { owner: a.queue, detached: true }) });
    await h.send({ t: 'actor-ready', actor: 'owned' as never, worker: 'n1w1' as WorkerId });
    await h.send({ t: 'actor-ready', actor: 'detached' as never, worker: 'n1w2' as WorkerId });
    await h.requestLease(a.queue, 'r1', { CPU: 1 });
    await h.requestLease(a.queue, 'r2', { CPU: 8 });
    const ownedLease = n1.of('start-actor').find((m) => (m.spec as { actorId: string }).actorId === 'owned')!.lease;
    const taskLease = leases(n1)[0]!.lease;

    await h.send({ t: 'owner-exit', owner: a.queue });
    const killed = n1.of('kill-worker').map((m) => m.lease);
    expect(killed.sort()).toEqual([ownedLease, taskLease].sort());
    const states = Object.fromEntries(h.server.clusterState().actors.map((x) => [x.actorId, x.state]));
    expect(states).toEqual({ owned: 'DEAD', detached: 'ALIVE' });
    expect(h.server.clusterState().pending).toEqual([]);
    expect(h.server.clusterState().leases.map((l) => l.actorId)).toEqual(['detached']);
  });

  test('a worker that exits takes the actors it created with it (owner-died topic)', async () => {
    h = await BrokerHarness.start();
    await h.node('n1', { CPU: 2 });
    const worker = 'raybus.reply.n1w7' as ReplyQueue;
    await h.send({ t: 'create-actor', req: 'c1' as never, spec: actorSpec('child', { owner: worker }) });
    await h.client.broadcast(OWNER_DIED_TOPIC, encodeEnvelope({ owner: worker }));
    await settle();
    expect(h.server.clusterState().actors.map((x) => x.state)).toEqual(['DEAD']);
  });
});
