/**
 * A bounded buffer that keeps the newest `capacity` entries: an array with a head index,
 * grown on demand up to its capacity, then overwritten oldest first (counted as dropped).
 */
export class Ring<T> {
  private readonly items: T[] = [];
  private head = 0;
  /** Entries overwritten since the ring was made. */
  dropped = 0;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`Ring capacity must be an integer >= 1, got ${capacity}`);
  }

  get size(): number {
    return this.items.length;
  }

  /** Add an entry; the oldest is dropped once the ring is full. */
  push(item: T): void {
    if (this.items.length < this.capacity) {
      this.items.push(item);
      return;
    }
    this.items[this.head] = item;
    this.head = (this.head + 1) % this.capacity;
    this.dropped += 1;
  }

  /** Entries, oldest first. */
  *[Symbol.iterator](): IterableIterator<T> {
    const n = this.items.length;
    for (let i = 0; i < n; i++) yield this.items[(this.head + i) % n]!;
  }

  clear(): void {
    this.items.length = 0;
    this.head = 0;
  }
}
