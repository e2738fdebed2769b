/**
 * User options of the NATS transport, their defaults and their validation.
 */
import { existsSync } from 'node:fs';

/** Options of {@link createNatsTransport}. Every field is optional. */
export interface NatsTransportOptions {
  /**
   * Name space of every subject, stream and bucket this transport uses (letters, digits, '-';
   * no '_', which separates it in stream names). Transports that talk to each other use the
   * same one. Default `raybus`.
   */
  readonly namespace?: string;
  /** Name of the connection, shown by the server's monitoring. Default `raybus:<pid>`. */
  readonly connectionName?: string;
  /** Attempts made by `connect()` before it rejects. Default 5. */
  readonly connectAttempts?: number;
  /** Timeout of one connection attempt, in ms. Default 10 000. */
  readonly connectTimeoutMs?: number;
  /** Wait between reconnection attempts, in ms. Default 500. */
  readonly reconnectTimeWaitMs?: number;
  /** Longest wait between reconnection attempts (raybus's generic option): caps `reconnectTimeWaitMs`. */
  readonly maxDelayMs?: number;
  /** Attempts made after a lost connection before the transport closes itself. Default: unbounded. */
  readonly reconnectAttempts?: number;
  /** Client ping interval in ms; a silent server is noticed after about two. Default 10 000. */
  readonly pingIntervalMs?: number;
  /**
   * JetStream `ack_wait` of the queue consumers this transport creates, in ms: how long after a
   * consumer process died without closing its unacknowledged messages come back. Live consumers
   * keep their deliveries with progress acks (`+WPI`) every 40 % of it. Default 5 000.
   */
  readonly ackWaitMs?: number;
  /** How long `publish` waits for the server's (or a presence queue's) acknowledgement, in ms. Default 10 000. */
  readonly publishTimeoutMs?: number;
  /** Timeout of one JetStream API request (declare, delete, info), in ms. Default 5 000. */
  readonly apiTimeoutMs?: number;
  /** Life of one pull request of a consumer, in ms (it is renewed when it expires). Default 30 000. */
  readonly pullExpiresMs?: number;
  /** Messages asked for at once by a consumer with prefetch 0 (unbounded). Default 256. */
  readonly unboundedPullBatch?: number;
  /**
   * Largest body `publish`/`broadcast` accept, in bytes. Default and upper bound: the server's
   * `max_payload` less {@link HEADER_HEADROOM_BYTES} for headers.
   */
  readonly maxMessageBytes?: number;
  /** Where non-fatal problems go (a consumer lost its queue, a dead-letter copy failed). Default `process.emitWarning`. */
  readonly onWarning?: (message: string, error?: unknown) => void;
  /**
   * TLS: a PEM file of the certificate authorities to trust; the connection then requires TLS
   * (a server started with `--tls`). Without it the client uses TLS when the server requires it,
   * trusting the system's authorities.
   */
  readonly caFile?: string;
  /**
   * The connection keeps the process alive (default true). `false`: its socket and ping timer
   * do not, so a process whose other work has ended exits (a raybus driver passes `false` and
   * holds its process itself while work is outstanding).
   */
  readonly keepAlive?: boolean;
}

/** Bytes of a server's `max_payload` kept for headers: a body may use the rest. */
export const HEADER_HEADROOM_BYTES = 4096;

/** NATS's default `max_payload` (1 MiB): what `maxMessageBytes` assumes before the server says. */
export const DEFAULT_MAX_PAYLOAD = 1024 * 1024;

/** {@link NatsTransportOptions} after defaults. */
export interface ResolvedNatsTransportOptions {
  readonly namespace: string;
  readonly connectionName: string;
  readonly connectAttempts: number;
  readonly connectTimeoutMs: number;
  readonly reconnectTimeWaitMs: number;
  readonly reconnectAttempts: number;
  readonly pingIntervalMs: number;
  readonly ackWaitMs: number;
  readonly publishTimeoutMs: number;
  readonly apiTimeoutMs: number;
  readonly pullExpiresMs: number;
  readonly unboundedPullBatch: number;
  readonly maxMessageBytes: number | undefined;
  readonly onWarning: (message: string, error?: unknown) => void;
  readonly caFile?: string;
  readonly keepAlive: boolean;
}

const NUMERIC: Record<string, { min: number; max: number; infinite?: boolean }> = {
  connectAttempts: { min: 1, max: 1000 },
  connectTimeoutMs: { min: 1, max: 3_600_000 },
  reconnectTimeWaitMs: { min: 1, max: 3_600_000 },
  maxDelayMs: { min: 1, max: 3_600_000 },
  reconnectAttempts: { min: 1, max: Infinity, infinite: true },
  pingIntervalMs: { min: 100, max: 3_600_000 },
  ackWaitMs: { min: 500, max: 3_600_000 },
  publishTimeoutMs: { min: 1, max: 3_600_000 },
  apiTimeoutMs: { min: 1, max: 3_600_000 },
  pullExpiresMs: { min: 1000, max: 3_600_000 },
  unboundedPullBatch: { min: 1, max: 100_000 },
  maxMessageBytes: { min: 1, max: 64 * 1024 * 1024 },
};

const KNOWN = new Set([...Object.keys(NUMERIC), 'namespace', 'connectionName', 'onWarning', 'caFile', 'keepAlive']);

/** Letters, digits and '-': safe in subjects and stream names, and '_' stays a separator. */
const NAMESPACE = /^[A-Za-z0-9-]{1,32}$/;

function defaultWarning(message: string, error?: unknown): void {
  process.emitWarning(error === undefined ? message : `${message}: ${String(error)}`, 'RaybusNatsWarning');
}

/**
 * Apply defaults and validate; misuse throws synchronously (TypeError for a wrong type or
 * unknown name, RangeError for a value out of range).
 */
export function resolveNatsOptions(options: NatsTransportOptions = {}): ResolvedNatsTransportOptions {
  if (typeof options !== 'object' || options === null) throw new TypeError('raybus nats: options must be an object');
  for (const key of Object.keys(options)) {
    if (!KNOWN.has(key)) throw new TypeError(`raybus nats: unknown option '${key}'; valid options: ${[...KNOWN].join(', ')}`);
  }
  for (const [key, rule] of Object.entries(NUMERIC)) {
    const value = (options as Record<string, unknown>)[key];
    if (value === undefined) continue;
    if (typeof value !== 'number' || Number.isNaN(value)) throw new TypeError(`raybus nats: option '${key}' must be a number, got ${typeof value}`);
    const finiteOk = Number.isFinite(value) || (rule.infinite === true && value === Infinity);
    if (!finiteOk || value < rule.min || value > rule.max || (Number.isFinite(value) && !Number.isInteger(value))) {
      throw new RangeError(`raybus nats: option '${key}' must be an integer in [${rule.min}, ${rule.max}], got ${value}`);
    }
  }
  if (options.namespace !== undefined && (typeof options.namespace !== 'string' || !NAMESPACE.test(options.namespace))) {
    throw new RangeError(`raybus nats: option 'namespace' must be 1-32 letters, digits or '-', got '${String(options.namespace)}'`);
  }
  if (options.connectionName !== undefined && typeof options.connectionName !== 'string') {
    throw new TypeError("raybus nats: option 'connectionName' must be a string");
  }
  if (options.onWarning !== undefined && typeof options.onWarning !== 'function') {
    throw new TypeError("raybus nats: option 'onWarning' must be a function");
  }
  if (options.keepAlive !== undefined && typeof options.keepAlive !== 'boolean') {
    throw new TypeError("raybus nats: option 'keepAlive' must be a boolean");
  }
  if (options.caFile !== undefined) {
    if (typeof options.caFile !== 'string' || options.caFile === '') throw new TypeError("raybus nats: option 'caFile' must be a file path");
    if (!existsSync(options.caFile)) throw new RangeError(`raybus nats: option 'caFile': no such file ${options.caFile}`);
  }
  return {
    namespace: options.namespace ?? 'raybus',
    connectionName: options.connectionName ?? `raybus:${process.pid}`,
    connectAttempts: options.connectAttempts ?? 5,
    connectTimeoutMs: options.connectTimeoutMs ?? 10_000,
    reconnectTimeWaitMs: Math.min(options.reconnectTimeWaitMs ?? 500, options.maxDelayMs ?? Infinity),
    reconnectAttempts: options.reconnectAttempts ?? Infinity,
    pingIntervalMs: options.pingIntervalMs ?? 10_000,
    ackWaitMs: options.ackWaitMs ?? 5_000,
    publishTimeoutMs: options.publishTimeoutMs ?? 10_000,
    apiTimeoutMs: options.apiTimeoutMs ?? 5_000,
    pullExpiresMs: options.pullExpiresMs ?? 30_000,
    unboundedPullBatch: options.unboundedPullBatch ?? 256,
    maxMessageBytes: options.maxMessageBytes,
    onWarning: options.onWarning ?? defaultWarning,
    keepAlive: options.keepAlive ?? true,
    ...(options.caFile !== undefined ? { caFile: options.caFile } : {}),
  };
}
