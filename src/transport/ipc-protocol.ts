/**
 * Frames between a worker process and its node. Frames are batched per event-loop turn: each
 * message on the link (ipc-link.ts) is one msgpack buffer holding the turn's frames.
 */
import { afterPack, privateMsgpackr } from '../serialization/msgpackr-instance';
import type { MessageHeaders, QueueOptions } from './transport';

export type ChildFrame =
  | { op: 'assert'; id: number; queue: string; opts?: QueueOptions }
  | { op: 'delete'; id: number; queue: string }
  | { op: 'pub'; queue: string; body: Uint8Array; headers?: MessageHeaders; batch?: true; transient?: true }
  | { op: 'consume'; id: number; queue: string; prefetch: number }
  | { op: 'cancel'; id: number; ctag: number }
  | { op: 'ack'; ctag: number; dtag: number }
  | { op: 'nack'; ctag: number; dtag: number; requeue: boolean; reason?: string }
  | { op: 'bcast'; topic: string; body: Uint8Array }
  | { op: 'sub'; id: number; topic: string }
  | { op: 'unsub'; id: number; stag: number }
  | { op: 'ready' }
  | { op: 'retiring' };

export type ParentFrame =
  | { op: 'ok'; id: number; tag?: number }
  | { op: 'err'; id: number; message: string }
  // The queue is the consumer's (ctag); headers and redelivered only when there are some.
  | { op: 'deliver'; ctag: number; dtag: number; body: Uint8Array; headers?: MessageHeaders; redelivered?: true }
  | { op: 'topic'; stag: number; body: Uint8Array }
  | { op: 'puberr'; queue: string; message: string };

/**
 * Frames of one IPC message at most: a long run of calls or results in one turn leaves in
 * messages of this many, so the other side starts on the first while this one works on the
 * rest (both cores busy), instead of one message at the end of the turn.
 */
const FRAMES_PER_MESSAGE = 64;

/** Collects frames and sends them in one IPC message at the end of the current tick (or once FRAMES_PER_MESSAGE are waiting). */
export class FrameBatcher<F> {
  private batch: F[] = [];
  private scheduled = false;
  constructor(private readonly sink: (frames: F[]) => void) {}

  push(frame: F): void {
    this.batch.push(frame);
    if (this.batch.length >= FRAMES_PER_MESSAGE) {
      const frames = this.batch;
      this.batch = [];
      this.sink(frames);
      return;
    }
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.flush());
  }

  flush(): void {
    this.scheduled = false;
    if (this.batch.length === 0) return;
    const frames = this.batch;
    this.batch = [];
    this.sink(frames);
  }
}

// raybus's own msgpackr (a worker loads one copy, not two). Frames hold plain objects and
// byte arrays only: the serializer's extensions never apply to them.
const framePackr = new (privateMsgpackr().Packr)({ useRecords: false, moreTypes: false, mapsAsObjects: true });

/** A frame body from this size travels after the encoded frames, as it is: never copied into them. */
const OUT_OF_LINE_BYTES = 64 * 1024;

/**
 * One IPC message: the frames of a batch, as byte arrays to write one after the other: a 4-byte
 * little-endian length of the encoded frames, the frames (msgpack), then the large bodies the
 * frames left out (each frame with `xb` instead of `body`: its body's length, in order).
 */
export function encodeFrames<F>(frames: F[]): Uint8Array[] {
  let parts: Uint8Array[] | undefined;
  let out: F[] = frames;
  for (let i = 0; i < frames.length; i++) {
    const body = (frames[i] as { body?: unknown }).body;
    if (!(body instanceof Uint8Array) || body.byteLength < OUT_OF_LINE_BYTES) continue;
    if (!parts) {
      parts = [];
      out = frames.slice();
    }
    const { body: _moved, ...rest } = frames[i] as { body: Uint8Array };
    out[i] = { ...rest, xb: body.byteLength } as F;
    parts.push(body);
  }
  const encoded = afterPack(framePackr, framePackr.pack(out));
  const head = Buffer.allocUnsafe(4);
  head.writeUInt32LE(encoded.byteLength, 0);
  return parts ? [head, encoded, ...parts] : [head, encoded];
}

/**
 * The frames of one IPC message, or undefined when the message is not a batch of frames
 * (other messages share the channel). Throws on a malformed batch.
 */
export function decodeFrames<F>(message: Uint8Array): F[] | undefined {
  if (!(message instanceof Uint8Array)) return undefined;
  if (message.byteLength < 4) throw new TypeError('an IPC batch is shorter than its header');
  const view = new DataView(message.buffer, message.byteOffset, message.byteLength);
  const length = view.getUint32(0, true);
  if (length > message.byteLength - 4) throw new TypeError('an IPC batch is shorter than its frames');
  const frames = framePackr.unpack(message.subarray(4, 4 + length)) as unknown;
  if (!Array.isArray(frames)) throw new TypeError('an IPC batch is not an array of frames');
  // Bodies sent out of line follow the frames, in order.
  let at = 4 + length;
  for (const f of frames as Array<{ xb?: unknown; body?: Uint8Array }>) {
    if (typeof f !== 'object' || f === null || f.xb === undefined) continue;
    const n = f.xb;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > message.byteLength - at) throw new TypeError('an IPC batch is shorter than its bodies');
    f.body = message.subarray(at, at + n);
    delete f.xb;
    at += n;
  }
  if (at !== message.byteLength) throw new TypeError('an IPC batch has bytes after its bodies');
  return frames as F[];
}
