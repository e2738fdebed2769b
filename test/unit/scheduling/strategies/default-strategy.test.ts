import { ResourceLedger } from '../../../../src/scheduling/ledger/resource-ledger';
import { DefaultStrategy } from '../../../../src/scheduling/strategies/default-strategy';
import type { PlacementDecision } from '../../../../src/scheduling/strategies/placement-strategy';
import { mulberry32 } from '../../../../src/scheduling/strategies/seeded-random';

function cluster(n: number, totals: Record<string, number>): ResourceLedger {
  const ledger = new ResourceLedger();
  for (let i = 0; i < n; i++) ledger.addNode(`n${i}`, totals);
  return ledger;
}

function placeOn(decision: PlacementDecision): string {
  if (decision.kind !== 'node') throw new Error(`expected a node, got ${decision.kind}`);
  return decision.nodeId;
}

describe('DEFAULT (hybrid) strategy', () => {
  // Port of test_scheduling.py::test_hybrid_policy: 2 nodes x 10 CPUs; 5 tasks
  // (num_cpus=1, memory=1) all land on one node; a larger batch uses both nodes.
  it('packs on the preferred node until 50% utilized, then spreads (test_hybrid_policy)', () => {
    const ledger = cluster(2, { CPU: 10, memory: 10 });
    const strategy = new DefaultStrategy();
    const random = mulberry32(1);
    const demand = { CPU: 1, memory: 1 };
    const place = (): string => {
      const nodeId = placeOn(strategy.pick({ ledger, demand, random, preferredNodeId: 'n0' }));
      expect(ledger.reserve(nodeId, demand)).toBe(true);
      return nodeId;
    };
    const first = Array.from({ length: 5 }, place);
    expect(new Set(first)).toEqual(new Set(['n0']));
    expect(ledger.utilization('n0')).toBe(0.5);
    const next = Array.from({ length: 10 }, place);
    expect(new Set(next)).toEqual(new Set(['n0', 'n1']));
    // n1 took the work until it too reached the threshold; then the local node wins ties.
    expect(next.slice(0, 5)).toEqual(['n1', 'n1', 'n1', 'n1', 'n1']);
    expect(next[5]).toBe('n0');
  });

  it('chooses randomly among the top 20% (at least 1) least-utilized nodes that fit', () => {
    // Every node is at or above the threshold: n0..n9 use 5,6,7,8,9,5,6,7,8,9 of 10 CPUs.
    const busy = new ResourceLedger();
    for (let i = 0; i < 10; i++) {
      busy.addNode(`n${i}`, { CPU: 10 });
      busy.reserve(`n${i}`, { CPU: 5 + (i % 5) });
    }
    const strategy = new DefaultStrategy();
    const random = mulberry32(7);
    const seen = new Map<string, number>();
    for (let i = 0; i < 200; i++) {
      const nodeId = placeOn(strategy.pick({ ledger: busy, demand: { CPU: 1 }, random }));
      seen.set(nodeId, (seen.get(nodeId) ?? 0) + 1);
    }
    // Lowest scores (0.5) are n0 and n5; k = max(floor(10 * 0.2), 1) = 2.
    expect([...seen.keys()].sort()).toEqual(['n0', 'n5']);
    expect(seen.get('n0')).toBeGreaterThan(60);
    expect(seen.get('n5')).toBeGreaterThan(60);
  });

  it('treats nodes below the threshold as equal and keeps the stable node order', () => {
    const ledger = cluster(10, { CPU: 10 });
    ledger.reserve('n0', { CPU: 4 }); // 0.4 is clamped to 0: still tied with the others
    const strategy = new DefaultStrategy();
    const picks = new Set<string>();
    const random = mulberry32(3);
    for (let i = 0; i < 100; i++) picks.add(placeOn(strategy.pick({ ledger, demand: { CPU: 1 }, random })));
    expect([...picks].sort()).toEqual(['n0', 'n1']);
  });

  it('is deterministic for a seed', () => {
    const run = (): string[] => {
      const ledger = cluster(20, { CPU: 2 });
      const strategy = new DefaultStrategy();
      const random = mulberry32(99);
      return Array.from({ length: 30 }, () => {
        const nodeId = placeOn(strategy.pick({ ledger, demand: { CPU: 1 }, random, preferredNodeId: 'n3' }));
        ledger.reserve(nodeId, { CPU: 1 });
        return nodeId;
      });
    };
    expect(run()).toEqual(run());
  });

  it('skips a preferred node that does not fit, and dead nodes', () => {
    const ledger = cluster(3, { CPU: 2 });
    ledger.reserve('n0', { CPU: 2 });
    ledger.removeNode('n1');
    const decision = new DefaultStrategy().pick({ ledger, demand: { CPU: 1 }, random: mulberry32(1), preferredNodeId: 'n0' });
    expect(decision).toEqual({ kind: 'node', nodeId: 'n2' });
  });

  it('GPU and custom usage do not affect the score (only feasibility)', () => {
    const ledger = cluster(2, { CPU: 10, GPU: 1 });
    ledger.reserve('n0', { GPU: 1 });
    const strategy = new DefaultStrategy();
    expect(strategy.pick({ ledger, demand: { CPU: 1 }, random: mulberry32(1), preferredNodeId: 'n0' })).toEqual({
      kind: 'node',
      nodeId: 'n0',
    });
    expect(strategy.pick({ ledger, demand: { GPU: 1 }, random: mulberry32(1), preferredNodeId: 'n0' })).toEqual({
      kind: 'node',
      nodeId: 'n1',
    });
  });

  it('returns wait when feasible but full, infeasible when no node could ever fit', () => {
    const ledger = cluster(2, { CPU: 1 });
    ledger.reserve('n0', { CPU: 1 });
    ledger.reserve('n1', { CPU: 1 });
    const strategy = new DefaultStrategy();
    const random = mulberry32(1);
    expect(strategy.pick({ ledger, demand: { CPU: 1 }, random })).toEqual({ kind: 'wait' });
    expect(strategy.pick({ ledger, demand: { CPU: 2 }, random })).toEqual({ kind: 'infeasible' });
    expect(strategy.pick({ ledger, demand: { GPU: 1 }, random })).toEqual({ kind: 'infeasible' });
    // test_submit_api: NonexistentCustom stays pending (infeasible), it is not failed.
    expect(strategy.pick({ ledger, demand: { NonexistentCustom: 1 }, random })).toEqual({ kind: 'infeasible' });
    expect(strategy.pick({ ledger: new ResourceLedger(), demand: { CPU: 1 }, random })).toEqual({ kind: 'infeasible' });
  });

  it('places zero-resource actors on a random node (as Ray\'s hybrid policy does)', () => {
    const ledger = cluster(4, { CPU: 1 });
    const strategy = new DefaultStrategy();
    const random = mulberry32(5);
    const picks = new Set<string>();
    for (let i = 0; i < 50; i++) {
      picks.add(placeOn(strategy.pick({ ledger, demand: {}, random, preferredNodeId: 'n0', actorCreation: true })));
    }
    expect(picks.size).toBe(4);
  });

  it('validates its options', () => {
    expect(() => new DefaultStrategy({ spreadThreshold: 2 })).toThrow(RangeError);
    expect(() => new DefaultStrategy({ topKAbsolute: 0 })).toThrow(RangeError);
    expect(new DefaultStrategy().options).toEqual({ spreadThreshold: 0.5, topKFraction: 0.2, topKAbsolute: 1 });
  });
});
