/**
 * The Transport port over RabbitMQ (AMQP 0-9-1): wires the connection manager to the
 * topology, publisher, consumers and subscriptions, which it rebuilds, in that order, on
 * every new connection.
 */
import type { Observable } from 'rxjs';
import type {
  ConsumeOptions,
  Delivery,
  PublishOptions,
  QueueInspection,
  QueueOptions,
  Subscription,
  Transport,
  TransportCapabilities,
  TransportStatus,
} from '../../src/transport/transport';
import { ConnectionManager } from './connection-manager';
import { ConsumerSet } from './consumer';
import { QueueInspector } from './inspector';
import { resolveAmqpOptions, type AmqpTransportOptions } from './options';
import { Publisher } from './publisher';
import { checkTopic, Subscriber } from './subscriber';
import { checkQueueName, EVENTS_EXCHANGE, Topology } from './topology';

/** A Transport on one AMQP connection. Build it with {@link createAmqpTransport}. */

/** Consumers one connection takes (see `capabilities.maxConsumers`). */
const AMQP_MAX_CONSUMERS = 2000;
export class AmqpTransport implements Transport {
  readonly kind = 'amqp';
  readonly status$: Observable<TransportStatus>;
  /** RabbitMQ has single active consumers, requeue at the head and queue expiry (x-expires). */
  readonly capabilities: TransportCapabilities;
  private readonly manager: ConnectionManager;
  private readonly topology: Topology;
  private readonly publisher: Publisher;
  private readonly consumers: ConsumerSet;
  private readonly subscriber: Subscriber;
  private readonly inspector: QueueInspector;
  private closing: Promise<void> | undefined;

  constructor(url: string, options?: AmqpTransportOptions) {
    const resolved = resolveAmqpOptions(options);
    this.manager = new ConnectionManager(url, resolved);
    this.capabilities = Object.freeze({
      singleActiveConsumer: true,
      requeueAtHead: true,
      queueExpiry: true,
      maxMessageBytes: resolved.maxMessageBytes,
      leases: false,
      // A channel per consumer (consumer.ts), within RabbitMQ's default channel_max of 2047,
      // leaving room for the publisher's, the subscriptions' and the topology's channels.
      maxConsumers: AMQP_MAX_CONSUMERS,
    });
    this.status$ = this.manager.status$.asObservable();
    this.topology = new Topology(this.manager);
    this.publisher = new Publisher(this.manager);
    this.consumers = new ConsumerSet(this.manager);
    this.subscriber = new Subscriber(this.manager);
    this.inspector = new QueueInspector(this.manager);
    // Order matters: queues exist before unconfirmed publishes are re-sent and before consumers return.
    this.manager.participate(this.topology);
    this.manager.participate(this.publisher);
    this.manager.participate(this.consumers);
    this.manager.participate(this.subscriber);
    this.manager.onGiveUp = () => void this.close();
  }

  connect(): Promise<void> {
    return this.manager.connect();
  }

  close(): Promise<void> {
    if (!this.closing) this.closing = this.doClose();
    return this.closing;
  }

  async assertQueue(queue: string, options: QueueOptions = {}): Promise<void> {
    await this.topology.assertQueue(queue, options);
  }

  async deleteQueue(queue: string): Promise<void> {
    await this.topology.deleteQueue(queue);
  }

  /** Ready messages and consumers of `queue` (a passive declare); undefined when it does not exist. */
  inspectQueue(queue: string): Promise<QueueInspection | undefined> {
    return this.inspector.inspect(queue);
  }

  async publish(queue: string, body: Uint8Array, options?: PublishOptions): Promise<void> {
    checkQueueName(queue);
    this.checkUsable();
    const target = { exchange: '', routingKey: queue, mandatory: true };
    if (options?.batch && !options.headers && !options.transient) await this.publisher.publishBatched(target, body);
    else await this.publisher.publish(target, body, options?.headers, options?.transient === true);
  }

  async consume(queue: string, handler: (delivery: Delivery) => void, options: ConsumeOptions): Promise<Subscription> {
    checkQueueName(queue);
    const prefetch = options?.prefetch;
    if (typeof prefetch !== 'number' || !Number.isInteger(prefetch) || prefetch < 0 || prefetch > 65535) {
      throw new RangeError(`raybus amqp: prefetch must be an integer in [0, 65535], got ${String(prefetch)}`);
    }
    return this.consumers.consume(queue, handler, prefetch);
  }

  async broadcast(topic: string, body: Uint8Array): Promise<void> {
    checkTopic(topic);
    this.checkUsable();
    await this.publisher.publish({ exchange: EVENTS_EXCHANGE, routingKey: topic, mandatory: false }, body, undefined);
  }

  async subscribe(topic: string, handler: (body: Uint8Array) => void): Promise<Subscription> {
    return this.subscriber.subscribe(topic, handler);
  }

  private checkUsable(): void {
    const reason = this.manager.unusableReason();
    if (reason) throw reason;
  }

  private async doClose(): Promise<void> {
    // Stop handing out deliveries first; what they leave unacked is requeued with the connection.
    this.consumers.stopAll();
    this.subscriber.stopAll();
    await this.manager.close();
    this.publisher.failAll(this.manager.closedError());
  }
}
