/**
 * The broker as a singleton on the bus (broker-election.ts), on the in-memory bus: one leader
 * among candidates, a standby takes over when the leader's connection goes, and the new
 * leader rebuilds its ledger and actor registry from node reports and held actor records.
 */
import { InMemoryBus } from '../../../src/transport/in-memory-transport';
import { BrokerCandidate } from '../../../src/broker/broker-election';
import { BROKER_QUEUE } from '../../../src/protocol/queues';
import type { ActorSpec } from '../../../src/protocol/wire';
import type { NodeRegisterMsg } from '../../../src/protocol/messages/broker';
import { encodeEnvelope } from '../../../src/serialization/serializer';
import type { Transport } from '../../../src/transport/transport';
import type { ActorId, JobId, LeaseId, NodeId, ReplyQueue, WorkerId } from '../../../src/protocol/ids';

const tick = (ms = 20): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function candidates(bus: InMemoryBus, n: number): Promise<Array<{ c: BrokerCandidate; t: Transport }>> {
  const out = [];
  for (let i = 0; i < n; i++) {
    const t = bus.connect();
    await t.connect();
    const c = new BrokerCandidate({ transport: t, candidateId: `node${i}` as NodeId, broker: { restoreGraceMs: 100, probeIntervalMs: 50 } });
    await c.start();
    out.push({ c, t });
  }
  await tick();
  return out;
}

function spec(id: string, name: string): ActorSpec {
  const actorId = id as ActorId;
  return {
    actorId,
    cls: { id: 'cls', name: 'Box', kind: 'class', source: 'class Box {}' },
    args: [],
    owner: 'raybus.reply.driver-x' as ReplyQueue,
    meta: { actorId, className: 'Box', methods: {}, isAsync: false, maxTaskRetries: 0, maxPendingCalls: -1, namespace: 'ns', name },
    placement: { CPU: 1 },
    lifetime: {},
    strategy: { kind: 'DEFAULT' },
    maxRestarts: 1,
    detached: true,
    maxConcurrency: 1,
    ctx: { jobId: 'j' as JobId, namespace: 'ns', attempt: 0 },
    getIfExists: false,
  };
}

test('exactly one candidate leads; a standby takes over when the leader goes', async () => {
  const bus = new InMemoryBus();
  const all = await candidates(bus, 3);
  expect(all.filter((x) => x.c.isLeader)).toHaveLength(1);
  const first = all.find((x) => x.c.isLeader)!;
  await first.t.close();
  await tick();
  const rest = all.filter((x) => x !== first);
  expect(rest.filter((x) => x.c.isLeader)).toHaveLength(1);
  expect(first.c.isLeader).toBe(false);
  for (const x of rest) await x.c.stop();
});

test('a clean stop hands leadership on', async () => {
  const bus = new InMemoryBus();
  const all = await candidates(bus, 2);
  const leader = all.find((x) => x.c.isLeader)!;
  const standby = all.find((x) => !x.c.isLeader)!;
  await leader.c.stop();
  await tick();
  expect(standby.c.isLeader).toBe(true);
  await standby.c.stop();
});

test('a new leader rebuilds the ledger and the actor registry from node reports and held records', async () => {
  const bus = new InMemoryBus();
  const all = await candidates(bus, 2);
  const leader = all.find((x) => x.c.isLeader)!;
  const standby = all.find((x) => !x.c.isLeader)!;
  const node = bus.connect();
  await node.connect();
  const send = (msg: object): Promise<void> => node.publish(BROKER_QUEUE, encodeEnvelope(msg));
  // Two actors known to the first leader: one alive on node n1, one on a node that dies with it.
  await send({ t: 'node-register', node: 'n1' as NodeId, resources: { CPU: 4 }, labels: {} } satisfies NodeRegisterMsg);
  await send({ t: 'create-actor', req: 'r1', spec: spec('a1', 'alive-one') });
  await send({ t: 'create-actor', req: 'r2', spec: spec('a2', 'orphan') });
  await tick(200);
  const before = leader.c.activeBroker!.clusterState();
  expect(before.actors.map((a) => a.actorId).sort()).toEqual(['a1', 'a2']);
  const leaseOf = (id: string): LeaseId => before.leases.find((l) => l.actorId === id)!.lease;
  await send({ t: 'actor-ready', actor: 'a1' as ActorId, worker: 'w1' as WorkerId });
  await tick();

  await leader.t.close();
  await tick();
  expect(standby.c.isLeader).toBe(true);
  // n1 reports what runs there (a1); a2's node never reports.
  await send({
    t: 'node-register',
    node: 'n1' as NodeId,
    resources: { CPU: 4 },
    labels: {},
    leases: [{ lease: leaseOf('a1'), worker: 'w1' as WorkerId, demand: {}, gpuIds: [], actor: spec('a1', 'alive-one') }],
  } satisfies NodeRegisterMsg);
  await tick(300);
  const after = standby.c.activeBroker!.clusterState();
  const byId = Object.fromEntries(after.actors.map((a) => [a.actorId, a]));
  expect(byId.a1).toEqual(expect.objectContaining({ state: 'ALIVE', name: 'alive-one', nodeId: 'n1' }));
  // a2 was never reported: re-created (it had not been created yet) on a node that fits.
  expect(byId.a2?.state).toBe('PENDING_CREATION');
  expect(after.nodes.map((n) => n.nodeId)).toEqual(['n1']);
  await standby.c.stop();
  await node.close();
});
