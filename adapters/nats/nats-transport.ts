/**
 * The Transport port over NATS: JetStream streams for work queues, core NATS for presence
 * queues and topics, a KV bucket for leases. Wires the connection manager to the topology,
 * publisher, consumers and subscriptions; after a reconnect they repair, in that order.
 */
import type { Observable } from 'rxjs';
import type { ConsumeOptions, Delivery, PublishOptions, QueueOptions, Subscription, Transport, TransportStatus } from '../../src/transport/transport';
import { ConnectionManager } from './connection';
import { ConsumerSet } from './consumer-set';
import { NatsTransportError } from './errors';
import { Leases } from './lease';
import { Naming } from './naming';
import { resolveNatsOptions, type NatsTransportOptions } from './options';
import type { QueueInspection, TransportCapabilities, TransportLease } from '../../src/transport/transport';
import { PresenceQueues } from './presence';
import { Publisher } from './publisher';
import { Subscriber } from './subscriber';
import { Topology } from './topology';

/** A Transport on one NATS connection. Build it with {@link createNatsTransport}. */
export class NatsTransport implements Transport {
  readonly kind = 'nats';
  readonly status$: Observable<TransportStatus>;
  private readonly manager: ConnectionManager;
  private readonly naming: Naming;
  private readonly topology: Topology;
  private readonly publisher: Publisher;
  private readonly consumers: ConsumerSet;
  private readonly presence: PresenceQueues;
  private readonly subscriber: Subscriber;
  private readonly leases: Leases;
  private closing: Promise<void> | undefined;

  constructor(url: string, options?: NatsTransportOptions) {
    const resolved = resolveNatsOptions(options);
    this.manager = new ConnectionManager(url, resolved);
    this.status$ = this.manager.status$.asObservable();
    this.naming = new Naming(resolved.namespace);
    this.topology = new Topology(this.manager, this.naming);
    this.publisher = new Publisher(this.manager);
    this.consumers = new ConsumerSet(this.manager, this.topology, this.naming, (queue, body) => this.publisher.publish(queue, this.naming.queue(queue).subject, body, undefined));
    this.presence = new PresenceQueues(this.manager, this.naming);
    this.subscriber = new Subscriber(this.manager, this.naming);
    this.leases = new Leases(this.manager, this.naming);
    // Order matters: streams exist again before held-back publishes go out and consumers pull.
    this.manager.participate(this.topology);
    this.manager.participate(this.publisher);
    this.manager.participate(this.consumers);
    this.manager.onGiveUp = () => void this.close();
  }

  /** What this transport can do; `maxMessageBytes` follows the server's `max_payload` once connected. */
  get capabilities(): TransportCapabilities {
    return { singleActiveConsumer: false, requeueAtHead: false, queueExpiry: false, maxMessageBytes: this.publisher.maxMessageBytes, leases: true };
  }

  /** The name space's naming (subjects, stream names): for tools and tests. */
  get names(): Naming {
    return this.naming;
  }

  connect(): Promise<void> {
    return this.manager.connect();
  }

  close(): Promise<void> {
    this.closing ??= this.doClose();
    return this.closing;
  }

  async assertQueue(queue: string, options: QueueOptions = {}): Promise<void> {
    checkName('queue', queue);
    if (options.singleActiveConsumer) {
      // Faking it (every consumer active) would break whoever relies on it: refuse.
      throw new NatsTransportError(
        'UNSUPPORTED',
        `raybus nats: queue '${queue}' asks for a single active consumer, which JetStream 2.9 does not have (capabilities.singleActiveConsumer is false; use acquireLease to elect one consumer)`,
      );
    }
    if (options.autoDelete) {
      const link = await this.manager.ready();
      this.presence.declare(link, queue);
      // The subscription is registered on the server once this round trip returns.
      await link.nc.flush();
      return;
    }
    await this.topology.assertQueue(queue, options);
  }

  async deleteQueue(queue: string): Promise<void> {
    checkName('queue', queue);
    const unusable = this.manager.unusableReason();
    if (unusable) throw unusable;
    await this.presence.delete(queue);
    this.consumers.forget(queue);
    await this.topology.deleteQueue(queue);
  }

  publish(queue: string, body: Uint8Array, options?: PublishOptions): Promise<void> {
    const names = this.naming.queue(queue);
    const subject = names.subject;
    if (options?.transient && !options.headers) return this.publishTransient(names.memory, body);
    if (options?.batch && !options.headers) return this.publisher.publishBatched(queue, subject, body);
    return this.publisher.publish(queue, subject, body, options?.headers);
  }

  /**
   * A transient message: on core NATS to the queue's memory subject, to a consumer subscribed
   * now or to nobody (memory-inbox.ts). Never stored, so no PubAck to wait for.
   */
  private async publishTransient(subject: string, body: Uint8Array): Promise<void> {
    this.publisher.checkSize('message', body);
    const link = await this.manager.ready();
    link.nc.publish(subject, body);
  }

  async consume(queue: string, handler: (delivery: Delivery) => void, options: ConsumeOptions): Promise<Subscription> {
    checkName('queue', queue);
    const prefetch = options?.prefetch;
    if (typeof prefetch !== 'number' || !Number.isInteger(prefetch) || prefetch < 0 || prefetch > 1_000_000) {
      throw new RangeError(`raybus nats: prefetch must be an integer in [0, 1000000], got ${String(prefetch)}`);
    }
    const link = await this.manager.ready();
    let sub: Subscription | undefined = this.presence.consume(queue, handler, prefetch);
    sub ??= await this.consumers.consume(queue, handler, prefetch);
    if (!sub && (await this.presence.exists(link, queue))) {
      // An auto-delete queue held by another connection: hold it here too (queue group) and consume.
      this.presence.declare(link, queue);
      await link.nc.flush();
      sub = this.presence.consume(queue, handler, prefetch);
    }
    if (!sub) throw new NatsTransportError('NO_SUCH_QUEUE', `raybus nats: cannot consume from missing queue '${queue}'`);
    return sub;
  }

  /** What `queue` holds now: a presence queue held here, or a work queue's stream (undefined when neither exists). */
  async inspectQueue(queue: string): Promise<QueueInspection | undefined> {
    checkName('queue', queue);
    return this.presence.inspect(queue) ?? (await this.topology.inspect(queue));
  }

  async broadcast(topic: string, body: Uint8Array): Promise<void> {
    checkName('topic', topic);
    const unusable = this.manager.unusableReason();
    if (unusable) throw unusable;
    this.publisher.checkSize(`a broadcast to '${topic}'`, body);
    await this.subscriber.broadcast(topic, body);
  }

  subscribe(topic: string, handler: (body: Uint8Array) => void): Promise<Subscription> {
    checkName('topic', topic);
    return this.subscriber.subscribe(topic, handler);
  }

  /**
   * Try to hold the lease `name` for `ttlMs`; resolves with a handle, or null if someone else
   * holds it. Renew well within the TTL (a third of it, say) and stop acting as the holder as
   * soon as a renewal resolves false, rejects, or has not succeeded for `ttlMs`.
   */
  acquireLease(name: string, ttlMs: number): Promise<TransportLease | null> {
    return this.leases.acquire(name, ttlMs);
  }

  private async doClose(): Promise<void> {
    // Messages batched in this turn go out with the rest, not after the connection is gone.
    this.publisher.flushBatches();
    if (this.manager.connected) {
      // Consumers first: their pull requests are withdrawn and their deliveries nak'd before the
      // connection goes, so other consumers get those messages now rather than after ack_wait.
      await this.consumers.stopAll();
      await this.leases.releaseAll().catch(() => undefined);
    } else {
      void this.consumers.stopAll();
    }
    this.presence.stopAll();
    this.subscriber.stopAll();
    await this.manager.close();
    this.publisher.failAll(this.manager.closedError());
  }
}

function checkName(what: string, name: string): void {
  if (typeof name !== 'string' || name.length === 0) throw new NatsTransportError('INVALID_ARGUMENT', `raybus nats: ${what} name must be a non-empty string`);
}
