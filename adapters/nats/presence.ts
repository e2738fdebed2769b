/**
 * Auto-delete queues (raybus's presence queues) on core NATS, without JetStream: such a queue
 * is a subscription of the connection that declared it, so it exists exactly while that
 * connection lives, and no server-side object outlives a process that died.
 *
 * A publish to it is a request (see publisher.ts): the holder answers once the message is in
 * its local queue; with no holder the server answers `503 no responders`, which the publisher
 * turns into `NO_SUCH_QUEUE`. Messages wait in the holder's memory until consumed; the queue
 * is deleted (unsubscribed, its messages dropped) when its last consumer is cancelled, as an
 * AMQP auto-delete queue is. Holders of one queue on several connections share a queue group.
 */
import { headers as natsHeaders, type Msg, type Subscription as NatsSubscription } from '@nats-io/transport-node';
import type { Delivery, MessageHeaders, Subscription } from '../../src/transport/transport';
import type { ConnectionManager, Link } from './connection';
import { decodeHeaders } from './headers';
import { BATCH_HEADER } from './publisher';
import { decodeBatch } from '../batch-body';
import { describeCause } from './errors';
import type { Naming } from './naming';

/** Header of a request that only asks whether the queue exists (answered, not queued). */
const PROBE_HEADER = 'Raybus-Probe';
const QUEUE_GROUP = 'raybus-presence';
const EMPTY = new Uint8Array(0);

interface Item {
  readonly body: Uint8Array;
  readonly headers: MessageHeaders;
  redelivered: boolean;
}

interface Holder {
  readonly handler: (delivery: Delivery) => void;
  readonly prefetch: number;
  readonly unacked: Set<Item>;
  cancelled: boolean;
}

export class PresenceQueues {
  private readonly queues = new Map<string, PresenceQueue>();

  constructor(
    private readonly manager: ConnectionManager,
    private readonly naming: Naming,
  ) {}

  has(queue: string): boolean {
    return this.queues.has(queue);
  }

  declare(link: Link, queue: string): void {
    if (this.queues.has(queue)) return;
    const names = this.naming.queue(queue);
    this.queues.set(queue, new PresenceQueue(queue, names.subject, names.memory, link, this.manager, () => this.queues.delete(queue)));
  }

  consume(queue: string, handler: (delivery: Delivery) => void, prefetch: number): Subscription | undefined {
    return this.queues.get(queue)?.addConsumer(handler, prefetch);
  }

  /** Does a presence queue named `queue` exist on any connection? */
  async exists(link: Link, queue: string): Promise<boolean> {
    if (this.queues.has(queue)) return true;
    const h = natsHeaders();
    h.set(PROBE_HEADER, '1');
    try {
      await link.nc.request(this.naming.queue(queue).subject, EMPTY, { headers: h, timeout: this.manager.options.apiTimeoutMs });
      return true;
    } catch (err) {
      if ((err as { isNoResponders?: () => boolean }).isNoResponders?.() || (err as Error).name === 'NoRespondersError') return false;
      // Someone holds the subject but did not answer in time: it exists.
      return (err as Error).name === 'TimeoutError';
    }
  }

  /** What a presence queue held by this connection holds (undefined when it is not held here). */
  inspect(queue: string): { messages: number; consumers: number; unacked: number } | undefined {
    return this.queues.get(queue)?.inspect();
  }

  async delete(queue: string): Promise<void> {
    await this.queues.get(queue)?.destroy();
  }

  stopAll(): void {
    // The connection closes next, which removes the subscriptions on the server anyway.
    for (const q of [...this.queues.values()]) void q.destroy();
  }
}

class PresenceQueue {
  private readonly items: Item[] = [];
  private readonly holders: Holder[] = [];
  private readonly sub: NatsSubscription;
  /** Transient messages (memory-inbox.ts) go to the holders as the others do. */
  private readonly memorySub: NatsSubscription;
  private readonly link: Link;
  private cursor = 0;
  private scheduled = false;
  private destroyed = false;

  constructor(
    private readonly queue: string,
    subject: string,
    memorySubject: string,
    link: Link,
    private readonly manager: ConnectionManager,
    private readonly onDestroyed: () => void,
  ) {
    this.link = link;
    this.sub = link.nc.subscribe(subject, { queue: QUEUE_GROUP, callback: (err, msg) => (err ? undefined : this.onMessage(msg)) });
    this.memorySub = link.nc.subscribe(memorySubject, { queue: QUEUE_GROUP, callback: (err, msg) => (err ? undefined : this.onMessage(msg)) });
  }

  addConsumer(handler: (delivery: Delivery) => void, prefetch: number): Subscription {
    const holder: Holder = { handler, prefetch, unacked: new Set(), cancelled: false };
    this.holders.push(holder);
    this.schedule();
    return { cancel: () => this.removeConsumer(holder) };
  }

  inspect(): { messages: number; consumers: number; unacked: number } {
    let unacked = 0;
    for (const h of this.holders) unacked += h.unacked.size;
    return { messages: this.items.length, consumers: this.holders.length, unacked };
  }

  /** Delete the queue; resolves once the server knows (a publish from anywhere then gets no responders). */
  async destroy(): Promise<void> {
    if (this.destroyed) return;
    this.destroyed = true;
    for (const h of this.holders) h.cancelled = true;
    this.holders.length = 0;
    this.items.length = 0;
    this.onDestroyed();
    const nc = this.link.nc;
    if (this.sub.isClosed() || nc.isClosed()) return;
    this.sub.unsubscribe();
    if (!this.memorySub.isClosed()) this.memorySub.unsubscribe();
    await nc.flush().catch(() => undefined);
  }

  private onMessage(msg: Msg): void {
    if (this.destroyed) return;
    if (msg.headers?.get(PROBE_HEADER)) {
      if (msg.reply) msg.respond(EMPTY);
      return;
    }
    const batched = msg.headers?.get(BATCH_HEADER);
    if (batched) {
      // A batch (publisher.ts): its messages, one item each.
      let parts: Uint8Array[] = [];
      try {
        parts = decodeBatch(msg.data, Number(batched));
      } catch (err) {
        this.manager.options.onWarning(`raybus nats: dropped a malformed batch sent to '${this.queue}': ${describeCause(err)}`);
      }
      const headers = decodeHeaders(msg.headers);
      delete headers[BATCH_HEADER];
      for (const body of parts) this.items.push({ body, headers, redelivered: false });
    } else this.items.push({ body: msg.data, headers: decodeHeaders(msg.headers), redelivered: false });
    // Acknowledge to the publisher: the message is in this process's queue now.
    if (msg.reply) msg.respond(EMPTY);
    this.schedule();
  }

  /** Its unacknowledged messages go back to the head; the last consumer gone deletes the queue. */
  private async removeConsumer(holder: Holder): Promise<void> {
    if (holder.cancelled) return;
    holder.cancelled = true;
    const i = this.holders.indexOf(holder);
    if (i >= 0) this.holders.splice(i, 1);
    const pending = [...holder.unacked].reverse();
    holder.unacked.clear();
    for (const item of pending) {
      item.redelivered = true;
      this.items.unshift(item);
    }
    if (this.holders.length === 0) await this.destroy();
    else this.schedule();
  }

  private schedule(): void {
    if (this.scheduled || this.destroyed) return;
    this.scheduled = true;
    queueMicrotask(() => {
      this.scheduled = false;
      this.dispatch();
    });
  }

  private dispatch(): void {
    while (this.items.length > 0 && !this.destroyed) {
      const holder = this.pick();
      if (!holder) return;
      const item = this.items.shift()!;
      holder.unacked.add(item);
      const settle = (): boolean => holder.unacked.delete(item);
      const delivery: Delivery = {
        queue: this.queue,
        body: item.body,
        headers: item.headers,
        redelivered: item.redelivered,
        ack: () => {
          if (settle()) this.schedule();
        },
        nack: (requeue: boolean) => {
          if (!settle()) return;
          if (requeue) {
            item.redelivered = true;
            this.items.unshift(item);
          }
          this.schedule();
        },
      };
      try {
        holder.handler(delivery);
      } catch (err) {
        this.manager.options.onWarning(`raybus nats: consumer of '${this.queue}' threw: ${describeCause(err)}`);
        delivery.nack(true);
        return;
      }
    }
  }

  private pick(): Holder | undefined {
    const n = this.holders.length;
    for (let i = 0; i < n; i++) {
      const h = this.holders[(this.cursor + i) % n]!;
      if (h.prefetch === 0 || h.unacked.size < h.prefetch) {
        this.cursor = (this.cursor + i + 1) % n;
        return h;
      }
    }
    return undefined;
  }
}
