/**
 * What one transport's queue subscriptions hold and have settled, by stored message, so that a
 * message the server sends again is never handed to a second handler of the transport while
 * the first holds it, nor handed over again once it was acknowledged here.
 *
 * The server can send one stored message twice while it is unacknowledged: after `ack_wait`
 * (the holder stalled), after a `-NAK` sent on an older delivery's ack subject, and on NATS 2.9
 * and 2.10 before 2.10.14 when it fails to hand a redelivery to a pull request whose inbox is
 * gone: it then re-sends the last new message with delivery count 1 (nats-server 2.10.14 release
 * notes, "Multiple deliveries of messages with delivery count going backwards").
 * Acks, naks and progress acks name the message by its stream sequence, so any copy's ack
 * subject settles it; the ledger keeps the newest one.
 */

/** A delivery as its ack subject describes it (`$JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<dseq>.<ts>.<pending>`). */
export interface AckSubject {
  readonly stream: string;
  /** How often the message was delivered, this time included. */
  readonly delivered: number;
  /** The message's sequence in its stream. */
  readonly streamSeq: number;
  /** When the message was stored (ns): with the sequence, names it even if the stream is made again. */
  readonly timestamp: string;
}

/** Read an ack subject (v1, and v2 with domain and account hash); undefined if it is not one. */
export function parseAckSubject(reply: string): AckSubject | undefined {
  const t = reply.split('.');
  if (t[0] !== '$JS' || t[1] !== 'ACK') return undefined;
  // v1: 9 tokens; v2: $JS.ACK.<domain>.<account hash>.<stream>.<consumer>.<delivered>.<sseq>.<dseq>.<ts>.<pending>[.<token>]
  const at = t.length === 9 ? 2 : t.length === 11 || t.length === 12 ? 4 : -1;
  if (at < 0) return undefined;
  const delivered = Number(t[at + 2]);
  const streamSeq = Number(t[at + 3]);
  const deliverySeq = Number(t[at + 4]);
  const timestamp = t[at + 5]!;
  if (![delivered, streamSeq, deliverySeq].every((n) => Number.isSafeInteger(n) && n > 0) || !/^\d+$/.test(timestamp)) return undefined;
  return { stream: t[at]!, delivered, streamSeq, timestamp };
}

/** The stored message a delivery carries: one key for every copy of it. */
export function messageKey(reply: string, ack: AckSubject | undefined): string {
  return ack ? `${ack.stream}.${ack.streamSeq}.${ack.timestamp}` : reply;
}

/** A message one subscription holds: the ack subject it settles it with, and its last progress ack. */
export interface HeldDelivery {
  reply: string;
  touched: number;
}

/** How a message was settled for good. */
export type Settlement = 'ack' | 'term';

/**
 * Settled messages remembered, oldest forgotten first. A second copy of a settled message comes
 * within milliseconds (the server's double send) or after a reconnect that lost the ack; a copy
 * that comes after its key was forgotten is handed over (delivery is at least once).
 */
export const SETTLED_REMEMBERED = 10_000;

export class DeliveryLedger {
  private readonly held = new Map<string, HeldDelivery>();
  private readonly settled = new Map<string, Settlement>();

  /** The delivery of this message a subscription of the transport holds, if any. */
  holder(key: string): HeldDelivery | undefined {
    return this.held.get(key);
  }

  hold(key: string, delivery: HeldDelivery): void {
    this.held.set(key, delivery);
  }

  /** The message is no longer held by `delivery` (requeued, or its subscription stopped). */
  release(key: string, delivery: HeldDelivery): void {
    if (this.held.get(key) === delivery) this.held.delete(key);
  }

  /** `delivery` settled the message for good: later copies are settled the same way, not handed over. */
  settle(key: string, delivery: HeldDelivery, how: Settlement): void {
    this.release(key, delivery);
    this.settled.delete(key);
    this.settled.set(key, how);
    if (this.settled.size > SETTLED_REMEMBERED) this.settled.delete(this.settled.keys().next().value!);
  }

  /** How this transport settled the message for good, if it did (and still remembers). */
  settlement(key: string): Settlement | undefined {
    return this.settled.get(key);
  }
}

/**
 * Another copy of a held message arrived: settle it with that copy's ack subject, the delivery
 * the server now counts (copies reach one connection in the order the server sent them).
 */
export function adoptCopy(held: HeldDelivery, reply: string, now: number): void {
  held.reply = reply;
  // The server started ack_wait over for the message when it sent this copy.
  held.touched = now;
}
