/**
 * Values of any size on a bus whose messages are limited (docs/ARCHITECTURE.md, "Values
 * larger than a message"). A message about to leave this process whose values would make it
 * larger than half a message of the bus carries blob refs instead of its largest values
 * (`externalize`); their bytes stay here (blob-table.ts). The final consumer of such a
 * value — the worker decoding arguments, the owner storing a result or stream item, a
 * borrower receiving an object — pulls them (blob-puller.ts) and then proceeds as if the
 * bytes had come inline (`localizeArgs`, `inOrder`). Envelopes stay small and routable: the
 * broker and nodes never need the value bytes.
 */
import { logger } from '../util/logger';
import type { ReplyQueue } from '../protocol/ids';
import type { WireArg, WireOutcome } from '../protocol/wire';
import type { BlobChunkMsg, BlobDoneMsg, BlobGetMsg } from '../protocol/messages/reply';
import { encodeError } from '../serialization/error-codec';
import { ObjectLostError } from '../errors/ray-errors';
import type { Clock } from '../util/clock';
import type { BlobTable } from './blob-table';
import type { BlobPuller } from './blob-puller';

/** Values below this stay inline whatever the limit (a blob costs round trips). */
const MIN_BLOB_BYTES = 1024;
/** What a chunk message carries besides its bytes (tag, id, offset, digest), rounded up. */
const CHUNK_HEADROOM = 1024;
const EMPTY = new Uint8Array(0);

/** What the exchange needs of its process. */
export interface BlobExchangePort {
  readonly address: ReplyQueue;
  readonly clock: Clock;
  /** The largest message this process sends on its bus (message-limit.ts). */
  messageLimit(): number;
  /**
   * Every message of this process's bus is sealed and opened with the cluster key
   * (`Transport.authenticated`): each chunk's bytes are checked on arrival, and a sha256 of
   * the whole would check them a second time.
   */
  sealed(): boolean;
  /**
   * Send to a reply queue; `onError` when it cannot be delivered. `transient`: the bus may
   * keep it in memory only (a chunk: its puller asks again when it does not arrive).
   */
  send(queue: ReplyQueue, msg: BlobGetMsg | BlobChunkMsg | BlobDoneMsg, onError?: (err: Error) => void, transient?: boolean): void;
}

type Slot = WireArg | Extract<WireOutcome, { d: Uint8Array }>;

/** Blobs of one process: those it holds and those it pulls. */
export class BlobExchange {
  /** Per key (a task, an object), the handling of messages waiting for their blobs, in order. */
  private readonly chains = new Map<string, Promise<void>>();
  private held?: BlobTable;
  private pulling?: BlobPuller;
  /** Why the exchange stopped (a puller made after it is stopped at once). */
  private stopped?: string;

  constructor(private readonly port: BlobExchangePort) {}

  /**
   * The blobs this process holds. It and the puller are made (and their modules loaded) at
   * first use: most processes, an actor's worker among them, never see a value too large
   * for a message.
   */
  get table(): BlobTable {
    if (!this.held) {
      const { BlobTable: Table } = require('./blob-table') as typeof import('./blob-table');
      const port = this.port;
      // Chunks are transient: a broker restart may lose one, and the puller asks again for
      // what does not arrive (blob-puller.ts), so they never cost the broker a disk write.
      this.held = new Table({ address: port.address, clock: port.clock, sealed: port.sealed(), send: (q, m) => port.send(q, m, undefined, true) });
    }
    return this.held;
  }

  /** The blobs this process pulls (see `table`). */
  get puller(): BlobPuller {
    if (!this.pulling) {
      const { BlobPuller: Puller } = require('./blob-puller') as typeof import('./blob-puller');
      const port = this.port;
      this.pulling = new Puller({
        address: port.address,
        clock: port.clock,
        sealed: port.sealed(),
        chunkBytes: () => Math.max(MIN_BLOB_BYTES, port.messageLimit() - CHUNK_HEADROOM),
        send: (q, m, onError) => port.send(q, m, onError),
      });
      if (this.stopped !== undefined) this.pulling.stop(this.stopped);
    }
    return this.pulling;
  }

  /** A process holding blobs died: what is being pulled from it fails. */
  onHolderDied(holder: string): void {
    this.pulling?.onHolderDied(holder);
  }

  /**
   * The message as it may leave: unchanged when its values fit, else a copy whose largest
   * values are blob refs (the caller's own arguments and outcomes are never changed).
   */
  externalize(msg: unknown): unknown {
    const m = msg as { t?: unknown };
    switch (m.t) {
      case 'task':
      case 'call': {
        const task = msg as { args: WireArg[] };
        const args = this.offload(task.args, false);
        return args === task.args ? msg : { ...task, args };
      }
      case 'create-actor': {
        // A restarted actor needs its arguments again: they stay while this process lives.
        const c = msg as { spec: { args: WireArg[] } };
        if (!c.spec) return msg;
        const args = this.offload(c.spec.args, true);
        return args === c.spec.args ? msg : { ...c, spec: { ...c.spec, args } };
      }
      case 'result': {
        const r = msg as { rets: WireOutcome[] };
        const rets = this.offload(r.rets, false);
        return rets === r.rets ? msg : { ...r, rets };
      }
      case 'stream-item':
      case 'object': {
        const o = msg as { out: WireOutcome };
        const [out] = this.offload([o.out], false);
        return out === o.out ? msg : { ...o, out };
      }
      default:
        return msg;
    }
  }

  /**
   * Pull the bytes of the arguments that travelled as blobs (in place); rejects when one is
   * lost. Undefined when none did (the common case: no promise on the hot path).
   */
  localizeArgs(args: WireArg[]): Promise<void> | undefined {
    if (!args.some((a) => a.b)) return undefined;
    return (async () => {
      for (const a of args) {
        if (!a.b) continue;
        a.d = await this.puller.fetch(a.b);
        delete a.b;
      }
    })();
  }

  /** True when an outcome's bytes travelled as a blob. */
  needsPull(outs: readonly WireOutcome[]): boolean {
    return outs.some((o) => 'd' in o && o.b !== undefined);
  }

  /** The outcome with its bytes here; a lost blob becomes the error it is. */
  async localizeOutcome(out: WireOutcome): Promise<WireOutcome> {
    if (!('d' in out) || !out.b) return out;
    try {
      const d = await this.puller.fetch(out.b);
      return out.r ? { d, r: out.r } : { d };
    } catch (err) {
      return { e: encodeError(err instanceof Error ? err : new ObjectLostError(String(err))) };
    }
  }

  /**
   * Handle the messages of `key` in arrival order: at once when nothing of that key waits and
   * `pull` is undefined, else after the blobs of the earlier ones and `pull` (which puts the
   * pulled bytes into the message).
   */
  inOrder(key: string, pull: (() => Promise<void>) | undefined, handle: () => void): void {
    const before = this.chains.get(key);
    if (!before && !pull) return handle();
    const next = (before ?? Promise.resolve())
      .then(pull)
      .then(handle)
      .catch((err: unknown) => logger.warn(`raybus: failed to handle a message after fetching its values: ${(err as Error).stack ?? String(err)}`))
      .finally(() => {
        if (this.chains.get(key) === next) this.chains.delete(key);
      });
    this.chains.set(key, next);
  }

  /** Tell the holders of these outcomes' blobs that they will not be pulled. */
  release(outs: readonly WireOutcome[]): void {
    for (const o of outs) if ('d' in o && o.b) this.port.send(o.b.from, { t: 'blob-done', id: o.b.id });
  }

  /** Forget what is held and fail what is being pulled (the process stops). */
  stop(reason: string): void {
    this.stopped = reason;
    this.held?.clear();
    this.pulling?.stop(reason);
  }

  /** `slots` with their largest values offered as blobs until the rest fits in half a message. */
  private offload<S extends WireArg | WireOutcome>(slots: S[], pinned: boolean): S[] {
    if (!Array.isArray(slots)) return slots;
    let total = 0;
    // Indexed, as every message leaving the process comes here (see argBytes in submit-policy.ts).
    for (let i = 0; i < slots.length; i++) {
      const s = slots[i];
      if (s && 'd' in s && s.d instanceof Uint8Array) total += s.d.byteLength;
    }
    // Values below MIN_BLOB_BYTES never become blobs: most messages stop here.
    if (total < MIN_BLOB_BYTES) return slots;
    const budget = this.port.messageLimit() / 2;
    if (total <= budget) return slots;
    const order = slots
      .map((s, i) => ({ i, n: 'd' in s && !s.b ? s.d.byteLength : 0 }))
      .filter((x) => x.n >= MIN_BLOB_BYTES)
      .sort((a, b) => b.n - a.n);
    const out = [...slots];
    for (const { i, n } of order) {
      if (total <= budget) break;
      const s = out[i] as Slot;
      out[i] = { ...s, d: EMPTY, b: this.table.offer(s.d, pinned) } as S;
      total -= n;
    }
    return out;
  }
}
