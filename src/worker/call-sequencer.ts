/**
 * Per-caller call order on a bus that does not requeue at the head (NATS JetStream): calls
 * from one actor handle carry their number in its sequence and the lowest number still
 * waiting at the caller (`CallMsg.sq`, core/call-sequences.ts). A host runs a caller's calls
 * in that order. When a call arrives ahead of its turn — its host restarted and the calls
 * the dead incarnation held come back later than newer ones, `ack_wait` after the crash —
 * the host holds it, asks the caller which calls still wait (`call-seq-query`), and runs what
 * it holds as soon as the gap is filled, the caller says the missing calls are done, or
 * `holdMs` passed (then in order, without the missing ones). Memory is bounded: past
 * `maxHeld` held calls, a sequence's held calls run at once.
 *
 * Ray keeps a caller's calls in submission order for a synchronous actor
 * (https://docs.ray.io/en/latest/ray-core/actors/task-orders.html); async and threaded actors
 * do not promise an order of execution, but the order of starting is kept the same way.
 */
import type { CallSeq } from '../protocol/messages/mailbox';
import type { ReplyQueue } from '../protocol/ids';
import type { Clock, Timer } from '../util/clock';

/** How long a call waits for the calls before it in its sequence (ms): beyond a NATS `ack_wait` (5 s). */
const DEFAULT_CALL_HOLD_MS = 15_000;
/** Most calls held ahead of their turn, over all sequences. */
const MAX_HELD_CALLS = 10_000;
/** Sequences remembered with nothing held (the oldest are forgotten beyond this). */
const MAX_IDLE_SEQUENCES = 10_000;

/** What the sequencer needs of its host. */
export interface SequencerPort {
  readonly clock: Clock;
  /** Ask the caller `owner` which calls of sequence `s` still wait (answered through `onLowest`). */
  query(owner: ReplyQueue, s: string): void;
}

interface Sequence<T> {
  next: number;
  readonly held: Map<number, T>;
  timer?: Timer;
  asked: boolean;
}

/** Hands calls to `deliver` in their callers' order (see the file comment). */
export class CallSequencer<T> {
  private readonly sequences = new Map<string, Sequence<T>>();
  private heldCount = 0;

  constructor(
    private readonly deliver: (item: T) => void,
    private readonly port: SequencerPort,
    private readonly holdMs = DEFAULT_CALL_HOLD_MS,
    private readonly maxHeld = MAX_HELD_CALLS,
  ) {}

  /** Calls held now (tests, status). */
  get held(): number {
    return this.heldCount;
  }

  /** A call arrived: run it now, or hold it until the ones before it have run. */
  admit(sq: CallSeq | undefined, owner: ReplyQueue, item: T): void {
    if (!sq) return this.deliver(item);
    let seq = this.sequences.get(sq.s);
    if (!seq) {
      seq = { next: sq.lo, held: new Map(), asked: false };
      this.sequences.set(sq.s, seq);
      this.forgetIdle();
    } else {
      // Calls below `lo` had their results at the caller when this one was sent.
      seq.next = Math.max(seq.next, sq.lo);
    }
    // Its turn, or behind it (a redelivered call of this incarnation): run now.
    if (sq.n <= seq.next) {
      if (sq.n === seq.next) seq.next += 1;
      this.deliver(item);
      this.release(seq);
      return;
    }
    seq.held.set(sq.n, item);
    this.heldCount += 1;
    if (!seq.asked) {
      seq.asked = true;
      this.port.query(owner, sq.s);
    }
    seq.timer ??= this.port.clock.setTimeout(() => this.releaseAll(seq), this.holdMs);
    if (this.heldCount > this.maxHeld) this.releaseAll(seq);
  }

  /** The caller's answer: calls of `s` below `lo` are done (-1: none of it waits). */
  onLowest(s: string, lo: number): void {
    const seq = this.sequences.get(s);
    if (!seq) return;
    seq.asked = false;
    if (lo < 0) return this.releaseAll(seq);
    seq.next = Math.max(seq.next, lo);
    this.release(seq);
  }

  /** Stop every timer (the host is leaving); held calls stay unacknowledged. */
  stop(): void {
    for (const seq of this.sequences.values()) this.port.clock.clear(seq.timer);
  }

  /** Run held calls that are now in turn: those below `next` in order, then the contiguous ones. */
  private release(seq: Sequence<T>): void {
    if (seq.held.size === 0) return;
    for (const n of [...seq.held.keys()].sort((a, b) => a - b)) {
      if (n > seq.next) break;
      this.take(seq, n);
      if (n === seq.next) seq.next += 1;
    }
    if (seq.held.size === 0) this.idle(seq);
  }

  /** Run everything held, in order, without waiting for the missing calls any longer. */
  private releaseAll(seq: Sequence<T>): void {
    for (const n of [...seq.held.keys()].sort((a, b) => a - b)) {
      this.take(seq, n);
      seq.next = Math.max(seq.next, n + 1);
    }
    this.idle(seq);
  }

  private take(seq: Sequence<T>, n: number): void {
    const item = seq.held.get(n)!;
    seq.held.delete(n);
    this.heldCount -= 1;
    this.deliver(item);
  }

  private idle(seq: Sequence<T>): void {
    this.port.clock.clear(seq.timer);
    seq.timer = undefined;
    seq.asked = false;
  }

  private forgetIdle(): void {
    if (this.sequences.size <= MAX_IDLE_SEQUENCES) return;
    for (const [s, seq] of this.sequences) {
      if (this.sequences.size <= MAX_IDLE_SEQUENCES) return;
      if (seq.held.size === 0) this.sequences.delete(s);
    }
  }
}
