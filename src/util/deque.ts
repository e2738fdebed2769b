/**
 * A double-ended queue on a ring buffer: push and take at either end in O(1) (amortised over
 * the doublings), however long it grows. `Array.prototype.shift` moves every element once the
 * array is long (V8 only trims small arrays in place), which makes draining a queue of a
 * million tasks quadratic; this never moves an element except when the buffer grows or shrinks.
 */

/** Smallest buffer (a power of two). */
const MIN_CAPACITY = 16;

/**
 * A packed array of `n` undefined slots (`new Array(n)` of a large n makes a slow, dictionary-mode
 * array in V8).
 */
function filled<T>(n: number): Array<T | undefined> {
  const a: Array<T | undefined> = [];
  while (a.length < n) a.push(undefined);
  return a;
}

export class Deque<T> {
  private buf: Array<T | undefined> = filled(MIN_CAPACITY);
  /** Index of the first element. */
  private head = 0;
  private size = 0;

  get length(): number {
    return this.size;
  }

  /** The first element, left in place. */
  peek(): T | undefined {
    return this.size === 0 ? undefined : this.buf[this.head];
  }

  /** Add at the back. */
  push(item: T): void {
    if (this.size === this.buf.length) this.resize(this.buf.length * 2);
    this.buf[(this.head + this.size) & (this.buf.length - 1)] = item;
    this.size += 1;
  }

  /** Add at the front (it is taken next). */
  unshift(item: T): void {
    if (this.size === this.buf.length) this.resize(this.buf.length * 2);
    this.head = (this.head - 1) & (this.buf.length - 1);
    this.buf[this.head] = item;
    this.size += 1;
  }

  /** Put `items` at the front, in their order (the first of them is taken next). */
  unshiftAll(items: readonly T[]): void {
    for (let i = items.length - 1; i >= 0; i--) this.unshift(items[i]!);
  }

  /** Take the first element. */
  shift(): T | undefined {
    if (this.size === 0) return undefined;
    const item = this.buf[this.head];
    this.buf[this.head] = undefined;
    this.head = (this.head + 1) & (this.buf.length - 1);
    this.size -= 1;
    // Give back the memory of a burst once it has drained (a quarter full: halve).
    if (this.buf.length > MIN_CAPACITY && this.size <= this.buf.length >>> 2) this.resize(this.buf.length >>> 1);
    return item;
  }

  /** Remove and return the first element that matches (O(n): for rare removals, e.g. cancel). */
  removeFirst(match: (item: T) => boolean): T | undefined {
    const mask = this.buf.length - 1;
    for (let i = 0; i < this.size; i++) {
      const item = this.buf[(this.head + i) & mask]!;
      if (!match(item)) continue;
      // Close the gap by moving the elements behind it one step forward.
      for (let j = i; j < this.size - 1; j++) this.buf[(this.head + j) & mask] = this.buf[(this.head + j + 1) & mask];
      this.buf[(this.head + this.size - 1) & mask] = undefined;
      this.size -= 1;
      return item;
    }
    return undefined;
  }

  /** Remove every element and return them in order. */
  drain(): T[] {
    const out = new Array<T>(this.size);
    for (let i = 0; i < out.length; i++) out[i] = this.shift()!;
    return out;
  }

  private resize(capacity: number): void {
    const next: Array<T | undefined> = [];
    const mask = this.buf.length - 1;
    for (let i = 0; i < this.size; i++) next.push(this.buf[(this.head + i) & mask]);
    while (next.length < capacity) next.push(undefined);
    this.buf = next;
    this.head = 0;
  }
}
