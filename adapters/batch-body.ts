/**
 * The body of a broker message that carries a batch of messages (PublishOptions.batch), shared
 * by the broker adapters: each message as a 4-byte big-endian length and its bytes. An adapter
 * batches the messages to one queue in one event-loop turn into such a body, and splits it
 * again on delivery.
 */

/** Bytes a part takes in a batch body besides its own (its length prefix). */
export const BATCH_PART_OVERHEAD = 4;

/** A batch body of `parts`, whose lengths with their prefixes add up to `bytes`. */
export function encodeBatch(parts: readonly Uint8Array[], bytes: number): Buffer {
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
