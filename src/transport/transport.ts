/**
 * The Transport port: the only way raybus processes talk to each other.
 *
 * A transport moves opaque byte payloads between named queues (work queues with
 * acknowledgements, as in AMQP 0-9-1) and broadcast topics (fire-and-forget fan-out).
 * Routing, correlation and encoding live in the core; a transport only moves bytes.
 * Implementations: the in-memory transport (embedded default, product code), the IPC
 * client transport (a worker process talking to its node) and `adapters/amqp` (RabbitMQ).
 */
import type { Observable } from 'rxjs';

/** Headers carried beside a payload. Values are kept small and flat on purpose. */
export type MessageHeaders = Record<string, string | number | boolean>;

/** Options for declaring a queue. Declaring the same queue twice is idempotent. */
export interface QueueOptions {
  /** Delete the queue once its last consumer is cancelled. */
  readonly autoDelete?: boolean;
  /** Only one consumer receives at a time; a standby takes over when it goes away. */
  readonly singleActiveConsumer?: boolean;
  /** Survive a broker restart (no meaning for the in-memory transport). */
  readonly durable?: boolean;
  /**
   * Delete the queue once it has gone this long (ms) without consumers or declarations, so
   * queues of processes that died do not pile up (AMQP `x-expires`; ignored in memory).
   */
  readonly expiresMs?: number;
}

/** Options for a publish. */
export interface PublishOptions {
  readonly headers?: MessageHeaders;
  /**
   * The message may travel in one broker message with others published to the same queue in
   * the same event-loop turn (each is still delivered, acked and nacked on its own). Only for
   * queues whose consumers tolerate a redelivery of messages they already acknowledged, should
   * the group be redelivered (it is acknowledged to the broker once all are). Ignored without
   * a broker, and with `headers`.
   */
  readonly batch?: boolean;
}

/** One message handed to a consumer. Exactly one of `ack`/`nack` must be called. */
export interface Delivery {
  readonly queue: string;
  readonly body: Uint8Array;
  readonly headers: MessageHeaders;
  /** True when this message was delivered before and not acknowledged (consumer died). */
  readonly redelivered: boolean;
  /** Remove the message from the queue: it was handled. */
  ack(): void;
  /**
   * Give the message back. `requeue: true` puts it back at the head of its queue (marked
   * redelivered); `requeue: false` drops it (dead-letters it where the transport can).
   */
  nack(requeue: boolean, reason?: string): void;
}

/** Options for a consumer. */
export interface ConsumeOptions {
  /** Most unacknowledged deliveries outstanding at once (AMQP prefetch). 0 = unbounded. */
  readonly prefetch: number;
}

/** A running consumer or topic subscription. */
export interface Subscription {
  /** Stop receiving. Unacknowledged deliveries of a consumer are requeued. */
  cancel(): Promise<void>;
}

/** Where a transport's connection stands. */
export type TransportStatus = 'connecting' | 'connected' | 'reconnecting' | 'closed';

/**
 * A message bus connection as raybus needs it.
 *
 * Ordering: messages published by one transport to one queue are delivered in publish
 * order. A payload is never modified in flight.
 */
export interface Transport {
  /** Short name for logs: `memory`, `ipc`, `amqp`. */
  readonly kind: string;
  /** Current status, replayed to new subscribers. */
  readonly status$: Observable<TransportStatus>;
  connect(): Promise<void>;
  /** Close the connection. Consumers stop; their unacknowledged deliveries are requeued. */
  close(): Promise<void>;
  assertQueue(queue: string, options?: QueueOptions): Promise<void>;
  deleteQueue(queue: string): Promise<void>;
  /**
   * Send `body` to `queue`. Resolves once the transport has taken responsibility for the
   * message (for AMQP: publisher confirm). Publishing to an undeclared queue rejects.
   */
  publish(queue: string, body: Uint8Array, options?: PublishOptions): Promise<void>;
  consume(queue: string, handler: (delivery: Delivery) => void, options: ConsumeOptions): Promise<Subscription>;
  /** Fan a payload out to every current subscriber of `topic` (no acks, no persistence). */
  broadcast(topic: string, body: Uint8Array): Promise<void>;
  subscribe(topic: string, handler: (body: Uint8Array) => void): Promise<Subscription>;
}
