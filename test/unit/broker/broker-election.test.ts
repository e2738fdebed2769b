/**
 * The broker as a singleton on the bus (broker-election.ts), on the in-memory bus and
 * simulated time: one leader among candidates, a standby takes over when the leader's
 * connection goes, a leader whose token stops coming back steps down, and a new leader
 * rebuilds its ledger and actor registry from node reports and held actor records. After
 * Ray's python/ray/tests/test_gcs_fault_tolerance.py (GCS restart: actors and nodes survive).
 */
import { InMemoryBus } from '../../../src/transport/in-memory-transport';
import { BrokerCandidate } from '../../../src/broker/broker-election';
import { BROKER_ELECTION_QUEUE, BROKER_QUEUE } from '../../../src/protocol/queues';
import type { NodeRegisterMsg } from '../../../src/protocol/messages/broker';
import { decodeEnvelope, encodeEnvelope } from '../../../src/serialization/serializer';
import type { Transport } from '../../../src/transport/transport';
import type { ActorId, LeaseId, NodeId, WorkerId } from '../../../src/protocol/ids';
import { SimulatedClock } from '../../../src/util/simulated-clock';
import { actorSpec, settle } from './broker-harness';

interface Member {
  c: BrokerCandidate;
  t: Transport;
}

const REFRESH_MS = 1000;

async function candidates(bus: InMemoryBus, clock: SimulatedClock, n: number): Promise<Member[]> {
  const out = [];
  for (let i = 0; i < n; i++) {
    const t = bus.connect();
    await t.connect();
    const c = new BrokerCandidate({ transport: t, candidateId: `node${i}` as NodeId, clock, refreshMs: REFRESH_MS, warn: () => undefined, broker: { restoreGraceMs: 100, probeIntervalMs: 50 } });
    await c.start();
    out.push({ c, t });
  }
  await settle();
  return out;
}

async function stopAll(members: Member[]): Promise<void> {
  for (const m of members) {
    await m.c.stop();
    await m.t.close();
  }
}

const spec = (id: string, name: string) => actorSpec(id, { name, detached: true, maxRestarts: 1 });

test('exactly one candidate leads; a standby takes over when the leader goes', async () => {
  const bus = new InMemoryBus();
  const clock = new SimulatedClock();
  const all = await candidates(bus, clock, 3);
  expect(all.filter((x) => x.c.isLeader)).toHaveLength(1);
  const first = all.find((x) => x.c.isLeader)!;
  await first.t.close();
  await settle();
  const rest = all.filter((x) => x !== first);
  expect(rest.filter((x) => x.c.isLeader)).toHaveLength(1);
  expect(first.c.isLeader).toBe(false);
  // Refreshes keep the new leader leading.
  await clock.advance(REFRESH_MS * 5);
  await settle();
  expect(rest.filter((x) => x.c.isLeader)).toHaveLength(1);
  await stopAll(rest);
});

test('a clean stop hands leadership on', async () => {
  const bus = new InMemoryBus();
  const clock = new SimulatedClock();
  const all = await candidates(bus, clock, 2);
  const leader = all.find((x) => x.c.isLeader)!;
  const standby = all.find((x) => !x.c.isLeader)!;
  await leader.c.stop();
  await settle();
  expect(standby.c.isLeader).toBe(true);
  await stopAll(all);
});

test('a leader whose refresh token goes to someone else steps down at the next refresh', async () => {
  const bus = new InMemoryBus();
  const clock = new SimulatedClock();
  const all = await candidates(bus, clock, 1);
  const leader = all[0]!;
  expect(leader.c.isLeader).toBe(true);
  // The bus forgets the election queue (as a broker does when it loses a non-durable queue)
  // and someone else consumes the new one: the leader's tokens no longer come back to it.
  const other = bus.connect();
  await other.connect();
  await other.deleteQueue(BROKER_ELECTION_QUEUE);
  await other.assertQueue(BROKER_ELECTION_QUEUE, { singleActiveConsumer: true });
  const stolen: string[] = [];
  await other.consume(BROKER_ELECTION_QUEUE, (d) => stolen.push((decodeEnvelope(d.body) as { candidate: string }).candidate), { prefetch: 0 });
  await clock.advance(REFRESH_MS);
  await settle();
  expect(stolen).toEqual(['node0']);
  expect(leader.c.isLeader).toBe(true);
  await clock.advance(REFRESH_MS);
  await settle();
  expect(leader.c.isLeader).toBe(false);
  await stopAll(all);
  await other.close();
});

test('a new leader rebuilds the ledger and the actor registry from node reports and held records', async () => {
  const bus = new InMemoryBus();
  const clock = new SimulatedClock();
  const all = await candidates(bus, clock, 2);
  const leader = all.find((x) => x.c.isLeader)!;
  const standby = all.find((x) => !x.c.isLeader)!;
  const node = bus.connect();
  await node.connect();
  const send = async (msg: object): Promise<void> => {
    await node.publish(BROKER_QUEUE, encodeEnvelope(msg));
    await settle();
  };
  // Three actors known to the first leader: a1 alive on n1, a3 alive on n2 (which dies with
  // the leader), a2 not created yet (no node fits it until n1 frees a CPU).
  await send({ t: 'node-register', node: 'n1' as NodeId, resources: { CPU: 1 }, labels: {} } satisfies NodeRegisterMsg);
  await send({ t: 'node-register', node: 'n2' as NodeId, resources: { CPU: 1 }, labels: {} } satisfies NodeRegisterMsg);
  await send({ t: 'create-actor', req: 'r1', spec: { ...spec('a1', 'alive-one'), lifetime: { CPU: 1 }, strategy: { kind: 'NODE_AFFINITY', nodeId: 'n1' as NodeId, soft: false } } });
  await send({ t: 'create-actor', req: 'r3', spec: { ...spec('a3', 'on-lost-node'), lifetime: { CPU: 1 }, strategy: { kind: 'NODE_AFFINITY', nodeId: 'n2' as NodeId, soft: true } } });
  await send({ t: 'create-actor', req: 'r2', spec: spec('a2', 'orphan') });
  await clock.advance(100);
  await settle();
  const before = leader.c.activeBroker!.clusterState();
  expect(before.actors.map((a) => [a.actorId, a.state]).sort()).toEqual([
    ['a1', 'PENDING_CREATION'],
    ['a2', 'PENDING_CREATION'],
    ['a3', 'PENDING_CREATION'],
  ]);
  const leaseOf = (id: string): LeaseId => before.leases.find((l) => l.actorId === id)!.lease;
  await send({ t: 'actor-ready', actor: 'a1' as ActorId, worker: 'w1' as WorkerId });
  await send({ t: 'actor-ready', actor: 'a3' as ActorId, worker: 'w3' as WorkerId });

  await leader.t.close();
  await settle();
  expect(standby.c.isLeader).toBe(true);
  // n1 reports what runs there (a1); a2's node never reports.
  await send({
    t: 'node-register',
    node: 'n1' as NodeId,
    resources: { CPU: 2 },
    labels: {},
    leases: [{ lease: leaseOf('a1'), worker: 'w1' as WorkerId, demand: { CPU: 1 }, gpuIds: [], actor: spec('a1', 'alive-one') }],
  } satisfies NodeRegisterMsg);
  // While the new leader waits for reports, a2 and a3 are known only from their held records.
  const during = standby.c.activeBroker!.clusterState();
  expect(during.actors.filter((a) => a.state === 'RESTORING').map((a) => a.actorId).sort()).toEqual(['a2', 'a3']);
  await clock.advance(99);
  await settle();
  expect(standby.c.activeBroker!.clusterState().actors.find((a) => a.actorId === 'a2')?.state).toBe('RESTORING');
  await clock.advance(1);
  await settle();
  const after = standby.c.activeBroker!.clusterState();
  const byId = Object.fromEntries(after.actors.map((a) => [a.actorId, a]));
  expect(byId.a1).toEqual(expect.objectContaining({ state: 'ALIVE', name: 'alive-one', nodeId: 'n1' }));
  // a2 was never created: created now. a3 was alive on a node nobody reported: it died with
  // that node and restarts (maxRestarts 1).
  expect(byId.a2?.state).toBe('PENDING_CREATION');
  expect(byId.a3).toEqual(expect.objectContaining({ state: 'RESTARTING', restarts: 1, name: 'on-lost-node' }));
  expect(after.nodes.map((n) => n.nodeId)).toEqual(['n1']);
  await stopAll(all);
  await node.close();
});
