/**
 * The Transport port: the only way raybus processes talk to each other.
 *
 * A transport moves opaque byte payloads between named queues (work queues with
 * acknowledgements, as in AMQP 0-9-1) and broadcast topics (fire-and-forget fan-out).
 * Routing, correlation and encoding live in the core; a transport only moves bytes.
 * Implementations: the in-memory transport (embedded default, product code), the IPC
 * client transport (a worker process talking to its node), `adapters/amqp` (RabbitMQ) and
 * `adapters/nats` (NATS JetStream). Users add their own with `registerTransport`
 * (transport-registry.ts); `raybus/testing` exports the conformance suite they must pass.
 */
import type { Observable } from 'rxjs';

/** A header marking a delivery the node's AuthTransport opened (the node tells its workers so). */
export const AUTHENTICATED_HEADER = 'x-raybus-auth';

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
  /**
   * The bus may keep the message in memory only (RabbitMQ: not persistent), so a restart of
   * the broker can lose it: only for messages whose receiver asks again when one does not
   * arrive (the chunks of a blob, `blob-puller.ts`), which then cost the broker no disk
   * write. Never batched. On NATS it travels on core NATS to a consumer of the queue
   * subscribed at that moment (at most once), never stored in the queue's stream. Without a
   * broker, it is a message like the others.
   */
  readonly transient?: boolean;
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

/**
 * The synchronous publish of an in-process transport (the in-memory bus, a worker's IPC
 * transport): it takes the message at once and throws where `publish` would reject.
 */
export type SyncPublish = (queue: string, body: Uint8Array, options?: PublishOptions) => void;

/** A transport that may have a synchronous publish (read it as a method: it may come later). */
export type MaybeSyncTransport = Transport & { publishSync?: SyncPublish };

/** A transport's synchronous publish, bound to it, where it has one. */
export function syncPublishOf(transport: Transport): SyncPublish | undefined {
  const sync = (transport as MaybeSyncTransport).publishSync;
  return typeof sync === 'function' ? sync.bind(transport) : undefined;
}

/** Options for a consumer. */
export interface ConsumeOptions {
  /** Most unacknowledged deliveries outstanding at once (AMQP prefetch). 0 = unbounded. */
  readonly prefetch: number;
  /**
   * The handler only records the delivery (it neither publishes nor consumes from inside it; an
   * ack or nack it makes there settles as usual): an in-process bus may then hand it over
   * inside `publish`, without waiting for the end of the caller's synchronous work. Other buses
   * ignore it.
   */
  readonly recordsOnly?: boolean;
}

/** A running consumer or topic subscription. */
export interface Subscription {
  /** Stop receiving. Unacknowledged deliveries of a consumer are requeued. */
  cancel(): Promise<void>;
}

/**
 * What a queue holds now, as far as the bus tells (`Transport.inspectQueue`): for the
 * dashboard's transport pane and the queue-depth metric, never for raybus's own decisions.
 */
export interface QueueInspection {
  /** Messages ready for delivery (not yet handed to a consumer). */
  readonly messages: number;
  /** Consumers attached (pull requests waiting, on NATS). */
  readonly consumers: number;
  /** Delivered and not yet acknowledged (where the bus says). */
  readonly unacked?: number;
  /** Messages delivered again after a consumer went away without acknowledging them (where the bus counts them). */
  readonly redelivered?: number;
}

/** Where a transport's connection stands. */
export type TransportStatus = 'connecting' | 'connected' | 'reconnecting' | 'closed';

/**
 * What a transport can do; raybus adapts where something is missing (docs/ARCHITECTURE.md,
 * "Transports"). A transport without `capabilities` is taken to have them all, as the
 * in-memory bus and RabbitMQ do.
 */
export interface TransportCapabilities {
  /** A queue declared `singleActiveConsumer` delivers to one consumer at a time; a standby takes over. */
  readonly singleActiveConsumer: boolean;
  /** `nack(true)` puts a message back at the head of its queue (else it comes back later). */
  readonly requeueAtHead: boolean;
  /** Queues declared with `expiresMs` vanish once unused for that long. */
  readonly queueExpiry: boolean;
  /** Largest message body `publish` and `broadcast` take, in bytes. */
  readonly maxMessageBytes: number;
  /** `acquireLease` is available (leader election where there is no single active consumer). */
  readonly leases: boolean;
  /**
   * Consumers one connection can hold at once (absent: no limit of its own). RabbitMQ gives each
   * consumer a channel, and a connection has at most `channel_max` of them.
   */
  readonly maxConsumers?: number;
}

/** The capabilities of the in-memory bus and of RabbitMQ. */
export const FULL_CAPABILITIES: TransportCapabilities = Object.freeze({
  singleActiveConsumer: true,
  requeueAtHead: true,
  queueExpiry: true,
  maxMessageBytes: 2 ** 31 - 1,
  leases: false,
});

/** A lease held through a transport: at most one holder per name until it expires or is released. */
export interface TransportLease {
  /** Unique to this holding (a new one per acquisition). */
  readonly id: string;
  /**
   * Extend the lease by its TTL from now. Resolves false when it was lost (expired, or taken
   * by someone else); rejects when the bus could not be asked (it may then still expire).
   */
  renew(): Promise<boolean>;
  /** Give the lease up now, so that another candidate can take it at once. Idempotent. */
  release(): Promise<void>;
}

/**
 * The error code a publish rejects with when the queue does not exist (a presence probe of
 * a process that is gone). Adapters set `code` to it on the error they reject with.
 */
/** The options of a transient publish (blob chunks), shared so that a send makes no object. */
export const TRANSIENT_PUBLISH: PublishOptions = Object.freeze({ transient: true });

export const NO_SUCH_QUEUE = 'NO_SUCH_QUEUE';

/** True for errors that mean "no such queue" (a publish the bus could not route). */
export function isNoSuchQueue(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown } | undefined;
  return e?.code === NO_SUCH_QUEUE || (typeof e?.message === 'string' && /no queue named/.test(e.message));
}

/**
 * The address with its credentials hidden: `user:password@` becomes `user:***@`, a bare
 * token (`nats://token@host`) becomes `***@`. The one redaction raybus uses everywhere.
 */
export function redactAddress(address: string): string {
  return String(address)
    .replace(/\/\/([^/@:]*):[^/@]*@/, '//$1:***@')
    .replace(/\/\/([^/@:]+)@/, '//***@');
}

/** The capabilities of `t` (all of them when it does not say). */
export function capabilitiesOf(t: Transport): TransportCapabilities {
  return t.capabilities ?? FULL_CAPABILITIES;
}

/**
 * A message bus connection as raybus needs it.
 *
 * Ordering: messages published by one transport to one queue are delivered in publish
 * order. A payload is never modified in flight.
 */
export interface Transport {
  /** Short name for logs: `memory`, `ipc`, `amqp`, `nats`. */
  readonly kind: string;
  /** What this transport can do (absent: everything, as {@link FULL_CAPABILITIES}). */
  readonly capabilities?: TransportCapabilities;
  /**
   * True when every message it publishes is sealed with the cluster key and every delivery it
   * hands out was opened with it (an AuthTransport; a worker's IPC transport that takes only
   * what its node opened): the bytes of each message are the sender's, checked on arrival.
   */
  readonly authenticated?: boolean;
  /**
   * True when `publish` takes a gathered message (serialization/gathered-bytes.ts) and reads
   * its parts itself, where another transport would need it whole (an AuthTransport writes the
   * parts straight into the sealed message): senders may then leave large arrays out of it.
   */
  readonly takesGathered?: boolean;
  /** Current status, replayed to new subscribers. */
  readonly status$: Observable<TransportStatus>;
  connect(): Promise<void>;
  /** Close the connection. Consumers stop; their unacknowledged deliveries are requeued. */
  close(): Promise<void>;
  assertQueue(queue: string, options?: QueueOptions): Promise<void>;
  deleteQueue(queue: string): Promise<void>;
  /**
   * Send `body` to `queue`. Resolves once the transport has taken responsibility for the
   * message (for AMQP: publisher confirm). Publishing to an undeclared queue rejects. `body`
   * must not change after the call, even once it settled: an adapter may write it as it is,
   * later (the NATS adapter writes a large one without copying it).
   */
  publish(queue: string, body: Uint8Array, options?: PublishOptions): Promise<void>;
  consume(queue: string, handler: (delivery: Delivery) => void, options: ConsumeOptions): Promise<Subscription>;
  /** Fan a payload out to every current subscriber of `topic` (no acks, no persistence). */
  broadcast(topic: string, body: Uint8Array): Promise<void>;
  subscribe(topic: string, handler: (body: Uint8Array) => void): Promise<Subscription>;
  /**
   * Try to hold the lease `name` for `ttlMs` (transports with `capabilities.leases`); resolves
   * with the lease, or null while someone else holds it.
   */
  acquireLease?(name: string, ttlMs: number): Promise<TransportLease | null>;
  /**
   * What `queue` holds now (optional: the dashboard shows queues only where the transport can
   * tell). Resolves undefined when there is no such queue. Never creates the queue.
   */
  inspectQueue?(queue: string): Promise<QueueInspection | undefined>;
}

/** Options raybus passes when it opens a transport to an address. */
export interface TransportOptions {
  /** Shown by the broker for this connection (e.g. `raybus node 1a2b3c4d`). */
  readonly connectionName?: string;
  /** Attempts made by `connect()` before it rejects. */
  readonly connectAttempts?: number;
  /** Timeout of one connection attempt, in ms. */
  readonly connectTimeoutMs?: number;
  /** Longest delay between reconnection attempts, in ms. */
  readonly maxDelayMs?: number;
  /** Largest message this process sends (values above it travel in chunks). */
  readonly maxMessageBytes?: number;
  /** TLS: a PEM file of the certificate authorities to trust (`amqps://`, `tls://`). */
  readonly caFile?: string;
  /** Where non-fatal problems go. */
  readonly onWarning?: (message: string, error?: unknown) => void;
  /**
   * The connection keeps the process alive (default true). A driver passes false: it holds
   * its process itself while work is outstanding, so a script ends when its work ends.
   */
  readonly keepAlive?: boolean;
}

/**
 * Makes a transport, not yet connected, for an address of its scheme (`amqp://…`). Register
 * it with `registerTransport(scheme, factory)`.
 */
export type TransportFactory = (address: string, options: TransportOptions) => Transport;
