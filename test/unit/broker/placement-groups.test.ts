/**
 * Placement groups in the broker server, on the in-memory bus. After Ray's
 * python/ray/tests/test_placement_group.py (atomic creation, STRICT_SPREAD / PACK
 * infeasibility, removal kills the group's actors and fails its tasks).
 */
import type { ActorId, NodeId, PlacementGroupId, ReplyQueue, WorkerId } from '../../../src/protocol/ids';
import type { Resources, WireError } from '../../../src/protocol/wire';
import { BrokerHarness, actorSpec } from './broker-harness';

let h: BrokerHarness;
afterEach(async () => {
  await h.stop();
});

async function createPg(owner: ReplyQueue, id: string, bundles: Resources[], strategy: string): Promise<void> {
  await h.send({ t: 'create-pg', owner, pg: { id: id as PlacementGroupId, bundles, strategy, name: '', detached: false } });
}

const inGroup = (pg: string, bundle: number) => ({ kind: 'PLACEMENT_GROUP', pg: pg as PlacementGroupId, bundle }) as const;

test('all bundles are reserved at once or none: a group waits without holding part of the cluster', async () => {
  h = await BrokerHarness.start();
  const n1 = await h.node('n1', { CPU: 2 });
  await h.node('n2', { CPU: 2 });
  const a = await h.owner('a');
  await h.requestLease(a.queue, 'r1', { CPU: 1 }, { kind: 'NODE_AFFINITY', nodeId: 'n1' as NodeId, soft: false });
  await createPg(a.queue, 'pg1', [{ CPU: 2 }, { CPU: 2 }], 'STRICT_SPREAD');
  expect(a.inbox.of('pg-ready')).toEqual([]);
  expect(h.server.clusterInfo().available).toEqual({ CPU: 3 });
  expect(h.server.clusterState().pending).toEqual([expect.objectContaining({ id: 'pg1', kind: 'placement-group', infeasible: false })]);

  await h.send({ t: 'return-lease', lease: n1.of('start-lease')[0]!.lease as never });
  expect(a.inbox.of('pg-ready')).toEqual([{ t: 'pg-ready', pg: 'pg1' }]);
  expect(h.server.clusterInfo().available).toEqual({});
  await h.send({ t: 'pg-table', req: 'q1' as never, reply: a.queue });
  const table = (a.inbox.of('pg-table-reply')[0]!.table as Record<string, { state: string; bundlesToNodeId: Record<number, string> }>).pg1!;
  expect(table.state).toBe('CREATED');
  expect(Object.values(table.bundlesToNodeId).sort()).toEqual(['n1', 'n2']);

  // Work in a bundle runs on that bundle's node and reserves from the bundle.
  await h.requestLease(a.queue, 'in-b1', { CPU: 1 }, inGroup('pg1', 1));
  const node = table.bundlesToNodeId[1];
  expect(h.server.clusterState().leases).toEqual([expect.objectContaining({ nodeId: node, owner: a.queue })]);
});

test('PACK and STRICT_SPREAD groups that no node set could hold are infeasible: they wait, visibly, until nodes fit', async () => {
  h = await BrokerHarness.start();
  await h.node('n1', { CPU: 2 });
  await h.node('n2', { CPU: 2 });
  const a = await h.owner('a');
  await createPg(a.queue, 'packed', [{ CPU: 3 }], 'PACK');
  await createPg(a.queue, 'spread', [{ CPU: 1 }, { CPU: 1 }, { CPU: 1 }], 'STRICT_SPREAD');
  const pending = h.server.clusterState().pending;
  expect(pending.map((p) => [p.id, p.infeasible])).toEqual([
    ['packed', true],
    ['spread', true],
  ]);
  expect(h.warnings.filter((w) => w.includes('is infeasible'))).toHaveLength(2);
  expect(h.server.clusterInfo().available).toEqual({ CPU: 4 });
  // Feasible work is not held up behind them.
  await h.requestLease(a.queue, 'r1', { CPU: 1 });
  expect(h.server.clusterState().leases).toHaveLength(1);

  await h.node('n3', { CPU: 4 });
  expect(a.inbox.of('pg-ready').map((m) => m.pg).sort()).toEqual(['packed', 'spread']);
});

test('removing a group kills its actors, fails its running and waiting tasks, and frees its bundles', async () => {
  h = await BrokerHarness.start();
  const n1 = await h.node('n1', { CPU: 4 });
  const a = await h.owner('a');
  const r = await h.owner('remover');
  await createPg(a.queue, 'pg1', [{ CPU: 1 }, { CPU: 1 }], 'PACK');
  expect(a.inbox.of('pg-ready')).toHaveLength(1);
  await h.requestLease(a.queue, 'running', { CPU: 1 }, inGroup('pg1', 0));
  await h.requestLease(a.queue, 'waiting', { CPU: 1 }, inGroup('pg1', 0));
  await h.send({ t: 'create-actor', req: 'c1' as never, spec: actorSpec('member', { owner: a.queue, strategy: inGroup('pg1', 1), detached: true }) });
  await h.send({ t: 'actor-ready', actor: 'member' as ActorId, worker: 'w1' as WorkerId });
  const taskLease = n1.of('start-lease')[0]!.lease;
  const actorLease = n1.of('start-actor')[0]!.lease;
  expect(h.server.clusterInfo().available).toEqual({ CPU: 2 });

  await h.send({ t: 'remove-pg', pg: 'pg1' as PlacementGroupId, req: 'rm' as never, reply: r.queue });
  expect(r.inbox.of('ack')).toEqual([{ t: 'ack', req: 'rm' }]);
  expect(a.inbox.of('lease-lost')).toEqual([{ t: 'lease-lost', lease: taskLease, reason: 'its placement group pg1 was removed', fatal: true }]);
  const failed = a.inbox.of('lease-failed');
  expect(failed.map((m) => m.req)).toEqual(['waiting']);
  expect((failed[0]!.err as WireError).rayClass).toBe('TaskUnschedulableError');
  expect(n1.of('kill-worker').map((m) => m.lease).sort()).toEqual([actorLease, taskLease].sort());
  expect(h.server.clusterState().actors[0]?.state).toBe('DEAD');
  expect(h.server.clusterInfo().available).toEqual({ CPU: 4 });
  expect(h.server.clusterState().placementGroups.pg1?.state).toBe('REMOVED');

  // Work for a removed group fails at once.
  await h.requestLease(a.queue, 'late', { CPU: 1 }, inGroup('pg1', -1));
  expect(a.inbox.of('lease-failed').map((m) => m.req)).toEqual(['waiting', 'late']);
});

// Ray scopes a placement group to its creator unless it is detached (placement group
// lifetimes, test_placement_group.py::test_placement_group_removed_when_owner_dies style).
test('a driver that exits takes its placement groups with it; detached ones and other drivers\' stay', async () => {
  h = await BrokerHarness.start();
  await h.node('n1', { CPU: 4 });
  const a = await h.owner('a');
  const b = await h.owner('b');
  await createPg(a.queue, 'mine', [{ CPU: 1 }, { CPU: 1 }], 'PACK');
  await h.send({ t: 'create-pg', owner: a.queue, pg: { id: 'kept' as PlacementGroupId, bundles: [{ CPU: 1 }], strategy: 'PACK', name: 'kept', detached: true } });
  await createPg(b.queue, 'theirs', [{ CPU: 1 }], 'PACK');
  await createPg(a.queue, 'waiting', [{ CPU: 8 }], 'PACK');
  expect(h.server.clusterInfo().available.CPU ?? 0).toBe(0);

  await h.send({ t: 'owner-exit', owner: a.queue });
  const groups = h.server.clusterState().placementGroups;
  expect(groups.mine?.state).toBe('REMOVED');
  expect(groups.waiting?.state).toBe('REMOVED');
  expect(groups.kept?.state).toBe('CREATED');
  expect(groups.theirs?.state).toBe('CREATED');
  expect(h.server.clusterInfo().available).toEqual({ CPU: 2 });
  expect(h.server.clusterState().pending).toEqual([]);
});
