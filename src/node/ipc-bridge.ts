/**
 * The node side of the node ↔ worker link: performs a worker's transport operations on a
 * transport connection of its own, so that when the worker dies, closing that connection
 * requeues exactly the worker's unacknowledged deliveries (marked redelivered).
 */
import { isNoSuchQueue, TRANSIENT_PUBLISH, type Delivery, type PublishOptions, type Subscription, type MaybeSyncTransport, type Transport } from '../transport/transport';
import { queueKind } from '../protocol/queues';
import { systemClock, type Clock } from '../util/clock';
import { FrameBatcher, decodeFrames, encodeFrames, type ChildFrame, type ParentFrame } from '../transport/ipc-protocol';
import { joined } from '../serialization/gathered-bytes';
import type { FrameLink } from '../transport/ipc-link';
import { logger } from '../util/logger';

const BATCH = { batch: true } as const;

/**
 * How long a worker's publish to a reply queue is tried again while that queue is missing or
 * the bus cannot take it: after a bus restart, a driver's reply queue on a bus where it lives
 * with the driver's connection (NATS) exists again only once that driver reconnected, and a
 * node (or a worker started since) may be back first. A result is never dropped for that.
 */
export const REPLY_RETRY_MS = 30_000;
const REPLY_RETRY_EVERY_MS = 250;

/** What the bridge tells its node about the worker. */
export interface IpcBridgeEvents {
  /** The worker set up its runtime env and consumes its queue. */
  readonly onReady: () => void;
  /** The worker reached a task's maxCalls and will exit: hand it no more work. */
  readonly onRetiring?: () => void;
  /** Every delivery handed to the worker is acknowledged (it is between tasks). */
  readonly onIdle?: () => void;
  /** The worker could not set up its runtime env, for this reason: it takes no work. */
  readonly onEnvSetupFailed?: (message: string) => void;
}

/** One worker's side of the link, on the node. */
export class IpcBridge {
  private readonly out: FrameBatcher<ParentFrame>;
  private readonly deliveries = new Map<number, Map<number, Delivery>>();
  private readonly subs = new Map<number, Subscription>();
  /** The queue each consumer (by tag) reads. */
  private readonly consumed = new Map<number, string>();
  private nextTag = 1;
  private closed = false;

  /**
   * @param worker names the worker in warnings (e.g. `worker pid 123`).
   * @param transport a connection of the worker's own: closing it requeues exactly its deliveries.
   */
  constructor(
    private readonly worker: string,
    private readonly link: FrameLink,
    private readonly transport: Transport,
    private readonly events: IpcBridgeEvents,
    private readonly clock: Clock = systemClock,
  ) {
    this.out = new FrameBatcher((frames) => {
      if (!this.closed && this.link.open) this.link.send(encodeFrames(frames));
    });
    // A large publish comes gathered over the pipe's reads where this connection seals it from
    // them (an AuthTransport); anything else gets it joined (`pub` below).
    link.gatherWhen?.(() => this.transport.takesGathered === true);
    link.onMessage((m) => {
      let frames: ChildFrame[] | undefined;
      try {
        frames = decodeFrames<ChildFrame>(m);
      } catch (err) {
        logger.warn(`raybus: dropped a malformed batch from ${worker}: ${(err as Error).message}`);
        return;
      }
      if (!frames) return;
      for (const f of frames) {
        try {
          this.onFrame(f);
        } catch (err) {
          logger.warn(`raybus: bad frame from ${worker}: ${(err as Error).message}`);
        }
      }
    });
  }

  /** Deliveries handed to the worker and not yet acknowledged (work in progress). */
  unacked(): number {
    let n = 0;
    for (const m of this.deliveries.values()) n += m.size;
    return n;
  }

  /**
   * Stop handing the worker messages (its node drains). Call it when `unacked()` is 0: the
   * consumers are cancelled, which would requeue anything unacknowledged.
   */
  async pause(): Promise<void> {
    this.paused = true;
    const cancels: Array<Promise<void>> = [];
    for (const ctag of [...this.deliveries.keys()]) {
      const sub = this.subs.get(ctag);
      this.subs.delete(ctag);
      if (sub) cancels.push(sub.cancel().catch(() => undefined));
    }
    await Promise.all(cancels);
  }

  private paused = false;

  /**
   * Stop the worker's consumers of `queue` (a shared actor stopped while its process lives
   * on): what they hold unacknowledged goes back to the queue, marked redelivered, as it would
   * if the worker died; the worker's later acks of it are ignored.
   */
  async dropConsumers(queue: string): Promise<void> {
    const drops: Array<Promise<void>> = [];
    for (const [ctag, q] of [...this.consumed]) if (q === queue) drops.push(this.endConsumer(ctag));
    await Promise.all(drops);
  }

  /** Cancel consumer `ctag`, then give back what it holds (after: it must not come back to it). */
  private async endConsumer(ctag: number): Promise<void> {
    const sub = this.subs.get(ctag);
    const held = this.deliveries.get(ctag);
    this.subs.delete(ctag);
    this.deliveries.delete(ctag);
    this.consumed.delete(ctag);
    if (sub) await sub.cancel().catch(() => undefined);
    for (const d of held?.values() ?? []) d.nack(true);
  }

  /** The worker is gone: drop its consumers (their unacked deliveries are requeued). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.deliveries.clear();
    this.subs.clear();
    this.consumed.clear();
    await this.transport.close();
  }

  /** Publish for the worker; a reply queue's missing or unreachable moments are waited out (REPLY_RETRY_MS). */
  private publish(queue: string, body: Uint8Array, options: PublishOptions | undefined, since: number): void {
    // Read per message: a connection still opening gets it once it is open (process-spawner.ts).
    const t = this.transport as MaybeSyncTransport;
    if (t.publishSync) {
      // The in-memory bus takes the message at once: no promise per message (the embedded
      // default publishes every result here). A failure is still handled asynchronously.
      try {
        t.publishSync(queue, body, options);
      } catch (err) {
        queueMicrotask(() => this.publishFailed(err, queue, body, options, since));
      }
      return;
    }
    this.transport.publish(queue, body, options).catch((err: unknown) => this.publishFailed(err, queue, body, options, since));
  }

  private publishFailed(err: unknown, queue: string, body: Uint8Array, options: PublishOptions | undefined, since: number): void {
    const passing = isNoSuchQueue(err) || (err as { retryable?: unknown }).retryable === true;
    if (!this.closed && passing && queueKind(queue) === 'reply' && this.clock.now() - since < REPLY_RETRY_MS) {
      this.clock.setTimeout(() => {
        if (!this.closed) this.publish(queue, body, options, since);
      }, REPLY_RETRY_EVERY_MS);
      return;
    }
    this.out.push({ op: 'puberr', queue, message: (err as Error).message });
  }

  private reply(id: number, p: Promise<number | undefined | void>): void {
    p.then(
      (tag) => this.out.push(typeof tag === 'number' ? { op: 'ok', id, tag } : { op: 'ok', id }),
      (err: unknown) => this.out.push({ op: 'err', id, message: (err as Error).message }),
    );
  }

  private onFrame(f: ChildFrame): void {
    if (this.closed) return;
    switch (f.op) {
      case 'ready':
        return this.events.onReady();
      case 'retiring':
        return this.events.onRetiring?.();
      case 'envfail':
        return this.events.onEnvSetupFailed?.(String(f.message));
      case 'assert':
        return this.reply(f.id, this.transport.assertQueue(f.queue, f.opts));
      case 'delete':
        return this.reply(f.id, this.transport.deleteQueue(f.queue));
      case 'pub':
        return this.publish(f.queue, this.transport.takesGathered === true ? toBytes(f.body) : joined(toBytes(f.body)), f.headers ? { headers: f.headers } : f.transient === true ? TRANSIENT_PUBLISH : f.batch ? BATCH : undefined, this.clock.now());
      case 'consume': {
        const ctag = this.nextTag++;
        const pending = new Map<number, Delivery>();
        this.deliveries.set(ctag, pending);
        this.consumed.set(ctag, f.queue);
        let dtag = 1;
        return this.reply(
          f.id,
          this.transport
            .consume(
              f.queue,
              (d) => {
                if (this.paused) return;
                // Arrived after the consumer was ended: back to the queue.
                if (this.deliveries.get(ctag) !== pending) return d.nack(true);
                // The worker checks what it decodes (worker/delivery-check.ts) and dead-letters
                // anything malformed; the node does not decode messages on its behalf.
                const tag = dtag++;
                pending.set(tag, d);
                const frame: Extract<ParentFrame, { op: 'deliver' }> = { op: 'deliver', ctag, dtag: tag, body: d.body };
                if (hasKeys(d.headers)) frame.headers = d.headers;
                if (d.redelivered) frame.redelivered = true;
                this.out.push(frame);
              },
              // The handler above only records the delivery and queues a frame.
              { prefetch: f.prefetch, recordsOnly: true },
            )
            .then((sub) => {
              this.subs.set(ctag, sub);
              return ctag;
            }),
        );
      }
      case 'cancel':
        // What the consumer held unacknowledged goes back to its queue.
        return this.reply(f.id, this.endConsumer(f.ctag));
      case 'ack':
      case 'nack': {
        const m = this.deliveries.get(f.ctag);
        const d = m?.get(f.dtag);
        if (!d) return;
        m!.delete(f.dtag);
        if (f.op === 'ack') d.ack();
        else d.nack(f.requeue === true, typeof f.reason === 'string' ? f.reason : undefined);
        if (m!.size === 0 && this.events.onIdle && this.unacked() === 0) this.events.onIdle();
        return;
      }
      case 'bcast':
        this.transport.broadcast(f.topic, toBytes(f.body)).catch(() => undefined);
        return;
      case 'sub': {
        const stag = this.nextTag++;
        return this.reply(
          f.id,
          this.transport
            .subscribe(f.topic, (body) => this.out.push({ op: 'topic', stag, body }))
            .then((sub) => {
              this.subs.set(stag, sub);
              return stag;
            }),
        );
      }
      case 'unsub': {
        const sub = this.subs.get(f.stag);
        this.subs.delete(f.stag);
        return this.reply(f.id, sub ? sub.cancel() : Promise.resolve());
      }
    }
  }
}

/** IPC's advanced serialization hands back Uint8Array/Buffer; normalise. */
function toBytes(b: Uint8Array): Uint8Array {
  return b instanceof Uint8Array ? b : new Uint8Array(b as ArrayBufferLike);
}

function hasKeys(o: object): boolean {
  for (const _ in o) return true;
  return false;
}
