/**
 * Publishes to queues as requests, so one code path serves both kinds of queue: a work queue's
 * stream answers with a JetStream PubAck once it has stored the message, a presence queue's
 * holder answers with an empty reply once it has the message, and when nobody listens on the
 * subject the server answers `503 no responders`, which is `NO_SUCH_QUEUE`.
 *
 * Replies come back on one wildcard subscription (`<inbox>.<id>`), matched to their publish by
 * id, with one timer for all deadlines. Publishes that were not acknowledged when the
 * connection dropped, and those made while it is down, are sent again in their original order
 * once it is back (so a message may arrive twice; it is not lost). A server that has just
 * restarted answers `503` for streams it has not restored yet: for `RESTORE_GRACE_MS` after a
 * reconnect, a `503` is tried again every `RETRY_MS` (until the grace ends, even past the publish
 * timeout) instead of meaning `NO_SUCH_QUEUE` — such a retried message may then arrive after
 * ones published later.
 */
import { createInbox, headers as natsHeaders, type Msg, type MsgHdrs, type Subscription as NatsSubscription } from '@nats-io/transport-node';
import { TurnBatches } from '../batch-body';
import type { MessageHeaders } from '../../src/transport/transport';
import type { ConnectionManager, Link, LinkParticipant } from './connection';
import { encodeHeaders } from './headers';
import { NatsTransportError } from './errors';
import { DEFAULT_MAX_PAYLOAD, HEADER_HEADROOM_BYTES } from './options';

interface Pending {
  readonly queue: string;
  readonly subject: string;
  readonly body: Uint8Array;
  readonly headers: MsgHdrs | undefined;
  /** When it times out: publish time + `publishTimeoutMs`, later while the restore grace lasts. */
  deadline: number;
  /** Written on a live connection (false: waiting for the reconnect). */
  sent: boolean;
  resolve(): void;
  reject(err: Error): void;
}

const SWEEP_MS = 100;
/**
 * After a reconnect, how long a `503` may mean "not declared again yet" rather than "no such
 * queue": a restarted server lost the queues kept in memory, and each owner declares its own
 * again when its connection is back, which on a loaded machine can be many seconds after ours.
 */
const RESTORE_GRACE_MS = 30_000;
/** How soon a publish answered `503` during that grace is sent again. */
const RETRY_MS = 250;

/** Header of a message that carries a batch of messages (its value: how many). */
export const BATCH_HEADER = 'Raybus-Batch';
/** What that header takes on the wire, at most (name, a count, separators). */
const BATCH_HEADER_BYTES = 64;
/** Largest batch body, in bytes (a batch never exceeds maxMessageBytes either). */
const MAX_BATCH_BYTES = 256 * 1024;

/** The headers of a batch of `count` messages. */
function batchHeaders(count: number): MsgHdrs {
  const h = natsHeaders();
  h.set(BATCH_HEADER, String(count));
  return h;
}

export class Publisher implements LinkParticipant {
  private readonly pending = new Map<number, Pending>();
  /** Batched publishes per subject, sent at the end of the event-loop turn. */
  private readonly batches = new TurnBatches<{ readonly queue: string; readonly subject: string }>((t, body, count) =>
    this.send(t.queue, t.subject, body, count > 1 ? batchHeaders(count) : undefined),
  );
  private batchFlushScheduled = false;
  /** Subjects that had a message sent at once in this turn (the rest of the turn's are batched). */
  private readonly sentThisTurn = new Set<string>();
  private nextId = 1;
  private inbox: string | undefined;
  private sub: NatsSubscription | undefined;
  private sweeper: NodeJS.Timeout | undefined;
  private down = false;
  /** When the connection last came back (0: never lost). */
  private resumedAt = 0;

  constructor(private readonly manager: ConnectionManager) {}

  /** Largest body accepted (what `capabilities.maxMessageBytes` reports). */
  get maxMessageBytes(): number {
    const server = (this.manager.maxPayload ?? DEFAULT_MAX_PAYLOAD) - HEADER_HEADROOM_BYTES;
    const own = this.manager.options.maxMessageBytes;
    return own === undefined ? server : Math.min(own, server);
  }

  suspend(): void {
    this.down = true;
  }

  async resume(link: Link): Promise<void> {
    this.down = false;
    this.resumedAt = Date.now();
    // In id order, which is publish order: unacknowledged ones first, then those held back.
    for (const [id, p] of this.pending) this.write(link, id, p);
  }

  /** Check a body (and its headers) against the limits; throws `MESSAGE_TOO_LARGE`. */
  checkSize(what: string, body: Uint8Array, headerBytes = 0): void {
    const max = this.maxMessageBytes;
    if (body.byteLength > max) {
      throw new NatsTransportError('MESSAGE_TOO_LARGE', `raybus nats: ${what} of ${body.byteLength} bytes is over the limit of ${max} bytes (maxMessageBytes)`);
    }
    const payload = this.manager.maxPayload ?? DEFAULT_MAX_PAYLOAD;
    if (body.byteLength + headerBytes > payload) {
      throw new NatsTransportError('MESSAGE_TOO_LARGE', `raybus nats: ${what} with its headers (${body.byteLength + headerBytes} bytes) is over the server's max_payload of ${payload} bytes`);
    }
  }

  /** Send `body` to `subject` and resolve on its acknowledgement. */
  publish(queue: string, subject: string, body: Uint8Array, headers: MessageHeaders | undefined): Promise<void> {
    const unusable = this.manager.unusableReason();
    if (unusable) return Promise.reject(unusable);
    let encoded: MsgHdrs | undefined;
    try {
      const h = headers ? encodeHeaders(headers) : undefined;
      encoded = h?.headers;
      this.checkSize(`a message to queue '${queue}'`, body, h?.size ?? 0);
    } catch (err) {
      return Promise.reject(err as Error);
    }
    // Per-queue order: a batch waiting for this subject goes first.
    this.batches.flush(subject);
    return this.send(queue, subject, body, encoded);
  }

  /**
   * Like `publish` (without headers), but messages for the same subject published in the same
   * event-loop turn after its first travel as one message (BATCH_HEADER: how many; the body:
   * batch-body.ts), stored and acknowledged once; each promise settles with that message.
   */
  publishBatched(queue: string, subject: string, body: Uint8Array): Promise<void> {
    const unusable = this.manager.unusableReason();
    if (unusable) return Promise.reject(unusable);
    try {
      this.checkSize(`a message to queue '${queue}'`, body, BATCH_HEADER_BYTES);
    } catch (err) {
      return Promise.reject(err as Error);
    }
    if (!this.batchFlushScheduled) {
      this.batchFlushScheduled = true;
      setImmediate(() => {
        this.batchFlushScheduled = false;
        this.flushBatches();
        this.sentThisTurn.clear();
      });
    }
    // The first message to a subject in a turn goes at once (one call at a time waits for no
    // turn's end); those after it in the same turn wait for the turn's end, together.
    if (!this.sentThisTurn.has(subject)) {
      this.sentThisTurn.add(subject);
      return this.send(queue, subject, body, undefined);
    }
    return this.batches.add(subject, { queue, subject }, body, Math.min(MAX_BATCH_BYTES, this.maxMessageBytes));
  }

  /** Send the batches waiting for the turn's end now (the transport closes). */
  flushBatches(): void {
    this.batches.flushAll();
  }

  /** Write one message (checked already) and resolve on its acknowledgement. */
  private send(queue: string, subject: string, body: Uint8Array, encoded: MsgHdrs | undefined): Promise<void> {
    const unusable = this.manager.unusableReason();
    if (unusable) return Promise.reject(unusable);
    return new Promise<void>((resolve, reject) => {
      const id = this.nextId++;
      const p: Pending = { queue, subject, body, headers: encoded, deadline: Date.now() + this.manager.options.publishTimeoutMs, sent: false, resolve, reject };
      this.pending.set(id, p);
      this.sweeper ??= setInterval(() => this.sweep(), SWEEP_MS);
      const link = this.manager.current;
      if (link && !this.down) this.write(link, id, p);
      else if (!link) {
        // connect() is still under way: write once it is done (waiters resolve in call order).
        this.manager.ready().then(
          (l) => {
            if (this.pending.get(id) === p && !p.sent && !this.down) this.write(l, id, p);
          },
          () => undefined,
        );
      }
    });
  }

  /** Reject every pending publish (the transport closed). */
  failAll(err: Error): void {
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
    this.stopSweeper();
    this.sub?.unsubscribe();
    this.sub = undefined;
  }

  private write(link: Link, id: number, p: Pending): void {
    if (!this.sub || this.sub.isClosed()) {
      this.inbox = createInbox();
      const prefix = this.inbox.length + 1;
      this.sub = link.nc.subscribe(`${this.inbox}.*`, { callback: (_err, msg) => this.onReply(msg, prefix) });
    }
    try {
      link.nc.publish(p.subject, p.body, { reply: `${this.inbox}.${id}`, headers: p.headers });
      p.sent = true;
    } catch (err) {
      // The client refuses writes only once closed; the sweep or failAll settles it.
      this.manager.options.onWarning('raybus nats: a publish could not be written', err);
    }
  }

  private onReply(msg: Msg, prefix: number): void {
    const id = Number(msg.subject.slice(prefix));
    const p = this.pending.get(id);
    if (!p) return;
    const status = msg.headers?.code ?? 0;
    if (status === 503 && this.down) {
      // Written into the client's buffer while it reconnected, and sent before the owner of
      // the queue is back: `resume` sends it again, and the grace starts then.
      p.sent = false;
      p.deadline = Math.max(p.deadline, Date.now() + RESTORE_GRACE_MS);
      return;
    }
    if (status === 503 && this.resumedAt > 0 && Date.now() - this.resumedAt < RESTORE_GRACE_MS) {
      // Maybe a stream the restarted server has not restored yet: ask again shortly, and give
      // up only once the grace is over.
      p.sent = false;
      p.deadline = Math.max(p.deadline, this.resumedAt + RESTORE_GRACE_MS);
      setTimeout(() => {
        const link = this.manager.current;
        if (this.pending.get(id) === p && !p.sent && link && !this.down) this.write(link, id, p);
      }, RETRY_MS).unref();
      return;
    }
    if (status === 503) {
      this.settle(id, p, new NatsTransportError('NO_SUCH_QUEUE', `raybus nats: no queue named '${p.queue}' (nothing stores or consumes subject '${p.subject}')`));
      return;
    }
    if (status >= 400) {
      this.settle(id, p, new NatsTransportError('BROKER_REFUSED', `raybus nats: the server refused a message to queue '${p.queue}': ${status} ${msg.headers?.description ?? ''}`));
      return;
    }
    const data = msg.data;
    // A PubAck is JSON; an error one holds `"error"`. A presence holder replies with nothing.
    if (data.byteLength > 0 && data.byteLength < 4096 && Buffer.from(data.buffer, data.byteOffset, data.byteLength).includes('"error"')) {
      let description = 'refused';
      try {
        description = (JSON.parse(new TextDecoder().decode(data)) as { error?: { description?: string } }).error?.description ?? description;
      } catch {
        // keep the generic description
      }
      this.settle(id, p, new NatsTransportError('BROKER_REFUSED', `raybus nats: the server refused a message to queue '${p.queue}': ${description}`));
      return;
    }
    this.settle(id, p);
  }

  private settle(id: number, p: Pending, err?: Error): void {
    this.pending.delete(id);
    if (this.pending.size === 0) this.stopSweeper();
    if (err) p.reject(err);
    else p.resolve();
  }

  private sweep(): void {
    const now = Date.now();
    // Deadlines grow with ids, except those a restore grace extended: look at every one.
    for (const [id, p] of this.pending) {
      if (p.deadline > now) continue;
      this.settle(
        id,
        p,
        new NatsTransportError('PUBLISH_TIMEOUT', `raybus nats: no acknowledgement for a message to queue '${p.queue}' within ${this.manager.options.publishTimeoutMs} ms${p.sent ? '' : ' (the connection was down)'}`, {
          retryable: true,
        }),
      );
    }
  }

  private stopSweeper(): void {
    if (this.sweeper) clearInterval(this.sweeper);
    this.sweeper = undefined;
  }
}
