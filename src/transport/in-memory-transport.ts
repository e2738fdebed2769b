/**
 * The in-memory bus: the embedded default's transport, and the reference implementation
 * of the Transport port's semantics (work queues with prefetch, ack/nack, redelivery of
 * unacknowledged messages when a consumer goes away, single-active consumers, topics).
 *
 * One `InMemoryBus` is the broker; each participant holds an `InMemoryTransport`
 * connection to it. Closing a connection requeues its unacknowledged deliveries, as
 * closing an AMQP channel does.
 */
import { BehaviorSubject } from 'rxjs';
import type {
  ConsumeOptions,
  Delivery,
  MessageHeaders,
  PublishOptions,
  QueueInspection,
  QueueOptions,
  Subscription,
  Transport,
  TransportStatus,
} from './transport';
import { logger } from '../util/logger';
import { transportCounters } from './transport-counters';

const counters = transportCounters;

interface QueuedMessage {
  readonly body: Uint8Array;
  readonly headers: MessageHeaders;
  redelivered: boolean;
}

interface Consumer {
  readonly tag: number;
  readonly queue: MemoryQueue;
  readonly handler: (delivery: Delivery) => void;
  readonly prefetch: number;
  readonly owner: InMemoryTransport;
  readonly unacked: Set<QueuedMessage>;
  cancelled: boolean;
}

class MemoryQueue {
  readonly messages: QueuedMessage[] = [];
  /** Index into `messages` where unread messages start (amortised O(1) shift). */
  head = 0;
  readonly consumers: Consumer[] = [];
  cursor = 0;
  scheduled = false;
  /** Messages put back after a consumer left them unacknowledged (or nacked them with requeue). */
  redelivered = 0;
  constructor(
    readonly name: string,
    readonly options: QueueOptions,
  ) {}

  get size(): number {
    return this.messages.length - this.head;
  }

  shift(): QueuedMessage | undefined {
    if (this.head >= this.messages.length) return undefined;
    const msg = this.messages[this.head];
    this.messages[this.head] = undefined as unknown as QueuedMessage;
    this.head += 1;
    if (this.head > 1024 && this.head * 2 > this.messages.length) {
      this.messages.splice(0, this.head);
      this.head = 0;
    }
    return msg;
  }

  unshift(msg: QueuedMessage): void {
    if (this.head > 0) {
      this.head -= 1;
      this.messages[this.head] = msg;
    } else {
      this.messages.unshift(msg);
    }
  }
}

/** The broker side of the in-memory transport: queues, topics and dispatch. */
export class InMemoryBus {
  private readonly queues = new Map<string, MemoryQueue>();
  private readonly topics = new Map<string, Set<(body: Uint8Array) => void>>();
  private nextTag = 1;

  /** Open a new connection to this bus. */
  connect(): InMemoryTransport {
    return new InMemoryTransport(this);
  }

  /** Number of ready (undelivered) messages in a queue; -1 if it does not exist. */
  queueDepth(queue: string): number {
    return this.queues.get(queue)?.size ?? -1;
  }

  hasQueue(queue: string): boolean {
    return this.queues.has(queue);
  }

  /** What `queue` holds now (undefined when it does not exist). */
  inspectQueue(queue: string): QueueInspection | undefined {
    const q = this.queues.get(queue);
    if (!q) return undefined;
    let unacked = 0;
    for (const c of q.consumers) unacked += c.unacked.size;
    return { messages: q.size, consumers: q.consumers.length, unacked, redelivered: q.redelivered };
  }

  /** @internal */
  assertQueue(name: string, options: QueueOptions): void {
    if (!this.queues.has(name)) this.queues.set(name, new MemoryQueue(name, options));
  }

  /** @internal */
  deleteQueue(name: string): void {
    const q = this.queues.get(name);
    if (!q) return;
    this.queues.delete(name);
    for (const c of q.consumers) c.cancelled = true;
  }

  /** @internal */
  publish(queue: string, body: Uint8Array, headers: MessageHeaders): void {
    const q = this.queues.get(queue);
    if (!q) throw new Error(`raybus in-memory bus: no queue named '${queue}'`);
    q.messages.push({ body, headers, redelivered: false });
    counters.sent += 1;
    counters.sentBytes += body.byteLength;
    this.schedule(q);
  }

  /** @internal */
  addConsumer(owner: InMemoryTransport, queue: string, handler: (d: Delivery) => void, prefetch: number): Consumer {
    const q = this.queues.get(queue);
    if (!q) throw new Error(`raybus in-memory bus: cannot consume from missing queue '${queue}'`);
    const consumer: Consumer = {
      tag: this.nextTag++,
      queue: q,
      handler,
      prefetch,
      owner,
      unacked: new Set(),
      cancelled: false,
    };
    q.consumers.push(consumer);
    this.schedule(q);
    return consumer;
  }

  /** @internal Cancel a consumer: its unacknowledged messages go back to the head of the queue. */
  removeConsumer(consumer: Consumer): void {
    if (consumer.cancelled && !consumer.queue.consumers.includes(consumer)) return;
    consumer.cancelled = true;
    const q = consumer.queue;
    const i = q.consumers.indexOf(consumer);
    if (i >= 0) q.consumers.splice(i, 1);
    // Requeue in original order at the head, marked redelivered (AMQP basic.recover semantics).
    const pending = [...consumer.unacked];
    consumer.unacked.clear();
    for (let k = pending.length - 1; k >= 0; k--) {
      const msg = pending[k]!;
      msg.redelivered = true;
      q.unshift(msg);
    }
    q.redelivered += pending.length;
    if (q.options.autoDelete && q.consumers.length === 0 && this.queues.get(q.name) === q) {
      this.queues.delete(q.name);
      return;
    }
    this.schedule(q);
  }

  /** @internal */
  subscribe(topic: string, handler: (body: Uint8Array) => void): () => void {
    let set = this.topics.get(topic);
    if (!set) this.topics.set(topic, (set = new Set()));
    set.add(handler);
    return () => {
      set.delete(handler);
      if (set.size === 0) this.topics.delete(topic);
    };
  }

  /** @internal */
  broadcast(topic: string, body: Uint8Array): void {
    counters.sent += 1;
    counters.sentBytes += body.byteLength;
    const set = this.topics.get(topic);
    if (!set) return;
    for (const h of [...set]) {
      counters.received += 1;
      counters.receivedBytes += body.byteLength;
      queueMicrotask(() => h(body));
    }
  }

  /** Dispatch asynchronously (never re-entrantly inside publish/ack), batched per queue. */
  private schedule(q: MemoryQueue): void {
    if (q.scheduled) return;
    q.scheduled = true;
    queueMicrotask(() => {
      q.scheduled = false;
      this.dispatch(q);
    });
  }

  private dispatch(q: MemoryQueue): void {
    while (q.size > 0 && q.consumers.length > 0) {
      const consumer = this.pickConsumer(q);
      if (!consumer) return;
      const msg = q.shift()!;
      consumer.unacked.add(msg);
      counters.received += 1;
      counters.receivedBytes += msg.body.byteLength;
      let settled = false;
      const settle = (): boolean => {
        if (settled || !consumer.unacked.has(msg)) return false;
        settled = true;
        consumer.unacked.delete(msg);
        return true;
      };
      const delivery: Delivery = {
        queue: q.name,
        body: msg.body,
        headers: msg.headers,
        redelivered: msg.redelivered,
        ack: () => {
          if (settle()) this.schedule(q);
        },
        nack: (requeue: boolean) => {
          if (!settle()) return;
          if (requeue) {
            msg.redelivered = true;
            q.redelivered += 1;
            q.unshift(msg);
          }
          this.schedule(q);
        },
      };
      try {
        consumer.handler(delivery);
      } catch (err) {
        // A consumer that throws must not take the bus down; the message goes back.
        logger.error(`raybus: consumer of '${q.name}' threw: ${String(err)}`);
        delivery.nack(true);
        return;
      }
    }
  }

  private pickConsumer(q: MemoryQueue): Consumer | undefined {
    const consumers = q.options.singleActiveConsumer ? q.consumers.slice(0, 1) : q.consumers;
    const n = consumers.length;
    for (let i = 0; i < n; i++) {
      const c = consumers[(q.cursor + i) % n]!;
      if (c.prefetch === 0 || c.unacked.size < c.prefetch) {
        q.cursor = (q.cursor + i + 1) % Math.max(1, n);
        return c;
      }
    }
    return undefined;
  }
}

/** One connection to an `InMemoryBus`. */
export class InMemoryTransport implements Transport {
  readonly kind = 'memory';
  readonly status$ = new BehaviorSubject<TransportStatus>('connecting');
  private readonly consumers = new Set<Consumer>();
  private readonly topicUnsubs = new Set<() => void>();

  constructor(private readonly bus: InMemoryBus) {}

  async connect(): Promise<void> {
    if (this.status$.value === 'closed') throw new Error('raybus transport: connection is closed');
    if (this.status$.value !== 'connected') this.status$.next('connected');
  }

  async close(): Promise<void> {
    if (this.status$.value === 'closed') return;
    for (const c of this.consumers) this.bus.removeConsumer(c);
    this.consumers.clear();
    for (const u of this.topicUnsubs) u();
    this.topicUnsubs.clear();
    this.status$.next('closed');
    this.status$.complete();
  }

  async assertQueue(queue: string, options: QueueOptions = {}): Promise<void> {
    this.ensureOpen();
    this.bus.assertQueue(queue, options);
  }

  async deleteQueue(queue: string): Promise<void> {
    this.ensureOpen();
    this.bus.deleteQueue(queue);
  }

  async publish(queue: string, body: Uint8Array, options?: PublishOptions): Promise<void> {
    this.publishSync(queue, body, options);
  }

  /** Synchronous publish for in-process hot paths (throws instead of rejecting). */
  publishSync(queue: string, body: Uint8Array, options?: PublishOptions): void {
    this.ensureOpen();
    this.bus.publish(queue, body, options?.headers ?? {});
  }

  async inspectQueue(queue: string): Promise<QueueInspection | undefined> {
    this.ensureOpen();
    return this.bus.inspectQueue(queue);
  }

  async consume(queue: string, handler: (delivery: Delivery) => void, options: ConsumeOptions): Promise<Subscription> {
    this.ensureOpen();
    const consumer = this.bus.addConsumer(this, queue, handler, options.prefetch);
    this.consumers.add(consumer);
    return {
      cancel: async () => {
        this.consumers.delete(consumer);
        this.bus.removeConsumer(consumer);
      },
    };
  }

  async broadcast(topic: string, body: Uint8Array): Promise<void> {
    this.ensureOpen();
    this.bus.broadcast(topic, body);
  }

  async subscribe(topic: string, handler: (body: Uint8Array) => void): Promise<Subscription> {
    this.ensureOpen();
    const unsub = this.bus.subscribe(topic, handler);
    this.topicUnsubs.add(unsub);
    return {
      cancel: async () => {
        this.topicUnsubs.delete(unsub);
        unsub();
      },
    };
  }

  private ensureOpen(): void {
    if (this.status$.value === 'closed') throw new Error('raybus transport: connection is closed');
  }
}
