/**
 * Broker leader election on a bus without single active consumers (NATS JetStream), through
 * the leader lease (lease-election.ts): on the in-memory bus given NATS's capabilities and
 * simulated time. One leader; a clean stop hands the lead on at once; a leader that dies
 * leaves its lease to expire, then a standby leads; a leader whose lease was taken steps
 * down; a leader that cannot renew for a whole TTL steps down; a bus with neither single
 * active consumers nor leases refuses to start a candidate. After Ray's
 * python/ray/tests/test_gcs_fault_tolerance.py (the GCS restarts elsewhere, work goes on).
 */
import { InMemoryBus } from '../../../src/transport/in-memory-transport';
import { BrokerCandidate } from '../../../src/broker/broker-election';
import { BROKER_LEADER_LEASE } from '../../../src/broker/lease-election';
import { BROKER_QUEUE } from '../../../src/protocol/queues';
import { encodeEnvelope } from '../../../src/serialization/serializer';
import type { Transport, TransportLease } from '../../../src/transport/transport';
import type { NodeId } from '../../../src/protocol/ids';
import { SimulatedClock } from '../../../src/util/simulated-clock';
import { actorSpec, settle } from './broker-harness';

const TTL = 600;
const NATS_LIKE = { singleActiveConsumer: false, requeueAtHead: false, queueExpiry: false, leases: true };

interface Member {
  c: BrokerCandidate;
  t: Transport;
}

async function candidates(bus: InMemoryBus, clock: SimulatedClock, n: number): Promise<Member[]> {
  const out: Member[] = [];
  for (let i = 0; i < n; i++) {
    const t = bus.connect();
    await t.connect();
    const c = new BrokerCandidate({ transport: t, candidateId: `node${i}` as NodeId, clock, leaseTtlMs: TTL, warn: () => undefined, broker: { restoreGraceMs: 100, probeIntervalMs: 50 } });
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

function natsLikeBus(clock: SimulatedClock): InMemoryBus {
  return new InMemoryBus({ capabilities: NATS_LIKE, clock });
}

test('exactly one candidate leads; the broker queue is declared without a single active consumer', async () => {
  const clock = new SimulatedClock();
  const bus = natsLikeBus(clock);
  const all = await candidates(bus, clock, 3);
  expect(all.filter((x) => x.c.isLeader)).toHaveLength(1);
  expect(bus.hasQueue(BROKER_QUEUE)).toBe(true);
  // Renewals keep the same leader, TTL after TTL.
  const leader = all.find((x) => x.c.isLeader)!;
  for (let i = 0; i < 5; i++) {
    await clock.advance(TTL / 3);
    await settle();
  }
  expect(all.filter((x) => x.c.isLeader)).toEqual([leader]);
  await stopAll(all);
});

test('a clean stop releases the lease: a standby leads at its next try', async () => {
  const clock = new SimulatedClock();
  const bus = natsLikeBus(clock);
  const all = await candidates(bus, clock, 2);
  const leader = all.find((x) => x.c.isLeader)!;
  const standby = all.find((x) => !x.c.isLeader)!;
  await leader.c.stop();
  await clock.advance(TTL / 3);
  await settle();
  expect(standby.c.isLeader).toBe(true);
  await stopAll(all);
});

test('a leader that dies without releasing: its lease expires after the TTL, then a standby leads', async () => {
  const clock = new SimulatedClock();
  const bus = natsLikeBus(clock);
  const all = await candidates(bus, clock, 2);
  const leader = all.find((x) => x.c.isLeader)!;
  const standby = all.find((x) => !x.c.isLeader)!;
  // Its connection is gone (no release was possible): it stops leading at once.
  await leader.t.close();
  await settle();
  expect(leader.c.isLeader).toBe(false);
  await clock.advance(TTL / 3);
  await settle();
  expect(standby.c.isLeader).toBe(false);
  await clock.advance(TTL);
  await settle();
  expect(standby.c.isLeader).toBe(true);
  await stopAll(all);
});

test('a leader whose lease was taken steps down at its next renewal', async () => {
  const clock = new SimulatedClock();
  const bus = natsLikeBus(clock);
  const [leader] = await candidates(bus, clock, 1);
  expect(leader!.c.isLeader).toBe(true);
  // While it holds the lease, nobody else gets it.
  expect(bus.leases!.acquire(BROKER_LEADER_LEASE, TTL)).toBeNull();
  // As after a pause longer than the TTL (no renewal ran): someone else took the lease.
  (bus.leases as unknown as { held: Map<string, unknown> }).held.delete(BROKER_LEADER_LEASE);
  expect(bus.leases!.acquire(BROKER_LEADER_LEASE, TTL * 100)).not.toBeNull();
  await clock.advance(TTL / 3);
  await settle();
  expect(leader!.c.isLeader).toBe(false);
  await stopAll([leader!]);
});

test('a leader that cannot reach the bus for a whole TTL steps down', async () => {
  const clock = new SimulatedClock();
  const bus = natsLikeBus(clock);
  const [leader] = await candidates(bus, clock, 1);
  const lease = (leader!.c as unknown as { election: { lease: TransportLease } }).election.lease;
  // The bus cannot be reached: renewals (and new acquisitions) fail.
  lease.renew = () => Promise.reject(new Error('bus unreachable'));
  leader!.t.acquireLease = () => Promise.reject(new Error('bus unreachable'));
  await clock.advance(TTL / 3);
  await settle();
  expect(leader!.c.isLeader).toBe(true);
  await clock.advance(TTL);
  await settle();
  expect(leader!.c.isLeader).toBe(false);
  await stopAll([leader!]);
});

test('a new leader receives the actor records its predecessor held, requeued at the tail', async () => {
  const clock = new SimulatedClock();
  const bus = natsLikeBus(clock);
  const all = await candidates(bus, clock, 2);
  const leader = all.find((x) => x.c.isLeader)!;
  const standby = all.find((x) => !x.c.isLeader)!;
  const client = bus.connect();
  await client.connect();
  await client.publish(BROKER_QUEUE, encodeEnvelope({ t: 'create-actor', req: 'r1', spec: actorSpec('a1', { name: 'kept', detached: true, maxRestarts: 1 }) }));
  await settle();
  expect(leader.c.activeBroker!.clusterState().actors.map((a) => a.actorId)).toEqual(['a1']);
  await leader.c.stop();
  await clock.advance(TTL / 3);
  await settle();
  expect(standby.c.isLeader).toBe(true);
  expect(standby.c.activeBroker!.clusterState().actors.map((a) => [a.actorId, a.name])).toEqual([['a1', 'kept']]);
  await stopAll(all);
  await client.close();
});

test('a bus with neither single active consumers nor leases: a candidate refuses to start, saying why', async () => {
  const bus = new InMemoryBus({ capabilities: { singleActiveConsumer: false, leases: false } });
  const t = bus.connect();
  await t.connect();
  const c = new BrokerCandidate({ transport: t, candidateId: 'node0' as NodeId });
  await expect(c.start()).rejects.toThrow(/neither single active consumers nor leases/);
  await t.close();
});

test('leaseTtlMs is checked at construction, naming the option', () => {
  const t = new InMemoryBus().connect();
  expect(() => new BrokerCandidate({ transport: t, candidateId: 'n' as NodeId, leaseTtlMs: 1 })).toThrow(/leaseTtlMs/);
});
