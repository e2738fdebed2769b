/**
 * The caller side of per-caller actor call order: each actor handle numbers the calls it
 * sends (a sequence of its own, `CallMsg.sq`), with the lowest number still waiting for its
 * result. An actor host that sees a gap in a sequence (a restarted host, calls of the dead
 * one coming back later on a bus that does not requeue at the head) asks the caller which
 * calls still wait (`call-seq-query`); the answer lets it run what it holds without waiting
 * for calls that finished long ago. See worker/call-sequencer.ts.
 */
import { randomHex } from '../util/node-crypto';
import type { CallSeq } from '../protocol/messages/mailbox';

/** One handle's sequence of calls. */
export class CallStream {
  private next = 0;
  private floor = 0;
  private readonly pending = new Set<number>();

  constructor(
    readonly id: string,
    private readonly open: Map<string, CallStream>,
  ) {}

  /** Number the next call sent (it waits for its result until `done`). */
  take(): CallSeq {
    const n = this.next++;
    this.pending.add(n);
    this.open.set(this.id, this);
    return { s: this.id, n, lo: this.lowest() };
  }

  /** Call `n` has its result (or failed). */
  done(n: number): void {
    this.pending.delete(n);
    if (this.pending.size === 0) this.open.delete(this.id);
  }

  /** The lowest number still waiting (the next number when none waits). */
  lowest(): number {
    while (this.floor < this.next && !this.pending.has(this.floor)) this.floor += 1;
    return this.floor;
  }
}

/** The call sequences of one process; only those with calls waiting are remembered. */
export class CallSequences {
  private readonly open = new Map<string, CallStream>();

  /** A new sequence (one per actor handle). */
  stream(): CallStream {
    return new CallStream(randomHex(8), this.open);
  }

  /** What to answer a host asking about sequence `s` (-1: unknown, nothing of it waits). */
  lowest(s: string): number {
    return this.open.get(s)?.lowest() ?? -1;
  }
}
