/**
 * The in-memory bus: the embedded default's transport, and the reference implementation
 * of the Transport port's semantics (work queues with prefetch, ack/nack, redelivery of
 * unacknowledged messages when a consumer goes away, single-active consumers, topics).
 * Given fewer `capabilities`, it behaves like a bus that lacks them (no single active
 * consumers, requeue at the tail, a message limit, leases on a clock), so the core's
 * adaptations run in unit tests.
 *
 * One `InMemoryBus` is the broker; each participant holds an `InMemoryTransport`
 * connection to it. Closing a connection requeues its unacknowledged deliveries, as
 * closing an AMQP channel does.
 */
import type { BehaviorSubject as Status } from 'rxjs';
import { rx } from '../util/rx';
import type {
  ConsumeOptions,
  Delivery,
  MessageHeaders,
  PublishOptions,
  QueueInspection,
  QueueOptions,
  Subscription,
  Transport,
  TransportCapabilities,
  TransportLease,
  TransportStatus,
} from './transport';
import { logger } from '../util/logger';
import { joined } from '../serialization/gathered-bytes';
import { FULL_CAPABILITIES, NO_SUCH_QUEUE } from './transport';
import { systemClock, type Clock } from '../util/clock';
import { InMemoryLeases } from './in-memory-leases';
import { MemoryQueue, type Consumer } from './in-memory-queue';
import { transportCounters as counters } from './transport-counters';

/** Where dispatches are chained (see InMemoryBus.schedule). */
const RESOLVED = Promise.resolve();
/**
 * Deliveries the bus hands out in a row, on microtasks, before it lets the event loop run
 * (timers, I/O): a consumer that publishes as it handles each (a driver pushing the next task
 * for each result) would otherwise hold the loop for as long as its backlog lasts.
 */
const DISPATCH_BUDGET = 256;

/** Options of an {@link InMemoryBus}. */
export interface InMemoryBusOptions {
  /**
   * Behave like a bus without some capabilities (default: all of them): without
   * `singleActiveConsumer` such queues are refused; without `requeueAtHead` requeued messages
   * go to the tail; `maxMessageBytes` refuses larger messages; `leases` adds `acquireLease`.
   */
  readonly capabilities?: Partial<TransportCapabilities>;
  /** The clock leases expire on (default: real time). */
  readonly clock?: Clock;
}

/** An error with a `code`, as the broker adapters reject with. */
function busError(code: string, message: string): Error {
  return Object.assign(new Error(message), { code });
}

/** The broker side of the in-memory transport: queues, topics and dispatch. */
export class InMemoryBus {
  private readonly queues = new Map<string, MemoryQueue>();
  private readonly topics = new Map<string, Set<(body: Uint8Array) => void>>();
  private nextTag = 1;
  /** What this bus can do. */
  readonly capabilities: TransportCapabilities;
  /** @internal */
  readonly leases: InMemoryLeases | undefined;

  constructor(options: InMemoryBusOptions = {}) {
    this.capabilities = Object.freeze({ ...FULL_CAPABILITIES, ...options.capabilities });
    this.leases = this.capabilities.leases ? new InMemoryLeases(options.clock ?? systemClock) : undefined;
  }

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
    if (options.singleActiveConsumer && !this.capabilities.singleActiveConsumer) {
      throw busError('UNSUPPORTED', `raybus in-memory bus: queue '${name}' asks for a single active consumer, which this bus does not have`);
    }
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
    if (!q) throw busError(NO_SUCH_QUEUE, `raybus in-memory bus: no queue named '${queue}'`);
    this.checkSize(body);
    const wasEmpty = q.size === 0;
    q.messages.push({ body, headers, redelivered: false });
    counters.sent += 1;
    counters.sentBytes += body.byteLength;
    // Nothing waits before it and its consumer only records deliveries (a node's bridge to a
    // worker process): hand it over now, so that a worker starts on the first calls of a long
    // synchronous run of submissions while the caller still makes the rest.
    if (wasEmpty && !q.scheduled && !this.dispatching && q.consumers.length === 1 && q.consumers[0]!.recordsOnly) {
      this.dispatching = true;
      try {
        // Inside the publisher's own call, not a run of microtasks: outside the budget.
        this.dispatch(q, false);
      } finally {
        this.dispatching = false;
      }
      return;
    }
    this.schedule(q);
  }

  /** A synchronous hand-off is under way (none nests in another). */
  private dispatching = false;

  /** @internal */
  addConsumer(owner: InMemoryTransport, queue: string, handler: (d: Delivery) => void, prefetch: number, recordsOnly = false): Consumer {
    const q = this.queues.get(queue);
    if (!q) throw new Error(`raybus in-memory bus: cannot consume from missing queue '${queue}'`);
    const consumer: Consumer = {
      tag: this.nextTag++,
      queue: q,
      handler,
      prefetch,
      recordsOnly,
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
    for (const msg of pending) msg.redelivered = true;
    q.redelivered += pending.length;
    if (this.capabilities.requeueAtHead) for (let k = pending.length - 1; k >= 0; k--) q.unshift(pending[k]!);
    else q.messages.push(...pending);
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
    this.checkSize(body);
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

  private checkSize(body: Uint8Array): void {
    const max = this.capabilities.maxMessageBytes;
    if (body.byteLength > max) throw busError('MESSAGE_TOO_LARGE', `raybus in-memory bus: a message of ${body.byteLength} bytes is over maxMessageBytes (${max})`);
  }

  /**
   * Dispatch asynchronously (never re-entrantly inside publish/ack), batched per queue. A
   * microtask of a resolved promise: queueMicrotask wraps each callback in an AsyncResource,
   * which costs more than the dispatch itself on the embedded hot path (several per call).
   */
  private schedule(q: MemoryQueue): void {
    if (q.scheduled) return;
    q.scheduled = true;
    if (this.sinceYield >= DISPATCH_BUDGET) return this.resumeLater(q);
    // One callback per queue, made once: every ack schedules a dispatch.
    void RESOLVED.then(
      (q.dispatchLater ??= () => {
        q.scheduled = false;
        this.dispatch(q);
      }),
    );
  }

  /** Deliveries handed out since the event loop last ran a turn of the bus's own (DISPATCH_BUDGET). */
  private sinceYield = 0;
  /** Queues whose dispatch waits for the next turn. */
  private readonly resumed: MemoryQueue[] = [];

  /** Dispatch `q` (marked scheduled) in the event loop's next check phase, after timers and I/O had their turn. */
  private resumeLater(q: MemoryQueue): void {
    this.resumed.push(q);
    if (this.resumed.length > 1) return;
    setImmediate(() => {
      this.sinceYield = 0;
      const queues = this.resumed.splice(0);
      for (const r of queues) {
        r.scheduled = false;
        this.dispatch(r);
      }
    });
  }

  private dispatch(q: MemoryQueue, budgeted = true): void {
    while (q.size > 0 && q.consumers.length > 0) {
      if (budgeted && this.sinceYield >= DISPATCH_BUDGET) {
        // Over the budget, schedule() goes on in the next turn.
        this.schedule(q);
        return;
      }
      const consumer = this.pickConsumer(q);
      if (!consumer) return;
      if (budgeted) this.sinceYield += 1;
      const msg = q.shift()!;
      consumer.unacked.add(msg);
      counters.received += 1;
      counters.receivedBytes += msg.body.byteLength;
      // Settled once, and only while this consumer still holds the message.
      let settled = false;
      const delivery: Delivery = {
        queue: q.name,
        // A message gathered for a pipe (gathered-bytes.ts) goes as it is only to a consumer
        // that forwards it (a node's bridge to its worker); one that reads it reads it whole.
        body: consumer.recordsOnly ? msg.body : joined(msg.body),
        headers: msg.headers,
        redelivered: msg.redelivered,
        ack: () => {
          if (settled || !consumer.unacked.delete(msg)) return;
          settled = true;
          this.schedule(q);
        },
        nack: (requeue: boolean) => {
          if (settled || !consumer.unacked.delete(msg)) return;
          settled = true;
          if (requeue) {
            msg.redelivered = true;
            q.redelivered += 1;
            if (this.capabilities.requeueAtHead) q.unshift(msg);
            else q.messages.push(msg);
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
  readonly status$: Status<TransportStatus> = new (rx().BehaviorSubject)<TransportStatus>('connecting');
  private readonly consumers = new Set<Consumer>();
  private readonly topicUnsubs = new Set<() => void>();

  constructor(private readonly bus: InMemoryBus) {
    const leases = bus.leases;
    if (leases) {
      this.acquireLease = async (name, ttlMs) => {
        this.ensureOpen();
        return leases.acquire(name, ttlMs);
      };
    }
  }

  /** What the bus can do. */
  get capabilities(): TransportCapabilities {
    return this.bus.capabilities;
  }

  /** Present where the bus has `capabilities.leases`. */
  acquireLease?: (name: string, ttlMs: number) => Promise<TransportLease | null>;

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
    const consumer = this.bus.addConsumer(this, queue, handler, options.prefetch, options.recordsOnly === true);
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
