/**
 * Frames between a worker process and its node. Frames are batched per event-loop turn: each
 * message on the link (ipc-link.ts) is one msgpack buffer holding the turn's frames.
 */
import { privateMsgpackr } from '../serialization/msgpackr-instance';
import type { MessageHeaders, QueueOptions } from './transport';

export type ChildFrame =
  | { op: 'assert'; id: number; queue: string; opts?: QueueOptions }
  | { op: 'delete'; id: number; queue: string }
  | { op: 'pub'; queue: string; body: Uint8Array; headers?: MessageHeaders; batch?: true }
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
  | { op: 'deliver'; ctag: number; dtag: number; queue: string; body: Uint8Array; headers: MessageHeaders; redelivered: boolean }
  | { op: 'topic'; stag: number; body: Uint8Array }
  | { op: 'puberr'; queue: string; message: string };

/** Collects frames and sends them in one IPC message at the end of the current tick. */
export class FrameBatcher<F> {
  private batch: F[] = [];
  private scheduled = false;
  constructor(private readonly sink: (frames: F[]) => void) {}

  push(frame: F): void {
    this.batch.push(frame);
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

/** One IPC message: the frames of a batch, as one byte array. */
export function encodeFrames<F>(frames: F[]): Uint8Array {
  return framePackr.pack(frames);
}

/**
 * The frames of one IPC message, or undefined when the message is not a batch of frames
 * (other messages share the channel). Throws on a malformed batch.
 */
export function decodeFrames<F>(message: Uint8Array): F[] | undefined {
  if (!(message instanceof Uint8Array)) return undefined;
  const frames = framePackr.unpack(message) as unknown;
  if (!Array.isArray(frames)) throw new TypeError('an IPC batch is not an array of frames');
  return frames as F[];
}
