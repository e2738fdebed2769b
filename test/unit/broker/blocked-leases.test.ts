/**
 * Leases whose task waits in `get`/`wait` (Ray's NotifyWorkerBlocked / NotifyWorkerUnblocked,
 * raylet LocalLeaseManager::ReleaseCpuResourcesFromBlockedWorker and
 * ReturnCpuResourcesToUnblockedWorker): the broker lends the lease's CPU (and only its CPU) to
 * waiting work, takes it back when the task goes on even beyond the node's capacity, and a
 * release counts the part lent out. After Ray's test_basic.py::test_blocking_tasks, at the
 * broker's level.
 */
import type { LeaseId, NodeId } from '../../../src/protocol/ids';
import { BrokerHarness, actorSpec, type Inbox } from './broker-harness';

let h: BrokerHarness;
afterEach(async () => {
  await h.stop();
});

const leases = (node: Inbox): Array<{ lease: LeaseId; req: string }> => node.of('start-lease') as never;
const blocked = (lease: LeaseId, isBlocked: boolean) => ({ t: 'lease-blocked' as const, node: 'n1' as NodeId, lease, blocked: isBlocked });

test('a blocked lease lends its CPU to waiting work and takes it back at once when it goes on, overdrawing for a while', async () => {
  h = await BrokerHarness.start();
  const n1 = await h.node('n1', { CPU: 2, GPU: 1 });
  const { queue: owner } = await h.owner('a');
  await h.requestLease(owner, 'parent1', { CPU: 1, GPU: 1 });
  await h.requestLease(owner, 'parent2', { CPU: 1 });
  await h.requestLease(owner, 'child', { CPU: 1 });
  expect(leases(n1).map((l) => l.req)).toEqual(['parent1', 'parent2']);

  // Only the CPU goes: the GPU stays with the blocked task.
  await h.send(blocked(leases(n1)[0]!.lease, true));
  expect(leases(n1).map((l) => l.req)).toEqual(['parent1', 'parent2', 'child']);
  expect(h.server.clusterInfo().available).toEqual({});

  // The parent goes on before the child is done: 3 CPUs in use on a 2-CPU node.
  await h.send(blocked(leases(n1)[0]!.lease, false));
  await h.requestLease(owner, 'later', { CPU: 1 });
  expect(leases(n1)).toHaveLength(3);
  await h.send({ t: 'return-lease', lease: leases(n1)[2]!.lease });
  // Back to exactly full: nothing for 'later' yet.
  expect(leases(n1)).toHaveLength(3);
  await h.send({ t: 'return-lease', lease: leases(n1)[1]!.lease });
  expect(leases(n1).map((l) => l.req)).toEqual(['parent1', 'parent2', 'child', 'later']);
  await h.send({ t: 'return-lease', lease: leases(n1)[3]!.lease });
  await h.send({ t: 'return-lease', lease: leases(n1)[0]!.lease });
  expect(h.server.clusterInfo().available).toEqual({ CPU: 2, GPU: 1 });
});

test('returning or losing a lease while its CPU is lent out gives back only what it still holds', async () => {
  h = await BrokerHarness.start();
  const n1 = await h.node('n1', { CPU: 2 });
  const { queue: owner } = await h.owner('a');
  await h.requestLease(owner, 'r1', { CPU: 1 });
  await h.requestLease(owner, 'r2', { CPU: 1 });
  const [l1, l2] = leases(n1).map((l) => l.lease);
  await h.send(blocked(l1!, true));
  await h.send(blocked(l2!, true));
  // Said twice: lent once.
  await h.send(blocked(l2!, true));
  expect(h.server.clusterInfo().available).toEqual({ CPU: 2 });
  await h.send({ t: 'return-lease', lease: l1! });
  await h.send({ t: 'worker-died', node: 'n1' as NodeId, worker: 'w2' as never, lease: l2!, reason: 'killed' });
  // A notice about a lease that is gone changes nothing.
  await h.send(blocked(l1!, false));
  expect(h.server.clusterInfo().available).toEqual({ CPU: 2 });
  await h.requestLease(owner, 'r3', { CPU: 2 });
  expect(leases(n1).map((l) => l.req)).toEqual(['r1', 'r2', 'r3']);
});

test('a lease in a placement-group bundle lends the bundle its CPU', async () => {
  h = await BrokerHarness.start();
  const n1 = await h.node('n1', { CPU: 4 });
  const { queue: owner } = await h.owner('a');
  await h.send({ t: 'create-pg', owner, pg: { id: 'pg1' as never, bundles: [{ CPU: 1 }], strategy: 'PACK', name: '', detached: false } });
  const inBundle = { kind: 'PLACEMENT_GROUP' as const, pg: 'pg1' as never, bundle: 0 };
  await h.requestLease(owner, 'parent', { CPU: 1 }, inBundle);
  await h.requestLease(owner, 'child', { CPU: 1 }, inBundle);
  expect(leases(n1).map((l) => l.req)).toEqual(['parent']);
  await h.send(blocked(leases(n1)[0]!.lease, true));
  expect(leases(n1).map((l) => l.req)).toEqual(['parent', 'child']);
  // The node ledger never saw the bundle's CPU move.
  expect(h.server.clusterInfo().available).toEqual({ CPU: 3 });
});

test('an actor lease lends nothing (actors keep their resources while they wait)', async () => {
  h = await BrokerHarness.start();
  const n1 = await h.node('n1', { CPU: 1 });
  await h.send({ t: 'create-actor', req: 'c1' as never, spec: actorSpec('a1', { lifetime: { CPU: 1 } }) });
  const start = n1.of('start-actor')[0] as unknown as { lease: LeaseId };
  await h.send(blocked(start.lease, true));
  expect(h.server.clusterInfo().available).toEqual({});
});

test('a new leader adopts a blocked lease without its CPU', async () => {
  h = await BrokerHarness.start();
  await h.send({
    t: 'node-register',
    node: 'n1' as NodeId,
    resources: { CPU: 2 },
    labels: {},
    leases: [
      { lease: 'g1@n1' as LeaseId, worker: 'w1' as never, demand: { CPU: 1 }, gpuIds: [], owner: 'raybus.reply.driver-a' as never, blocked: true },
      { lease: 'g2@n1' as LeaseId, worker: 'w2' as never, demand: { CPU: 1 }, gpuIds: [], owner: 'raybus.reply.driver-a' as never },
    ],
  });
  expect(h.server.clusterInfo().available).toEqual({ CPU: 1 });
  await h.send(blocked('g1@n1' as LeaseId, false));
  expect(h.server.clusterInfo().available).toEqual({});
  await h.send({ t: 'return-lease', lease: 'g1@n1' as LeaseId });
  await h.send({ t: 'return-lease', lease: 'g2@n1' as LeaseId });
  expect(h.server.clusterInfo().available).toEqual({ CPU: 2 });
});
