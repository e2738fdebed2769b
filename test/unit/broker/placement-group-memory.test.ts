/**
 * A broker's memory of placement groups stays bounded while a program creates and removes
 * groups all day: the bundles of a removed group leave the bundle ledger, and only the most
 * recent removed groups stay in the table (as REMOVED), as Ray's GCS bounds its caches of
 * destroyed actors and dead nodes.
 */
import { PlacementGroupManager, type PlacementGroupManagerDeps } from '../../../src/broker/placement-group-manager';
import { ResourceLedger } from '../../../src/scheduling/ledger/resource-ledger';
import type { PendingPlacement } from '../../../src/broker/grants';
import type { PlacementGroupId, ReplyQueue } from '../../../src/protocol/ids';

function setup(maxRemoved: number) {
  const nodes = new ResourceLedger();
  nodes.addNode('n1', { CPU: 4 });
  const bundles = new ResourceLedger();
  const ready: string[] = [];
  const deps: PlacementGroupManagerDeps = {
    nodes,
    bundles,
    // Placed at once when it fits (the dispatcher would try it on its next pass).
    enqueue: (p: PendingPlacement) => void p.attempt!(),
    removePending: () => undefined,
    send: ((_queue: string, msg: { t: string; pg?: string }) => {
      if (msg.t === 'pg-ready') ready.push(msg.pg!);
    }) as unknown as PlacementGroupManagerDeps['send'],
    maxRemoved,
  };
  return { nodes, bundles, ready, pgs: new PlacementGroupManager(deps) };
}

const create = (pgs: PlacementGroupManager, id: string) =>
  pgs.create({ t: 'create-pg', owner: 'raybus.reply.d' as ReplyQueue, pg: { id: id as PlacementGroupId, bundles: [{ CPU: 1 }, { CPU: 1 }], strategy: 'PACK', name: '', detached: false } });

test('removed groups leave the bundle ledger, and only the latest removed groups stay in the table', () => {
  const { nodes, bundles, ready, pgs } = setup(10);
  for (let i = 0; i < 50; i++) {
    create(pgs, `pg${i}`);
    expect(bundles.hasNode(`pg${i}#0`)).toBe(true);
    pgs.remove(`pg${i}`);
  }
  expect(ready).toHaveLength(50);
  for (let i = 0; i < 50; i++) expect([bundles.hasNode(`pg${i}#0`), bundles.hasNode(`pg${i}#1`)]).toEqual([false, false]);
  expect(bundles.nodeIds()).toEqual([]);
  expect(nodes.available('n1')).toEqual({ CPU: 4 });
  const table = pgs.table();
  expect(Object.keys(table)).toEqual(Array.from({ length: 10 }, (_, k) => `pg${40 + k}`));
  expect(Object.values(table).every((g) => g.state === 'REMOVED')).toBe(true);
  // A forgotten group reads as unknown: work scheduled into it is unschedulable, removing it is a no-op.
  expect(pgs.decide('pg0', -1, { CPU: 1 })).toEqual({ kind: 'unschedulable', reason: 'placement group pg0 does not exist' });
  expect(pgs.decide('pg49', -1, { CPU: 1 })).toEqual({ kind: 'unschedulable', reason: 'placement group pg49 was removed' });
  expect(pgs.remove('pg0')).toBe(false);
});

test('groups in use are never forgotten, however many are removed', () => {
  const { pgs } = setup(3);
  create(pgs, 'kept');
  for (let i = 0; i < 20; i++) {
    create(pgs, `pg${i}`);
    pgs.remove(`pg${i}`);
  }
  expect(pgs.table().kept?.state).toBe('CREATED');
  expect(pgs.decide('kept', 0, { CPU: 1 })).toEqual({ kind: 'node', nodeId: 'n1', bundle: 'kept#0' });
});
