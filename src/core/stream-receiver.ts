/**
 * Owner side of a generator task: items arrive as `stream-item` messages with sequence
 * numbers (duplicates from a retried attempt are dropped, so the caller never sees an item
 * twice), are handed out in order, and consumption is acknowledged to the producer for
 * backpressure. The stream ends with the task's result.
 */
import { streamItemId, type ObjectId, type ReplyQueue, type TaskId } from '../protocol/ids';
import type { ObjectRef } from '../refs/object-ref';
import type { StreamSource } from '../refs/object-ref-generator';
import type { WireOutcome } from '../protocol/wire';
import type { StreamControlMsg } from '../protocol/messages/reply';

/** How a stream tells its producer about consumption, release and cancel. */
export interface StreamOutbox {
  send(queue: ReplyQueue, msg: StreamControlMsg): void;
}

/** Where a stream keeps its items (the object manager). */
export interface StreamObjects {
  /** A ref owned by this process for `id`. */
  ownedRef<T>(id: ObjectId): ObjectRef<T>;
  /** Store an item that arrived (taking the refs inside it). */
  receiveOutcome(id: ObjectId, out: WireOutcome): void;
  /** An item that arrived again (a retried producer): its refs come and go at once. */
  releaseOutcomeRefs(out: WireOutcome): void;
  fulfil(id: ObjectId, out: WireOutcome): void;
}

/** The owner side of one generator task: its items, in order, as refs. */
export class StreamReceiver implements StreamSource {
  /** Items by sequence number; a slot is cleared once handed out, so memory stays bounded. */
  private readonly items: Array<ObjectRef<unknown> | undefined> = [];
  private consumed = 0;
  private ended = false;
  private waiters: Array<() => void> = [];
  /** The producer's reply address (for acks), learnt from its first item. */
  private producer?: ReplyQueue;
  private released = false;
  /** The caller left its loop early: nothing more is handed out. */
  private stopped = false;

  constructor(
    private readonly outbox: StreamOutbox,
    private readonly objects: StreamObjects,
    readonly taskId: TaskId,
    private readonly completionRef: ObjectRef<unknown>,
    /** Backpressure: -1 off, else the most unconsumed items the producer may be ahead. */
    private readonly backpressure: number,
    /** Cancels the task (its caller left the loop early). */
    private readonly cancelTask: (taskId: TaskId) => void = () => undefined,
  ) {}

  /** The caller left its loop early: cancel the task, unless it already ended; no item follows. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    if (!this.ended) this.cancelTask(this.taskId);
  }

  /** Every ref received so far, in order (for 'dynamic' generators, which are never pulled). */
  allRefs(): ObjectRef<unknown>[] {
    return this.items.filter((r): r is ObjectRef<unknown> => r !== undefined);
  }

  /** An item arrived. Returns false for a duplicate (from a retried attempt). */
  onItem(seq: number, out: WireOutcome, from: ReplyQueue): boolean {
    const first = this.producer === undefined || this.producer !== from;
    this.producer = from;
    if (first && this.released && !this.ended) this.outbox.send(from, { t: 'stream-release', task: this.taskId });
    if (seq < this.items.length || this.ended) {
      // A retried producer starts counting again: tell it how far the caller already is.
      if (this.backpressure > 0 && !this.ended) this.outbox.send(from, { t: 'stream-ack', task: this.taskId, consumed: this.consumed });
      // Already delivered by an earlier attempt: the retry re-yields from the start.
      this.objects.releaseOutcomeRefs(out);
      return false;
    }
    const id = streamItemId(this.taskId, seq);
    const ref = this.objects.ownedRef(id);
    this.objects.receiveOutcome(id, out);
    this.items.push(ref);
    this.wake();
    return true;
  }

  /** The task finished (or failed): `error` is appended as a last item when given. */
  end(error?: WireOutcome): void {
    if (this.ended) return;
    if (error) {
      const id = streamItemId(this.taskId, this.items.length);
      const ref = this.objects.ownedRef(id);
      this.objects.fulfil(id, error);
      this.items.push(ref);
    }
    this.ended = true;
    this.wake();
  }

  pull(): Promise<ObjectRef<unknown> | undefined> {
    const next = this.peek();
    if (next !== 'pending') {
      if (next === 'end') return Promise.resolve(undefined);
      this.items[this.consumed] = undefined;
      this.consumed += 1;
      this.ack();
      return Promise.resolve(next);
    }
    return this.whenAvailable().then(() => this.pull());
  }

  peek(): ObjectRef<unknown> | 'end' | 'pending' {
    if (this.stopped) return 'end';
    if (this.consumed < this.items.length) return this.items[this.consumed]!;
    return this.ended ? 'end' : 'pending';
  }

  whenAvailable(): Promise<void> {
    if (this.peek() !== 'pending') return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  completed(): ObjectRef<unknown> {
    return this.completionRef;
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    if (this.producer && !this.ended) this.outbox.send(this.producer, { t: 'stream-release', task: this.taskId });
  }

  /** Cancel: the producer stops; the stream ends with a cancellation error item. */
  cancel(): void {
    if (this.producer && !this.ended) this.outbox.send(this.producer, { t: 'stream-cancel', task: this.taskId });
  }

  private ack(): void {
    if (this.backpressure > 0 && this.producer && !this.ended) {
      this.outbox.send(this.producer, { t: 'stream-ack', task: this.taskId, consumed: this.consumed });
    }
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }
}
