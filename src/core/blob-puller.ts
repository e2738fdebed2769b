/**
 * The receiver side of blobs: the bytes of a value held by another process are pulled in
 * chunks of about one message of the bus (`blob-get` → `blob-chunk`), at most `window` chunks
 * outstanding (flow control: the holder's memory and the bus see a few chunks at a time),
 * each copied into one buffer of the value's final size (no second full copy), and the
 * sha256 of the whole is checked against the holder's — unless this process's bus seals
 * every message with the cluster key, where each chunk arrived with its MAC checked, bytes,
 * offset and blob id included, and the holder sends no digest. Then the holder is told it
 * may forget the blob (`blob-done`).
 *
 * A pull fails (ObjectLostError; OwnerDiedError when the holder is gone) when the holder
 * says it no longer has the value, the sha256 does not match, the holder's queue is gone
 * (its process died; requests are sent again while nothing arrives, every `stallMs`), the
 * holder is announced dead, or nothing arrived for `giveUpMs`.
 */
import type { Hash } from 'node:crypto';
import { nodeCrypto } from '../util/node-crypto';
import type { ReplyQueue } from '../protocol/ids';
import type { BlobRef } from '../protocol/wire';
import type { BlobChunkMsg, BlobDoneMsg, BlobGetMsg } from '../protocol/messages/reply';
import { ObjectLostError, OwnerDiedError } from '../errors/ray-errors';
import { isNoSuchQueue } from '../transport/transport';
import type { Clock, Timer } from '../util/clock';

/** Chunks requested ahead of the one awaited. */
const BLOB_WINDOW = 4;
/** With nothing arriving for this long, outstanding requests are sent again (ms). */
export const BLOB_STALL_MS = 5_000;
/** With nothing arriving for this long, the pull fails (ms): a holder busy this long is taken for lost. */
const BLOB_GIVE_UP_MS = 10 * 60 * 1000;

/** What the puller needs of its process. */
export interface BlobPullerPort {
  readonly address: ReplyQueue;
  readonly clock: Clock;
  /** This process's bus opens only messages sealed with the cluster key (no sha256 of the whole). */
  readonly sealed?: boolean;
  /** Bytes per chunk asked for (about one message of the bus). */
  chunkBytes(): number;
  /** Send to the holder's reply queue; `onError` when it cannot be delivered. */
  send(queue: ReplyQueue, msg: BlobGetMsg | BlobDoneMsg, onError?: (err: Error) => void): void;
}

interface Pull {
  readonly ref: BlobRef;
  readonly buffer: Buffer;
  /** Absent on a sealed bus. */
  readonly hash?: Hash;
  /** Offsets asked for and not received. */
  readonly outstanding: Map<number, number>;
  /** Chunks received beyond `hashedTo`, waiting to be hashed in order: offset → length. */
  readonly early: Map<number, number>;
  next: number;
  hashedTo: number;
  received: number;
  digest?: string;
  lastProgress: number;
  timer?: Timer;
  resolve(bytes: Uint8Array): void;
  reject(err: Error): void;
}

/** The blobs this process is pulling (see the file comment). */
export class BlobPuller {
  private readonly pulls = new Map<string, { pull: Pull; done: Promise<Uint8Array> }>();

  constructor(
    private readonly port: BlobPullerPort,
    private readonly window = BLOB_WINDOW,
    private readonly stallMs = BLOB_STALL_MS,
    private readonly giveUpMs = BLOB_GIVE_UP_MS,
  ) {}

  /** Pulls in progress (tests). */
  get active(): number {
    return this.pulls.size;
  }

  /** The bytes of `ref` (one pull per blob, however many ask). */
  fetch(ref: BlobRef): Promise<Uint8Array> {
    const known = this.pulls.get(ref.id);
    if (known) return known.done;
    let resolve!: (b: Uint8Array) => void;
    let reject!: (e: Error) => void;
    const done = new Promise<Uint8Array>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    const pull: Pull = {
      ref,
      buffer: Buffer.allocUnsafe(ref.size),
      ...(this.port.sealed ? {} : { hash: nodeCrypto().createHash('sha256') }),
      outstanding: new Map(),
      early: new Map(),
      next: 0,
      hashedTo: 0,
      received: 0,
      lastProgress: this.port.clock.now(),
      resolve,
      reject,
    };
    this.pulls.set(ref.id, { pull, done });
    pull.timer = this.port.clock.setInterval(() => this.checkStall(pull), this.stallMs);
    this.askMore(pull);
    return done;
  }

  /** A chunk arrived. */
  onChunk(msg: BlobChunkMsg): void {
    const pull = this.pulls.get(msg.id)?.pull;
    if (!pull) return; // late, or a duplicate of a chunk re-asked for
    if (msg.err !== undefined) return this.fail(pull, new ObjectLostError(this.describe(pull, msg.err)));
    const len = pull.outstanding.get(msg.off);
    if (len === undefined || msg.data.byteLength !== len) return; // a duplicate, or not what was asked
    pull.outstanding.delete(msg.off);
    pull.buffer.set(msg.data, msg.off);
    pull.received += len;
    pull.lastProgress = this.port.clock.now();
    if (msg.h) pull.digest = msg.h;
    if (pull.hash) {
      pull.early.set(msg.off, len);
      this.hashInOrder(pull, pull.hash);
    }
    if (pull.received === pull.ref.size) return this.finish(pull);
    this.askMore(pull);
  }

  /** The process at `holder` is gone: its blobs cannot be pulled. */
  onHolderDied(holder: string): void {
    for (const { pull } of [...this.pulls.values()]) {
      if (pull.ref.from === holder) this.fail(pull, new OwnerDiedError(this.describe(pull, 'its holder died')), false);
    }
  }

  /** Fail every pull (the process stops). */
  stop(reason: string): void {
    for (const { pull } of [...this.pulls.values()]) this.fail(pull, new ObjectLostError(this.describe(pull, reason)), false);
  }

  private askMore(pull: Pull): void {
    const chunk = Math.max(1024, Math.floor(this.port.chunkBytes()));
    while (pull.outstanding.size < this.window && pull.next < pull.ref.size) {
      const off = pull.next;
      const len = Math.min(chunk, pull.ref.size - off);
      pull.next += len;
      pull.outstanding.set(off, len);
      this.request(pull, off, len);
    }
  }

  private request(pull: Pull, off: number, len: number): void {
    this.port.send(pull.ref.from, { t: 'blob-get', id: pull.ref.id, off, len, reply: this.port.address }, (err) => {
      if (!this.pulls.has(pull.ref.id)) return;
      const gone = isNoSuchQueue(err);
      const why = gone ? 'its holder is gone' : `the request could not be sent: ${err.message}`;
      this.fail(pull, gone ? new OwnerDiedError(this.describe(pull, why)) : new ObjectLostError(this.describe(pull, why)), false);
    });
  }

  private hashInOrder(pull: Pull, hash: Hash): void {
    for (let len = pull.early.get(pull.hashedTo); len !== undefined; len = pull.early.get(pull.hashedTo)) {
      pull.early.delete(pull.hashedTo);
      hash.update(pull.buffer.subarray(pull.hashedTo, pull.hashedTo + len));
      pull.hashedTo += len;
    }
  }

  private finish(pull: Pull): void {
    const digest = pull.hash?.digest('hex');
    if (pull.hash && pull.digest !== digest) {
      return this.fail(pull, new ObjectLostError(this.describe(pull, `its bytes arrived corrupted (sha256 ${digest}, expected ${pull.digest ?? 'none'})`)));
    }
    this.end(pull);
    pull.resolve(pull.buffer);
  }

  private checkStall(pull: Pull): void {
    const idle = this.port.clock.now() - pull.lastProgress;
    if (idle >= this.giveUpMs) return this.fail(pull, new ObjectLostError(this.describe(pull, `nothing arrived for ${idle} ms`)));
    // Ask again for what did not come: a holder that is gone is found out by the bus.
    if (idle >= this.stallMs) for (const [off, len] of pull.outstanding) this.request(pull, off, len);
  }

  private fail(pull: Pull, err: Error, tellHolder = true): void {
    this.end(pull, tellHolder);
    pull.reject(err);
  }

  /** Stop pulling; the holder may forget the blob. */
  private end(pull: Pull, tellHolder = true): void {
    this.port.clock.clear(pull.timer);
    this.pulls.delete(pull.ref.id);
    if (tellHolder) this.port.send(pull.ref.from, { t: 'blob-done', id: pull.ref.id });
  }

  private describe(pull: Pull, why: string): string {
    return `raybus: a value of ${pull.ref.size} bytes held by ${pull.ref.from} could not be fetched: ${why}`;
  }
}
