/**
 * The holder side of blobs (values larger than a message of the bus): the bytes this process
 * offered stay here, referenced (never copied) — an object store entry, a pending task's
 * arguments, a result — and are served in chunks to whoever asks (`blob-get`). One chunk is
 * served per event-loop turn, so a receiver pulling hundreds of megabytes never holds this
 * process's loop; the sha256 of the whole is computed chunk by chunk as they are served and
 * sent with the last one, unless every message of this process's bus is sealed with the
 * cluster key (then each chunk's MAC already binds its bytes, offset and blob to this sender,
 * and the puller, on the same sealed bus, checks that instead). A blob is forgotten when its
 * receiver says it is done (`blob-done`), or after `idleMs` without a request (a receiver that
 * died, a duplicate nobody pulls); pinned ones (actor constructor arguments, which a restart
 * needs again) stay while this process lives.
 */
import type { Hash } from 'node:crypto';
import { nodeCrypto, randomHex } from '../util/node-crypto';
import type { ReplyQueue } from '../protocol/ids';
import type { BlobRef } from '../protocol/wire';
import type { BlobChunkMsg, BlobGetMsg } from '../protocol/messages/reply';
import type { Clock, Timer } from '../util/clock';

/** A blob nobody asked for in this long is forgotten (ms). */
export const BLOB_IDLE_MS = 10 * 60 * 1000;
/** How often forgotten blobs are looked for (ms). */
const SWEEP_MS = 60 * 1000;

interface Held {
  readonly bytes: Uint8Array;
  readonly pinned: boolean;
  lastUsed: number;
  hash?: Hash;
  hashedTo: number;
  digest?: string;
}

/** What the table needs of its process. */
export interface BlobTablePort {
  readonly address: ReplyQueue;
  readonly clock: Clock;
  /** This process's bus seals every message (no sha256 of the whole is sent). */
  readonly sealed?: boolean;
  /** Send a chunk to a receiver's reply queue. */
  send(queue: ReplyQueue, msg: BlobChunkMsg): void;
}

/** The blobs this process holds (see the file comment). */
export class BlobTable {
  private readonly held = new Map<string, Held>();
  private readonly requests: BlobGetMsg[] = [];
  private serving = false;
  private sweeper?: Timer;

  constructor(
    private readonly port: BlobTablePort,
    private readonly idleMs = BLOB_IDLE_MS,
  ) {}

  /** Blobs held now (tests, status). */
  get size(): number {
    return this.held.size;
  }

  /** Hold `bytes` (a reference, not a copy) and return the ref a message carries instead. */
  offer(bytes: Uint8Array, pinned = false): BlobRef {
    const id = randomHex(8);
    this.held.set(id, { bytes, pinned, lastUsed: this.port.clock.now(), hashedTo: 0 });
    this.sweeper ??= this.port.clock.setInterval(() => this.sweep(), Math.min(SWEEP_MS, this.idleMs));
    return { id, size: bytes.byteLength, from: this.port.address };
  }

  /** A receiver asks for a chunk: answered in a later turn, one chunk per turn. */
  onGet(msg: BlobGetMsg): void {
    this.requests.push(msg);
    if (!this.serving) {
      this.serving = true;
      setImmediate(this.serveOne);
    }
  }

  /** A receiver has the whole blob (or gave up). */
  onDone(id: string): void {
    const h = this.held.get(id);
    if (h && !h.pinned) this.forget(id);
  }

  /** Forget everything (the process stops). */
  clear(): void {
    this.held.clear();
    this.requests.length = 0;
    this.port.clock.clear(this.sweeper);
    this.sweeper = undefined;
  }

  private readonly serveOne = (): void => {
    const msg = this.requests.shift();
    if (msg) this.serve(msg);
    if (this.requests.length > 0) setImmediate(this.serveOne);
    else this.serving = false;
  };

  private serve(msg: BlobGetMsg): void {
    const h = this.held.get(msg.id);
    if (!h) {
      this.port.send(msg.reply, { t: 'blob-chunk', id: msg.id, off: msg.off, data: new Uint8Array(0), err: 'this process no longer holds the value' });
      return;
    }
    h.lastUsed = this.port.clock.now();
    const end = Math.min(h.bytes.byteLength, msg.off + msg.len);
    const data = h.bytes.subarray(Math.min(msg.off, end), end);
    const digest = this.port.sealed ? undefined : this.hashTo(h, end);
    this.port.send(msg.reply, { t: 'blob-chunk', id: msg.id, off: msg.off, data, ...(end === h.bytes.byteLength && digest ? { h: digest } : {}) });
  }

  /** Hash the bytes up to `end` (in order, once); the digest once the whole is hashed. */
  private hashTo(h: Held, end: number): string | undefined {
    if (h.digest) return h.digest;
    if (end > h.hashedTo) {
      h.hash ??= nodeCrypto().createHash('sha256');
      h.hash.update(h.bytes.subarray(h.hashedTo, end));
      h.hashedTo = end;
    }
    if (h.hashedTo === h.bytes.byteLength) {
      h.hash ??= nodeCrypto().createHash('sha256');
      h.digest = h.hash.digest('hex');
      h.hash = undefined;
    }
    return h.digest;
  }

  private sweep(): void {
    const cutoff = this.port.clock.now() - this.idleMs;
    for (const [id, h] of this.held) if (!h.pinned && h.lastUsed <= cutoff) this.forget(id);
  }

  private forget(id: string): void {
    this.held.delete(id);
    if (this.held.size === 0) {
      this.port.clock.clear(this.sweeper);
      this.sweeper = undefined;
    }
  }
}
