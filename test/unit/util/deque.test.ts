/**
 * The ring-buffer deque behind the task submitter's queue: FIFO at the back, LIFO at the
 * front, in order across every growth and shrink of its buffer.
 */
import { Deque } from '../../../src/util/deque';

/** Everything left, taken from the front. */
function takeAll<T>(d: Deque<T>): T[] {
  const out: T[] = [];
  while (d.length > 0) out.push(d.shift()!);
  return out;
}

test('an empty deque has nothing to peek at or take', () => {
  const d = new Deque<number>();
  expect(d.length).toBe(0);
  expect(d.peek()).toBeUndefined();
  expect(d.shift()).toBeUndefined();
  expect(d.drain()).toEqual([]);
});

test('push then shift is first in, first out, across many growths', () => {
  const d = new Deque<number>();
  for (let i = 0; i < 10_000; i++) d.push(i);
  expect(d.length).toBe(10_000);
  expect(d.peek()).toBe(0);
  expect(takeAll(d)).toEqual(Array.from({ length: 10_000 }, (_, i) => i));
  expect(d.length).toBe(0);
});

test('unshift puts an element first; unshiftAll puts several first in their order', () => {
  const d = new Deque<string>();
  d.push('c');
  d.push('d');
  d.unshift('b');
  d.unshiftAll(['x', 'y']);
  expect(d.peek()).toBe('x');
  expect(takeAll(d)).toEqual(['x', 'y', 'b', 'c', 'd']);
});

test('order holds while the head wraps around the buffer, grows and shrinks', () => {
  const d = new Deque<number>();
  const model: number[] = [];
  // A deterministic mix of pushes, front inserts and takes (a linear congruential sequence).
  let seed = 7;
  const next = (): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31);
  let mismatches = 0;
  for (let step = 0; step < 20_000; step++) {
    const r = next() % 10;
    if (r < 5) {
      d.push(step);
      model.push(step);
    } else if (r < 6) {
      d.unshift(step);
      model.unshift(step);
    } else {
      if (d.shift() !== model.shift()) mismatches += 1;
    }
    if (d.length !== model.length || d.peek() !== model[0]) mismatches += 1;
  }
  expect(mismatches).toBe(0);
  expect(takeAll(d)).toEqual(model);
});

test('a drained burst gives its memory back: pushes after it still come out in order', () => {
  const d = new Deque<number>();
  for (let i = 0; i < 100_000; i++) d.push(i);
  for (let i = 0; i < 99_990; i++) d.shift();
  d.push(-1);
  expect(takeAll(d)).toEqual([99_990, 99_991, 99_992, 99_993, 99_994, 99_995, 99_996, 99_997, 99_998, 99_999, -1]);
});

test('removeFirst takes out the first match only and closes the gap; drain empties it in order', () => {
  const d = new Deque<number>();
  // Wrap the head first, so that the gap closes across the end of the buffer.
  for (let i = 0; i < 12; i++) d.push(i);
  for (let i = 0; i < 12; i++) d.shift();
  for (const x of [1, 2, 3, 2, 4, 5, 6, 7, 8, 9]) d.push(x);
  d.unshift(0);
  expect(d.removeFirst((x) => x === 2)).toBe(2);
  expect(d.removeFirst((x) => x === 42)).toBeUndefined();
  expect(d.length).toBe(10);
  expect(d.drain()).toEqual([0, 1, 3, 2, 4, 5, 6, 7, 8, 9]);
  expect(d.length).toBe(0);
  d.push(10);
  expect(d.shift()).toBe(10);
});
