/**
 * The grant book: reservations on the node ledger or in a placement-group bundle, each
 * released exactly once, and a retry of waiting work after every release.
 */
import type { NodeId } from '../../../src/protocol/ids';
import { GrantBook } from '../../../src/broker/grants';
import { ResourceLedger } from '../../../src/scheduling/ledger/resource-ledger';

function book(): { book: GrantBook; nodes: ResourceLedger; bundles: ResourceLedger; released: () => number } {
  const nodes = new ResourceLedger();
  const bundles = new ResourceLedger();
  nodes.addNode('n1', { CPU: 2, GPU: 2 });
  bundles.addNode('pg#0', { CPU: 1, GPU: 1 });
  let released = 0;
  const b = new GrantBook({ nodes, bundles, realGpuIds: (_bundle, ids) => ids.map((i) => i + 1), onRelease: () => released++ });
  return { book: b, nodes, bundles, released: () => released };
}

test('a grant is released once: a second release changes nothing', () => {
  const { book: b, nodes, released } = book();
  const g = b.reserve('n1' as NodeId, { CPU: 2 })!;
  expect(nodes.available('n1')).toEqual({ GPU: 2 });
  expect(b.release(g)).toBe(true);
  expect(b.release(g)).toBe(false);
  expect(nodes.available('n1')).toEqual({ CPU: 2, GPU: 2 });
  expect(released()).toBe(1);
  expect(b.has(g.id)).toBe(false);
});

test('nothing is reserved beyond capacity', () => {
  const { book: b } = book();
  expect(b.reserve('n1' as NodeId, { CPU: 1 })).not.toBeNull();
  expect(b.reserve('n1' as NodeId, { CPU: 2 })).toBeNull();
  expect(b.all()).toHaveLength(1);
});

test('a reservation in a bundle uses the bundle ledger and the real GPU ids of the bundle', () => {
  const { book: b, nodes, bundles } = book();
  const g = b.reserve('n1' as NodeId, { CPU: 1, GPU: 1 }, 'pg#0')!;
  expect(g).toEqual(expect.objectContaining({ node: 'n1', bundle: 'pg#0', bundleGpuIds: [0], gpuIds: [1] }));
  expect(bundles.available('pg#0')).toEqual({});
  expect(nodes.available('n1')).toEqual({ CPU: 2, GPU: 2 });
  const like = b.reserveLike(g, { CPU: 1 });
  expect(like).toBeNull();
  b.release(g);
  expect(bundles.available('pg#0')).toEqual({ CPU: 1, GPU: 1 });
  expect(g.id).toMatch(/@n1$/);
});
