import { ResourceLedger, type ResourceSet } from '../../../../src/scheduling/ledger/resource-ledger';
import { planPlacementGroup } from '../../../../src/scheduling/placement/plan-placement-group';
import { releaseBundles, reserveBundles } from '../../../../src/scheduling/placement/reserve-bundles';

function cluster(...cpus: number[]): ResourceLedger {
  const ledger = new ResourceLedger();
  cpus.forEach((cpu, i) => ledger.addNode(`n${i}`, { CPU: cpu, GPU: 2 }));
  return ledger;
}

const cpu = (n: number): ResourceSet => ({ CPU: n });

function placed(plan: ReturnType<typeof planPlacementGroup>): string[] {
  if (plan.kind !== 'placed') throw new Error(`expected placed, got ${plan.kind}`);
  return plan.nodeIds;
}

// Strategies after Ray's "Placement Groups" docs and test_placement_group.py::test_placement_group_pack,
// test_placement_group_strict_pack, test_placement_group_spread, test_placement_group_strict_spread.
describe('planPlacementGroup', () => {
  it('PACK puts bundles on one node when one holds them all', () => {
    expect(placed(planPlacementGroup(cluster(4, 4), [cpu(2), cpu(2)], 'PACK'))).toEqual(['n0', 'n0']);
  });

  it('PACK spreads over as few nodes as possible when no single node fits (best effort)', () => {
    const ledger = cluster(4, 4, 4);
    expect(placed(planPlacementGroup(ledger, [cpu(3), cpu(1), cpu(3), cpu(1)], 'PACK'))).toEqual([
      'n0',
      'n0',
      'n1',
      'n1',
    ]);
  });

  it('STRICT_PACK needs one node for everything: waits if busy, infeasible if too big', () => {
    const ledger = cluster(4, 4);
    expect(placed(planPlacementGroup(ledger, [cpu(2), cpu(2)], 'STRICT_PACK'))).toEqual(['n0', 'n0']);
    ledger.reserve('n0', cpu(1));
    expect(placed(planPlacementGroup(ledger, [cpu(2), cpu(2)], 'STRICT_PACK'))).toEqual(['n1', 'n1']);
    ledger.reserve('n1', cpu(1));
    expect(planPlacementGroup(ledger, [cpu(2), cpu(2)], 'STRICT_PACK')).toEqual({ kind: 'wait' });
    expect(planPlacementGroup(ledger, [cpu(3), cpu(3)], 'STRICT_PACK')).toEqual({ kind: 'infeasible' });
    expect(placed(planPlacementGroup(ledger, [cpu(3), cpu(3)], 'PACK'))).toEqual(['n0', 'n1']); // best effort
  });

  it('SPREAD uses distinct nodes, overlapping only when it must', () => {
    expect(new Set(placed(planPlacementGroup(cluster(4, 4, 4), [cpu(1), cpu(1), cpu(1)], 'SPREAD'))).size).toBe(3);
    const overlap = placed(planPlacementGroup(cluster(4, 4), [cpu(1), cpu(1), cpu(1), cpu(1)], 'SPREAD'));
    expect(overlap.filter((n) => n === 'n0')).toHaveLength(2);
    expect(overlap.filter((n) => n === 'n1')).toHaveLength(2);
  });

  it('SPREAD prefers the least utilized unused node', () => {
    const ledger = cluster(4, 4, 4);
    ledger.reserve('n0', cpu(3));
    ledger.reserve('n1', cpu(2));
    expect(placed(planPlacementGroup(ledger, [cpu(1)], 'SPREAD'))).toEqual(['n2']);
  });

  it('STRICT_SPREAD puts every bundle on a different node; more bundles than nodes is infeasible', () => {
    const ledger = cluster(4, 4, 4);
    expect(new Set(placed(planPlacementGroup(ledger, [cpu(1), cpu(1), cpu(1)], 'STRICT_SPREAD'))).size).toBe(3);
    expect(planPlacementGroup(ledger, [cpu(1), cpu(1), cpu(1), cpu(1)], 'STRICT_SPREAD')).toEqual({
      kind: 'infeasible',
    });
    ledger.removeNode('n2');
    expect(planPlacementGroup(ledger, [cpu(1), cpu(1), cpu(1)], 'STRICT_SPREAD')).toEqual({ kind: 'infeasible' });
    ledger.reserve('n1', cpu(4));
    expect(planPlacementGroup(ledger, [cpu(1), cpu(1)], 'STRICT_SPREAD')).toEqual({ kind: 'wait' });
  });

  it('STRICT_SPREAD finds an assignment greedy first-fit would miss', () => {
    const ledger = cluster(2, 1);
    expect(placed(planPlacementGroup(ledger, [cpu(1), cpu(2)], 'STRICT_SPREAD'))).toEqual(['n1', 'n0']);
  });

  it('treats unknown resources as infeasible and plans GPU bundles by instance', () => {
    const ledger = cluster(4, 4);
    expect(planPlacementGroup(ledger, [{ CPU: 1, TPU: 1 }], 'PACK')).toEqual({ kind: 'infeasible' });
    expect(placed(planPlacementGroup(ledger, [{ GPU: 1 }, { GPU: 0.5 }, { GPU: 0.5 }], 'STRICT_PACK'))).toEqual([
      'n0',
      'n0',
      'n0',
    ]);
    expect(planPlacementGroup(ledger, [{ GPU: 2 }, { GPU: 0.5 }], 'STRICT_PACK')).toEqual({ kind: 'infeasible' });
  });

  it('only plans: the ledger is untouched', () => {
    const ledger = cluster(4, 4);
    planPlacementGroup(ledger, [cpu(3), cpu(3)], 'SPREAD');
    expect(ledger.clusterAvailable()).toEqual({ CPU: 8, GPU: 4 });
  });
});

describe('reserveBundles / releaseBundles', () => {
  it('reserves every bundle with its GPU ids and releases them again', () => {
    const ledger = cluster(4, 4);
    const bundles = [{ CPU: 1, GPU: 1 }, { CPU: 1, GPU: 0.5 }];
    const plan = placed(planPlacementGroup(ledger, bundles, 'STRICT_SPREAD'));
    const reserved = reserveBundles(ledger, bundles, plan);
    expect(reserved).toEqual([
      { nodeId: 'n0', gpuIds: [0] },
      { nodeId: 'n1', gpuIds: [0] },
    ]);
    expect(ledger.clusterAvailable()).toEqual({ CPU: 6, GPU: 2.5 });
    releaseBundles(ledger, bundles, reserved ?? []);
    expect(ledger.clusterAvailable()).toEqual({ CPU: 8, GPU: 4 });
  });

  it('is all or nothing: a failing bundle rolls back the ones already reserved', () => {
    const ledger = cluster(4, 4);
    const plan = placed(planPlacementGroup(ledger, [cpu(3), cpu(3)], 'SPREAD'));
    ledger.reserve('n1', cpu(2)); // the world moved on after planning
    expect(reserveBundles(ledger, [cpu(3), cpu(3)], plan)).toBeNull();
    expect(ledger.available('n0')).toEqual({ CPU: 4, GPU: 2 });
    expect(ledger.available('n1')).toEqual({ CPU: 2, GPU: 2 });
    expect(reserveBundles(ledger, [cpu(1), cpu(1)], ['n0', 'dead'])).toBeNull();
    expect(ledger.available('n0')).toEqual({ CPU: 4, GPU: 2 });
  });

  it('rejects mismatched lengths and releases that were never reserved', () => {
    const ledger = cluster(4);
    expect(() => reserveBundles(ledger, [cpu(1)], [])).toThrow(RangeError);
    expect(() => releaseBundles(ledger, [cpu(1)], [{ nodeId: 'n0', gpuIds: [] }])).toThrow(/never reserved/);
  });
});
