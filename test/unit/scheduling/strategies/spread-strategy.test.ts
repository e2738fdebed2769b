import { ResourceLedger } from '../../../../src/scheduling/ledger/resource-ledger';
import { SpreadStrategy } from '../../../../src/scheduling/strategies/spread-strategy';
import { mulberry32 } from '../../../../src/scheduling/strategies/seeded-random';

/** Head with 0 CPUs and two 8-CPU workers, as in test_scheduling_2.py. */
function headAndWorkers(): ResourceLedger {
  const ledger = new ResourceLedger();
  ledger.addNode('head', { CPU: 0, memory: 100 });
  ledger.addNode('w1', { CPU: 8 });
  ledger.addNode('w2', { CPU: 8 });
  return ledger;
}

describe('SPREAD strategy', () => {
  // Port of test_scheduling_2.py::test_spread_scheduling_strategy.
  it('puts two concurrent tasks on different workers', () => {
    const ledger = headAndWorkers();
    const strategy = new SpreadStrategy();
    const random = mulberry32(1);
    const a = strategy.pick({ ledger, demand: { CPU: 1 }, random });
    const b = strategy.pick({ ledger, demand: { CPU: 1 }, random });
    expect([a, b]).toEqual([
      { kind: 'node', nodeId: 'w1' },
      { kind: 'node', nodeId: 'w2' },
    ]);
  });

  it('spreads 8 one-CPU actors over 2 workers as exactly 4/4 (test_spread_scheduling_strategy)', () => {
    const ledger = headAndWorkers();
    const strategy = new SpreadStrategy();
    const counts: Record<string, number> = {};
    for (let i = 0; i < 8; i++) {
      const decision = strategy.pick({ ledger, demand: { CPU: 1 }, random: mulberry32(i), preferredNodeId: 'w1' });
      if (decision.kind !== 'node') throw new Error(decision.kind);
      expect(ledger.reserve(decision.nodeId, { CPU: 1 })).toBe(true);
      counts[decision.nodeId] = (counts[decision.nodeId] ?? 0) + 1;
    }
    expect(counts).toEqual({ w1: 4, w2: 4 });
  });

  it('skips nodes without room and keeps round-robin across node changes', () => {
    const ledger = headAndWorkers();
    ledger.addNode('w3', { CPU: 8 });
    ledger.reserve('w2', { CPU: 8 });
    const strategy = new SpreadStrategy();
    const random = mulberry32(1);
    const picks = Array.from({ length: 4 }, () => {
      const d = strategy.pick({ ledger, demand: { CPU: 1 }, random });
      return d.kind === 'node' ? d.nodeId : d.kind;
    });
    expect(picks).toEqual(['w1', 'w3', 'w1', 'w3']);
    ledger.removeNode('w1');
    const next = strategy.pick({ ledger, demand: { CPU: 1 }, random });
    expect(next).toEqual({ kind: 'node', nodeId: 'w3' });
  });

  it('returns wait when every node is busy and infeasible when none could fit', () => {
    const ledger = headAndWorkers();
    ledger.reserve('w1', { CPU: 8 });
    ledger.reserve('w2', { CPU: 8 });
    const strategy = new SpreadStrategy();
    const random = mulberry32(1);
    expect(strategy.pick({ ledger, demand: { CPU: 1 }, random })).toEqual({ kind: 'wait' });
    expect(strategy.pick({ ledger, demand: { CPU: 9 }, random })).toEqual({ kind: 'infeasible' });
  });
});
