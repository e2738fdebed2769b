/**
 * Storage for the bounded rings of finished tasks and executions, kept off the garbage
 * collector's back: a row is written into columns (typed arrays for numbers, plain arrays for
 * strings that are shared anyway), so keeping 100 000 finished tasks allocates nothing per task
 * and no long-lived object per task is ever promoted or traced. A unique id is kept as the index
 * of its (interned) prefix and its counter, not as a string of its own.
 */
import { ID_COUNTER_DIGITS, idCounter, joinId } from '../protocol/ids';

/** Columns start this long and double up to the ring's capacity. */
const INITIAL_ROWS = 1024;
/** Prefix index meaning "the id is kept whole" (it is not a counter id). */
const WHOLE = 0xffff;

/** Numbers, one per row (NaN for none). */
export class NumberColumn {
  values = new Float64Array(0);
  grow(n: number): void {
    const next = new Float64Array(n);
    next.set(this.values);
    this.values = next;
  }
}

/** Small integers (enums), one per row. */
export class ByteColumn {
  values = new Uint8Array(0);
  grow(n: number): void {
    const next = new Uint8Array(n);
    next.set(this.values);
    this.values = next;
  }
}

/** References (shared strings, resources objects), one per row. */
export class RefColumn<T> {
  values: Array<T | undefined> = [];
  grow(): void {
    /* plain arrays grow as they are written */
  }
}

/** Unique ids as (prefix index, counter); any other string kept whole. */
export class IdColumn {
  private readonly prefixes: string[] = [];
  private readonly prefixIndex = new Map<string, number>();
  private last = -1;
  private prefix = new Uint16Array(0);
  private counter = new Float64Array(0);
  private readonly whole: Array<string | undefined> = [];

  grow(n: number): void {
    const p = new Uint16Array(n);
    p.set(this.prefix);
    this.prefix = p;
    const c = new Float64Array(n);
    c.set(this.counter);
    this.counter = c;
  }

  set(row: number, id: string): void {
    let idx = -1;
    // Ids of one owner share its prefix: try the last one first.
    let n = this.last >= 0 ? idCounter(id, this.prefixes[this.last]!) : -1;
    if (n >= 0) idx = this.last;
    else if (id.length > ID_COUNTER_DIGITS) {
      const p = id.slice(0, -ID_COUNTER_DIGITS);
      const known = this.prefixIndex.get(p);
      n = idCounter(id, p);
      if (n >= 0 && known !== undefined) idx = known;
      else if (n >= 0 && this.prefixes.length < WHOLE) {
        idx = this.prefixes.push(p) - 1;
        this.prefixIndex.set(p, idx);
      }
    }
    if (idx < 0) {
      this.prefix[row] = WHOLE;
      this.whole[row] = id;
      return;
    }
    this.last = idx;
    this.prefix[row] = idx;
    this.counter[row] = n;
    if (this.whole[row] !== undefined) this.whole[row] = undefined;
  }

  get(row: number): string {
    const idx = this.prefix[row]!;
    return idx === WHOLE ? this.whole[row]! : joinId(this.prefixes[idx]!, this.counter[row]!);
  }
}

/** A column of a ring (see {@link ColumnRing}). */
export interface Column {
  grow(n: number): void;
}

/**
 * The rows of a bounded ring, over columns: `next()` gives the row to write (growing the
 * columns up to `capacity`, then overwriting the oldest, counted as dropped); `rows()` lists
 * rows oldest first.
 */
export class ColumnRing {
  private allocated = 0;
  private head = 0;
  size = 0;
  dropped = 0;

  constructor(
    readonly capacity: number,
    private readonly columns: readonly Column[],
  ) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`ring capacity must be an integer >= 1, got ${capacity}`);
  }

  /** The row to write the next entry into. */
  next(): number {
    if (this.size < this.capacity) {
      if (this.size === this.allocated) {
        this.allocated = Math.min(this.capacity, Math.max(INITIAL_ROWS, this.allocated * 2));
        for (const c of this.columns) c.grow(this.allocated);
      }
      return this.size++;
    }
    const row = this.head;
    this.head = (this.head + 1) % this.capacity;
    this.dropped += 1;
    return row;
  }

  /** Row numbers, oldest first. */
  *rows(): IterableIterator<number> {
    const n = this.size;
    for (let i = 0; i < n; i++) yield (this.head + i) % n;
  }
}
