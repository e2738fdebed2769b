import { ResourceLedger } from '../../../../src/scheduling/ledger/resource-ledger';
import { NodeAffinityStrategy, type NodeAffinityTarget } from '../../../../src/scheduling/strategies/node-affinity-strategy';
import type { PlacementDecision } from '../../../../src/scheduling/strategies/placement-strategy';
import { mulberry32 } from '../../../../src/scheduling/strategies/seeded-random';

function setup(): ResourceLedger {
  const ledger = new ResourceLedger();
  ledger.addNode('a', { CPU: 2 });
  ledger.addNode('b', { CPU: 2, GPU: 1 });
  return ledger;
}

function pick(ledger: ResourceLedger, demand: Record<string, number>, affinity: NodeAffinityTarget): PlacementDecision {
  return new NodeAffinityStrategy().pick({ ledger, demand, affinity, random: mulberry32(1), preferredNodeId: 'a' });
}

// Ported from test_scheduling_2.py::test_node_affinity_scheduling_strategy.
describe('NODE_AFFINITY strategy', () => {
  it('runs only on the named node when it is alive and fits, soft or not', () => {
    const ledger = setup();
    expect(pick(ledger, { CPU: 1 }, { nodeId: 'b', soft: false })).toEqual({ kind: 'node', nodeId: 'b' });
    expect(pick(ledger, { CPU: 1 }, { nodeId: 'b', soft: true })).toEqual({ kind: 'node', nodeId: 'b' });
  });

  it('waits for a busy but feasible node, soft or hard (Ray semantics)', () => {
    const ledger = setup();
    ledger.reserve('b', { CPU: 2 });
    expect(pick(ledger, { CPU: 1 }, { nodeId: 'b', soft: false })).toEqual({ kind: 'wait' });
    expect(pick(ledger, { CPU: 1 }, { nodeId: 'b', soft: true })).toEqual({ kind: 'wait' });
  });

  it('spills a soft request with spillOnUnavailable; fails a hard one with failOnUnavailable', () => {
    const ledger = setup();
    ledger.reserve('b', { CPU: 2 });
    expect(pick(ledger, { CPU: 1 }, { nodeId: 'b', soft: true, spillOnUnavailable: true })).toEqual({
      kind: 'node',
      nodeId: 'a',
    });
    const failed = pick(ledger, { CPU: 1 }, { nodeId: 'b', soft: false, failOnUnavailable: true });
    expect(failed).toMatchObject({ kind: 'unschedulable', reason: expect.stringMatching(/no room/) });
  });

  it('makes hard affinity to a dead or unknown node unschedulable (TaskUnschedulableError)', () => {
    const ledger = setup();
    ledger.removeNode('b');
    expect(pick(ledger, { CPU: 1 }, { nodeId: 'b', soft: false })).toEqual({
      kind: 'unschedulable',
      reason: 'node b is dead',
    });
    expect(pick(ledger, { CPU: 1 }, { nodeId: 'nope', soft: false })).toEqual({
      kind: 'unschedulable',
      reason: 'node nope is unknown',
    });
  });

  it('makes hard affinity to a node that can never fit unschedulable', () => {
    const ledger = setup();
    const decision = pick(ledger, { GPU: 1 }, { nodeId: 'a', soft: false });
    expect(decision).toMatchObject({ kind: 'unschedulable', reason: expect.stringMatching(/can never fit on node a/) });
  });

  it('falls back to DEFAULT for soft affinity to a dead or infeasible node', () => {
    const ledger = setup();
    ledger.removeNode('a');
    expect(pick(ledger, { CPU: 1 }, { nodeId: 'a', soft: true })).toEqual({ kind: 'node', nodeId: 'b' });
    const fresh = setup();
    expect(pick(fresh, { GPU: 1 }, { nodeId: 'a', soft: true })).toEqual({ kind: 'node', nodeId: 'b' });
    // soft, and nowhere could ever fit: infeasible (pending), not unschedulable
    expect(pick(fresh, { GPU: 2 }, { nodeId: 'a', soft: true })).toEqual({ kind: 'infeasible' });
  });
});
