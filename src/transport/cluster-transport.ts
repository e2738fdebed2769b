/**
 * The transport of a cluster on a bus: queue and topic names carry the cluster's prefix
 * (`?cluster=<name>` in the address) and queues are declared by the broker queue policy
 * (queue-policy.ts), whatever adapter is underneath.
 */
import type { Observable } from 'rxjs';
import { capabilitiesOf, type ConsumeOptions, type Delivery, type PublishOptions, type QueueInspection, type QueueOptions, type Subscription, type Transport, type TransportCapabilities, type TransportLease, type TransportStatus } from './transport';
import { transportCounters as counters } from './transport-counters';
import type { ClusterAddress } from './cluster-address';
import { batchableQueue, brokerQueueOptions } from './queue-policy';

const BATCHED: PublishOptions = { batch: true };

/**
 * Prefixes names with the cluster's prefix and declares queues by the broker queue policy;
 * counts what crosses it (transport-counters.ts).
 */
export class ClusterTransport implements Transport {
  readonly kind: string;
  readonly status$: Observable<TransportStatus>;
  private readonly prefix: string;

  constructor(
    private readonly inner: Transport,
    readonly address: ClusterAddress,
  ) {
    this.kind = inner.kind;
    this.status$ = inner.status$;
    if (inner.acquireLease) this.acquireLease = (name, ttlMs) => inner.acquireLease!(this.prefix + name, ttlMs);
    if (inner.inspectQueue) this.inspectQueue = (queue) => inner.inspectQueue!(this.prefix + queue);
    this.prefix = address.prefix;
  }

  /** The adapter's (read each time: NATS learns its message limit from the server). */
  get authenticated(): boolean {
    return this.inner.authenticated === true;
  }

  /** The inner transport's (an AuthTransport reads a gathered message's parts itself). */
  get takesGathered(): boolean {
    return this.inner.takesGathered === true;
  }

  get capabilities(): TransportCapabilities | undefined {
    return this.inner.capabilities;
  }

  connect(): Promise<void> {
    return this.inner.connect();
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  assertQueue(queue: string, options?: QueueOptions): Promise<void> {
    return this.inner.assertQueue(this.prefix + queue, brokerQueueOptions(queue, options, capabilitiesOf(this.inner)));
  }

  deleteQueue(queue: string): Promise<void> {
    return this.inner.deleteQueue(this.prefix + queue);
  }

  publish(queue: string, body: Uint8Array, options?: PublishOptions): Promise<void> {
    counters.sent += 1;
    counters.sentBytes += body.byteLength;
    // Worker and reply queues always batch; other queues when the caller says the message may.
    if (!options?.headers && !options?.batch && !options?.transient && batchableQueue(queue)) return this.inner.publish(this.prefix + queue, body, BATCHED);
    return this.inner.publish(this.prefix + queue, body, options);
  }

  consume(queue: string, handler: (delivery: Delivery) => void, options: ConsumeOptions): Promise<Subscription> {
    if (!this.prefix) {
      return this.inner.consume(
        queue,
        (d) => {
          counters.received += 1;
          counters.receivedBytes += d.body.byteLength;
          handler(d);
        },
        options,
      );
    }
    // Deliveries name the queue as the caller knows it (ack/nack are closures: no `this`).
    return this.inner.consume(
      this.prefix + queue,
      (d) => {
        counters.received += 1;
        counters.receivedBytes += d.body.byteLength;
        handler({ queue, body: d.body, headers: d.headers, redelivered: d.redelivered, ack: d.ack, nack: d.nack });
      },
      options,
    );
  }

  broadcast(topic: string, body: Uint8Array): Promise<void> {
    counters.sent += 1;
    counters.sentBytes += body.byteLength;
    return this.inner.broadcast(this.prefix + topic, body);
  }

  subscribe(topic: string, handler: (body: Uint8Array) => void): Promise<Subscription> {
    return this.inner.subscribe(this.prefix + topic, (body) => {
      counters.received += 1;
      counters.receivedBytes += body.byteLength;
      handler(body);
    });
  }

  inspectQueue?: (queue: string) => Promise<QueueInspection | undefined>;

  acquireLease?: (name: string, ttlMs: number) => Promise<TransportLease | null>;
}
