/** addBounded (src/util/bounded-set.ts): a set that keeps only its latest entries. */
import { addBounded } from '../../../src/util/bounded-set';

test('past its bound the oldest entry goes and is returned; an entry added again keeps its first place', () => {
  const s = new Set<string>();
  expect(addBounded(s, 'a', 2)).toBeUndefined();
  expect(addBounded(s, 'b', 2)).toBeUndefined();
  expect(addBounded(s, 'b', 2)).toBeUndefined();
  expect(addBounded(s, 'c', 2)).toBe('a');
  expect([...s]).toEqual(['b', 'c']);
});
