/**
 * The body of a broker message that carries a batch of messages (PublishOptions.batch), shared
 * by the broker adapters: each message as a 4-byte big-endian length and its bytes. An adapter
 * batches the messages to one queue in one event-loop turn into such a body, and splits it
 * again on delivery.
 */

import type { Delivery, MessageHeaders } from '../src/transport/transport';

/** Bytes a part takes in a batch body besides its own (its length prefix). */
const BATCH_PART_OVERHEAD = 4;

/** A batch body of `parts`, whose lengths with their prefixes add up to `bytes`. */
function encodeBatch(parts: readonly Uint8Array[], bytes: number): Buffer {
  const out = Buffer.allocUnsafe(bytes);
  let at = 0;
  for (const p of parts) {
    out.writeUInt32BE(p.byteLength, at);
    out.set(p, at + BATCH_PART_OVERHEAD);
    at += BATCH_PART_OVERHEAD + p.byteLength;
  }
  return out;
}

/** The messages of a batch body (views into it); throws when it is not `count` well-formed parts. */
export function decodeBatch(body: Uint8Array, count: number): Buffer[] {
  if (!Number.isInteger(count) || count < 1) throw new RangeError(`a batch of ${String(count)} messages`);
  const buf = Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  const parts: Buffer[] = [];
  let at = 0;
  while (at < buf.length) {
    if (at + BATCH_PART_OVERHEAD > buf.length) throw new RangeError('truncated batch');
    const n = buf.readUInt32BE(at);
    if (at + BATCH_PART_OVERHEAD + n > buf.length) throw new RangeError('truncated batch');
    parts.push(buf.subarray(at + BATCH_PART_OVERHEAD, at + BATCH_PART_OVERHEAD + n));
    at += BATCH_PART_OVERHEAD + n;
  }
  if (parts.length !== count) throw new RangeError(`batch of ${parts.length} messages, header says ${count}`);
  return parts;
}

/** What an adapter does as the messages of a batch it delivered are settled. */
export interface BatchSettlement {
  readonly queue: string;
  /** The batch's headers (without the adapter's batch header), shared by its messages. */
  readonly headers: MessageHeaders;
  readonly redelivered: boolean;
  /** One message was nacked: the adapter requeues it, or dead-letters it, alone. */
  nacked(body: Buffer, requeue: boolean, reason: string | undefined): void;
  /** Every message was acked or nacked: the adapter settles the broker message. */
  allSettled(): void;
}

/**
 * Hand each message of a batch to `handler` as a delivery of its own, settled once (a second
 * ack or nack does nothing); a handler that throws has its message nacked with requeue.
 * `onThrow` reports the error.
 */
export function deliverBatch(parts: readonly Buffer[], s: BatchSettlement, handler: (d: Delivery) => void, onThrow: (err: unknown) => void): void {
  let left = parts.length;
  const settledOne = (): void => {
    if (--left === 0) s.allSettled();
  };
  for (const body of parts) {
    let settled = false;
    const delivery: Delivery = {
      queue: s.queue,
      body,
      headers: s.headers,
      redelivered: s.redelivered,
      ack: () => {
        if (settled) return;
        settled = true;
        settledOne();
      },
      nack: (requeue: boolean, reason?: string) => {
        if (settled) return;
        settled = true;
        s.nacked(body, requeue, reason);
        settledOne();
      },
    };
    try {
      handler(delivery);
    } catch (err) {
      onThrow(err);
      delivery.nack(true);
    }
  }
}

/** Messages to one destination waiting to be sent together. */
interface PendingBatch<T> {
  readonly target: T;
  readonly parts: Uint8Array[];
  bytes: number;
  readonly waiters: Array<{ resolve(): void; reject(err: Error): void }>;
}

/**
 * The batches of an adapter's publisher: messages per destination (`key`) gathered until the
 * adapter flushes them (at the end of the event-loop turn, or before a message to the same
 * destination that is not batched, to keep their order), or until the next one would pass
 * `limit` bytes. A flushed batch goes out through `send` as one message (a lone message as
 * itself, `count` 1), and each message's promise settles with it.
 */
export class TurnBatches<T> {
  private readonly batches = new Map<string, PendingBatch<T>>();

  constructor(private readonly send: (target: T, body: Uint8Array, count: number) => Promise<void>) {}

  add(key: string, target: T, body: Uint8Array, limit: number): Promise<void> {
    let batch = this.batches.get(key);
    if (batch && batch.bytes + BATCH_PART_OVERHEAD + body.byteLength > limit) {
      this.flush(key);
      batch = undefined;
    }
    if (!batch) {
      batch = { target, parts: [], bytes: 0, waiters: [] };
      this.batches.set(key, batch);
    }
    const b = batch;
    b.parts.push(body);
    b.bytes += BATCH_PART_OVERHEAD + body.byteLength;
    return new Promise<void>((resolve, reject) => b.waiters.push({ resolve, reject }));
  }

  /** Send what waits for `key` now. */
  flush(key: string): void {
    const batch = this.batches.get(key);
    if (!batch) return;
    this.batches.delete(key);
    const { parts } = batch;
    const sent = parts.length === 1 ? this.send(batch.target, parts[0]!, 1) : this.send(batch.target, encodeBatch(parts, batch.bytes), parts.length);
    sent.then(
      () => {
        for (const w of batch.waiters) w.resolve();
      },
      (err: Error) => {
        for (const w of batch.waiters) w.reject(err);
      },
    );
  }

  /** Send everything that waits. */
  flushAll(): void {
    for (const key of [...this.batches.keys()]) this.flush(key);
  }
}
