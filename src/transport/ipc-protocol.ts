/**
 * Frames between a worker process and its node. Frames are batched per event-loop turn: each
 * message on the link (ipc-link.ts) holds the turn's frames, one after the other.
 */
import { privateMsgpackr } from '../serialization/msgpackr-instance';
import { GATHER_BYTES, GatheredBytes, type Hole } from '../serialization/gathered-bytes';
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
  | { op: 'retiring' }
  | { op: 'envfail'; message: string };

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

// raybus's own msgpackr (a worker loads one copy, not two), for the frames that are neither
// hot nor carry a body, and for message headers. They hold plain objects only: the
// serializer's extensions never apply to them.
const framePackr = new (privateMsgpackr().Packr)({ useRecords: false, moreTypes: false, mapsAsObjects: true });

/**
 * A frame body from this size travels as it is, after the bytes before it: never copied into
 * them. The size from which a message written gathered leaves an array beside it, so that a
 * gathered body goes out as its parts.
 */
const OUT_OF_LINE_BYTES = GATHER_BYTES;

// Frame kinds: the first byte of a frame. The frames of every message (a publish, an ack, a
// delivery, a broadcast) have a fixed binary layout, so that a call costs no msgpack pass over
// its frame on either side; the rest (queue declarations, consumer set-up, nacks, answers) are
// msgpack.
const GENERIC = 0;
const PUB = 1;
const ACK = 2;
const DELIVER = 3;
const BCAST = 4;
const TOPIC = 5;

// Flags of a publish or a delivery.
const F_HEADERS = 1;
const F_BATCH = 2;
const F_TRANSIENT = 4;
const F_REDELIVERED = 8;

type AnyFrame = ChildFrame | ParentFrame;

/** The msgpack part of a frame that has one (headers or a generic frame), encoded up front. */
function metaOf(f: AnyFrame): Uint8Array | undefined {
  switch (f.op) {
    case 'pub':
    case 'deliver':
      return f.headers ? framePackr.pack(f.headers) : undefined;
    case 'ack':
    case 'bcast':
    case 'topic':
      return undefined;
    default:
      return framePackr.pack(f);
  }
}

/**
 * One IPC message: the frames of a batch, each a kind byte and its fields (numbers
 * little-endian; tags as float64; names, bodies and msgpack parts as a uint32 length and their
 * bytes), returned as byte arrays to write one after the other:
 * a body of OUT_OF_LINE_BYTES or more is one of them, the very array given, never copied.
 */
export function encodeFrames<F>(frames: readonly F[]): Uint8Array[] {
  try {
    return writer.encode(frames as unknown as readonly AnyFrame[]);
  } finally {
    writer.release();
  }
}

/**
 * Writes one batch. One writer serves every batch (a batch is written whole before the next):
 * a worker writes a batch for each result, and closures and a DataView per batch were made
 * for every call.
 */
class FrameWriter {
  /** The msgpack part of each frame (headers or a generic frame), encoded up front. */
  private readonly metas: Array<Uint8Array | undefined> = [];
  private buf: Buffer = EMPTY_BATCH;
  /** The byte arrays so far, once a large body is written as itself. */
  private parts: Uint8Array[] | undefined;
  private start = 0;
  private at = 0;

  release(): void {
    this.buf = EMPTY_BATCH;
    this.parts = undefined;
    this.metas.length = 0;
  }

  encode(list: readonly AnyFrame[]): Uint8Array[] {
    const metas = this.metas;
    let bound = 0;
    for (let i = 0; i < list.length; i++) {
      const f = list[i]!;
      const meta = metaOf(f);
      metas.push(meta);
      // kind, flags, two tags, three lengths; a name; the meta; a small body.
      bound += 32 + (meta ? meta.byteLength : 0);
      if (f.op === 'pub') bound += 3 * f.queue.length;
      else if (f.op === 'bcast') bound += 3 * f.topic.length;
      const body = bodyOf(f);
      if (body && body.byteLength < OUT_OF_LINE_BYTES) bound += body.byteLength;
    }
    const buf = (this.buf = Buffer.allocUnsafe(bound));
    this.start = 0;
    this.at = 0;
    for (let i = 0; i < list.length; i++) {
      const f = list[i]!;
      const meta = metas[i];
      switch (f.op) {
        case 'pub':
          buf[this.at++] = PUB;
          this.name(f.queue);
          buf[this.at++] = (meta ? F_HEADERS : 0) | (f.batch ? F_BATCH : 0) | (f.transient ? F_TRANSIENT : 0);
          this.bytes(f.body);
          if (meta) this.bytes(meta);
          break;
        case 'deliver':
          buf[this.at++] = DELIVER;
          this.tag(f.ctag);
          this.tag(f.dtag);
          buf[this.at++] = (meta ? F_HEADERS : 0) | (f.redelivered ? F_REDELIVERED : 0);
          this.bytes(f.body);
          if (meta) this.bytes(meta);
          break;
        case 'ack':
          buf[this.at++] = ACK;
          this.tag(f.ctag);
          this.tag(f.dtag);
          break;
        case 'bcast':
          buf[this.at++] = BCAST;
          this.name(f.topic);
          this.bytes(f.body);
          break;
        case 'topic':
          buf[this.at++] = TOPIC;
          this.tag(f.stag);
          this.bytes(f.body);
          break;
        default:
          buf[this.at++] = GENERIC;
          this.bytes(meta!);
      }
    }
    const parts = this.parts;
    if (!parts) return [buf.subarray(0, this.at)];
    if (this.at > this.start) parts.push(buf.subarray(this.start, this.at));
    return parts;
  }

  private name(s: string): void {
    // The bound leaves room for 3 bytes a UTF-16 unit, UTF-8's most.
    const n = this.buf.write(s, this.at + 4, 'utf8');
    this.buf.writeUInt32LE(n, this.at);
    this.at += 4 + n;
  }

  private bytes(b: Uint8Array): void {
    this.buf.writeUInt32LE(b.byteLength, this.at);
    this.at += 4;
    if (b.byteLength < OUT_OF_LINE_BYTES && !(b instanceof GatheredBytes)) {
      this.buf.set(b, this.at);
      this.at += b.byteLength;
      return;
    }
    // The bytes so far, then the body itself (a gathered one as its parts, its large arrays
    // among them); what follows goes into the rest of the buffer.
    const parts = (this.parts ??= []);
    parts.push(this.buf.subarray(this.start, this.at));
    if (b instanceof GatheredBytes) b.partsInto(parts);
    else parts.push(b);
    this.start = this.at;
  }

  private tag(t: number): void {
    this.buf.writeDoubleLE(t, this.at);
    this.at += 8;
  }
}

const EMPTY_BATCH = Buffer.alloc(0);
const writer = new FrameWriter();

function bodyOf(f: AnyFrame): Uint8Array | undefined {
  return f.op === 'pub' || f.op === 'deliver' || f.op === 'bcast' || f.op === 'topic' ? f.body : undefined;
}

/**
 * Names decoded lately, with their bytes: a worker publishes to the same few queues (its
 * owners' reply queues) again and again, and the same string each time spares its receiver
 * hashing a new one for every queue lookup.
 */
const NAMES = 8;
const namesSeen: Array<{ readonly bytes: Buffer; readonly name: string } | undefined> = new Array(NAMES).fill(undefined);
let nextName = 0;

function knownName(buf: Buffer, at: number, n: number): string {
  search: for (let k = 0; k < NAMES; k++) {
    const e = namesSeen[k];
    if (e === undefined || e.bytes.length !== n) continue;
    for (let i = 0; i < n; i++) if (e.bytes[i] !== buf[at + i]) continue search;
    return e.name;
  }
  const name = buf.toString('utf8', at, at + n);
  if (n <= 256) {
    namesSeen[nextName] = { bytes: Buffer.from(buf.subarray(at, at + n)), name };
    nextName = (nextName + 1) % NAMES;
  }
  return name;
}

/**
 * The frames of one IPC message, or undefined when the message is not a batch of frames
 * (other messages share the channel). Throws on a malformed batch: nothing of it is used.
 *
 * A gathered message (a node's pipe received it in reads it did not join: ipc-link.ts) is
 * the reader's: what is read as fields is copied in from its reads, and a body that spans
 * whole reads comes out gathered over them (a `GatheredBytes`), copied only by whoever needs
 * it whole; an AuthTransport seals it from its parts.
 */
export function decodeFrames<F>(message: Uint8Array): F[] | undefined {
  if (!(message instanceof Uint8Array)) return undefined;
  const holes = message instanceof GatheredBytes ? message.takeHoles() : undefined;
  const buf = Buffer.isBuffer(message) ? message : Buffer.from(message.buffer, message.byteOffset, message.byteLength);
  try {
    return reader.frames(buf, holes) as unknown as F[];
  } finally {
    // Hold no batch past its decoding.
    reader.release();
  }
}

/**
 * Reads one batch's frames. One reader serves every batch (a batch is read to its end or
 * throws before the next starts): a worker writes a batch per result, so closures and a
 * DataView per batch were made for every call.
 */
class FrameReader {
  private buf: Buffer = EMPTY_BATCH;
  private at = 0;
  private end = 0;
  /** A gathered batch's reads not copied in yet, in order (`fill`, `bytes`); undefined for a whole one. */
  private holes: readonly Hole[] | undefined;
  private nextHole = 0;

  release(): void {
    this.buf = EMPTY_BATCH;
    this.holes = undefined;
  }

  frames(buf: Buffer, holes?: readonly Hole[]): AnyFrame[] {
    this.buf = buf;
    this.at = 0;
    this.end = buf.byteLength;
    this.holes = holes;
    this.nextHole = 0;
    const frames: AnyFrame[] = [];
    while (this.at < this.end) {
      if (this.holes !== undefined) this.fill(this.at + 1);
      const kind = buf[this.at++];
      switch (kind) {
        case PUB: {
          const queue = this.name();
          this.need(1, 'flags');
          const flags = buf[this.at++]!;
          const f: Extract<ChildFrame, { op: 'pub' }> = { op: 'pub', queue, body: this.bytes(true) };
          if (flags & F_BATCH) f.batch = true;
          if (flags & F_TRANSIENT) f.transient = true;
          if (flags & F_HEADERS) f.headers = this.headers();
          frames.push(f);
          break;
        }
        case DELIVER: {
          const ctag = this.tag();
          const dtag = this.tag();
          this.need(1, 'flags');
          const flags = buf[this.at++]!;
          const f: Extract<ParentFrame, { op: 'deliver' }> = { op: 'deliver', ctag, dtag, body: this.bytes() };
          if (flags & F_REDELIVERED) f.redelivered = true;
          if (flags & F_HEADERS) f.headers = this.headers();
          frames.push(f);
          break;
        }
        case ACK: {
          const ctag = this.tag();
          frames.push({ op: 'ack', ctag, dtag: this.tag() });
          break;
        }
        case BCAST: {
          const topic = this.name();
          frames.push({ op: 'bcast', topic, body: this.bytes() });
          break;
        }
        case TOPIC: {
          const stag = this.tag();
          frames.push({ op: 'topic', stag, body: this.bytes() });
          break;
        }
        case GENERIC: {
          const f = framePackr.unpack(this.bytes()) as unknown;
          if (typeof f !== 'object' || f === null || typeof (f as { op?: unknown }).op !== 'string') throw new TypeError('an IPC frame is not a frame');
          frames.push(f as AnyFrame);
          break;
        }
        default:
          throw new TypeError(`an IPC batch has a frame of unknown kind ${kind}`);
      }
    }
    return frames;
  }

  private need(n: number, what: string): void {
    if (this.end - this.at < n) throw new TypeError(`an IPC batch is shorter than its ${what}`);
    if (this.holes !== undefined) this.fill(this.at + n);
  }

  /** A gathered batch: copy in the reads that begin before `to` (bytes about to be read as fields). */
  private fill(to: number): void {
    const holes = this.holes!;
    while (this.nextHole < holes.length && holes[this.nextHole]!.at < to) {
      const h = holes[this.nextHole++]!;
      this.buf.set(h.bytes, h.at);
    }
  }

  private tag(): number {
    this.need(8, 'tags');
    const t = this.buf.readDoubleLE(this.at);
    this.at += 8;
    if (!Number.isSafeInteger(t) || t < 0) throw new TypeError('an IPC frame has a tag that is not a count');
    return t;
  }

  private name(): string {
    this.need(4, 'names');
    const n = this.buf.readUInt32LE(this.at);
    this.at += 4;
    this.need(n, 'names');
    const s = knownName(this.buf, this.at, n);
    this.at += n;
    return s;
  }

  /**
   * A length-prefixed body. In a gathered batch, with `gather` (a publish's body), the reads
   * that lie wholly inside it stay beside it (a `GatheredBytes`); the rest are copied in.
   */
  private bytes(gather = false): Uint8Array {
    this.need(4, 'bodies');
    const n = this.buf.readUInt32LE(this.at);
    this.at += 4;
    if (this.end - this.at < n) throw new TypeError('an IPC batch is shorter than its bodies');
    const start = this.at;
    const end = start + n;
    let b: Uint8Array = this.buf.subarray(start, end);
    const holes = this.holes;
    if (holes !== undefined) {
      // Reads that begin before the body were copied in with its length (`need`).
      let inside: Hole[] | undefined;
      while (this.nextHole < holes.length && holes[this.nextHole]!.at < end) {
        const h = holes[this.nextHole++]!;
        if (gather && h.at + h.bytes.byteLength <= end) (inside ??= []).push({ at: h.at - start, bytes: h.bytes });
        else this.buf.set(h.bytes, h.at);
      }
      if (inside) b = GatheredBytes.over(b, inside);
    }
    this.at = end;
    return b;
  }

  private headers(): MessageHeaders {
    const h = framePackr.unpack(this.bytes()) as unknown;
    if (typeof h !== 'object' || h === null || Array.isArray(h)) throw new TypeError('an IPC frame has headers that are not a map');
    return h as MessageHeaders;
  }
}

const reader = new FrameReader();
