/**
 * Opens transports to a cluster on a broker. The AMQP adapter is loaded lazily, only when an
 * `amqp://` address is used (src never imports adapters statically), and every transport is
 * wrapped so that queue names carry the cluster's prefix and queues are declared by the
 * broker queue policy (`queue-policy.ts`).
 */
import * as path from 'node:path';
import type { Observable } from 'rxjs';
import type { ConsumeOptions, Delivery, PublishOptions, QueueOptions, Subscription, Transport, TransportStatus } from './transport';
import { parseClusterAddress, type ClusterAddress } from './cluster-address';
import { batchableQueue, brokerQueueOptions } from './queue-policy';

/** Options passed to the broker adapter (see adapters/amqp/options.ts). */
export interface BrokerTransportOptions {
  readonly connectionName?: string;
  readonly connectAttempts?: number;
  readonly connectTimeoutMs?: number;
  readonly heartbeatSeconds?: number;
  readonly maxDelayMs?: number;
  readonly onWarning?: (message: string, error?: unknown) => void;
}

interface AmqpAdapter {
  createAmqpTransport(url: string, options?: Record<string, unknown>): Transport;
}

let adapter: AmqpAdapter | undefined;

/** Default largest message on a broker (RAYBUS_MAX_MESSAGE_BYTES overrides): 16 MiB. */
export const BROKER_MAX_MESSAGE_BYTES = 16 * 1024 * 1024;

/** The AMQP adapter, loaded on first use (works from src/ under ts-jest and from dist/cjs/src/). */
function loadAdapter(): AmqpAdapter {
  adapter ??= require(path.join(__dirname, '..', '..', 'adapters', 'amqp')) as AmqpAdapter;
  return adapter;
}

/**
 * A transport (not yet connected) to the cluster at `address`.
 *
 * @example
 * const t = createBrokerTransport('amqp://guest:guest@127.0.0.1:5672/?cluster=dev', { connectionName: 'raybus driver' });
 * await t.connect();
 */
export function createBrokerTransport(address: string, options: BrokerTransportOptions = {}): Transport {
  const parsed = parseClusterAddress(address);
  // One message limit for the whole process tree on a broker: the core refuses larger values
  // where they are produced (`.remote()`, `put`, a task's result), workers inherit it.
  process.env.RAYBUS_MAX_MESSAGE_BYTES ??= String(BROKER_MAX_MESSAGE_BYTES);
  const inner = loadAdapter().createAmqpTransport(parsed.brokerUrl, {
    // A restarted broker should find its clients back within a couple of seconds.
    maxDelayMs: 2000,
    maxMessageBytes: Number(process.env.RAYBUS_MAX_MESSAGE_BYTES) || BROKER_MAX_MESSAGE_BYTES,
    ...options,
  });
  return new ClusterTransport(inner, parsed);
}

/** True for errors that mean "no such queue" (a publish the broker could not route). */
export function isNoSuchQueue(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown } | undefined;
  return e?.code === 'NO_SUCH_QUEUE' || (typeof e?.message === 'string' && /no queue named/.test(e.message));
}

const BATCHED: PublishOptions = { batch: true };

/** Prefixes names with the cluster's prefix and declares queues by the broker queue policy. */
class ClusterTransport implements Transport {
  readonly kind: string;
  readonly status$: Observable<TransportStatus>;
  private readonly prefix: string;

  constructor(
    private readonly inner: Transport,
    readonly address: ClusterAddress,
  ) {
    this.kind = inner.kind;
    this.status$ = inner.status$;
    this.prefix = address.prefix;
  }

  connect(): Promise<void> {
    return this.inner.connect();
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  assertQueue(queue: string, options?: QueueOptions): Promise<void> {
    return this.inner.assertQueue(this.prefix + queue, brokerQueueOptions(queue, options));
  }

  deleteQueue(queue: string): Promise<void> {
    return this.inner.deleteQueue(this.prefix + queue);
  }

  publish(queue: string, body: Uint8Array, options?: PublishOptions): Promise<void> {
    // Worker and reply queues always batch; other queues when the caller says the message may.
    if (!options?.headers && !options?.batch && batchableQueue(queue)) return this.inner.publish(this.prefix + queue, body, BATCHED);
    return this.inner.publish(this.prefix + queue, body, options);
  }

  consume(queue: string, handler: (delivery: Delivery) => void, options: ConsumeOptions): Promise<Subscription> {
    if (!this.prefix) return this.inner.consume(queue, handler, options);
    // Deliveries name the queue as the caller knows it (ack/nack are closures: no `this`).
    return this.inner.consume(
      this.prefix + queue,
      (d) => handler({ queue, body: d.body, headers: d.headers, redelivered: d.redelivered, ack: d.ack, nack: d.nack }),
      options,
    );
  }

  broadcast(topic: string, body: Uint8Array): Promise<void> {
    return this.inner.broadcast(this.prefix + topic, body);
  }

  subscribe(topic: string, handler: (body: Uint8Array) => void): Promise<Subscription> {
    return this.inner.subscribe(this.prefix + topic, handler);
  }
}
