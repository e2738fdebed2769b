/**
 * User options of the AMQP transport, their defaults and their validation.
 */
import { readFileSync } from 'node:fs';

/** Options of {@link createAmqpTransport}. Every field is optional. */
export interface AmqpTransportOptions {
  /** AMQP heartbeat in seconds (0 disables it). A dead peer is noticed after about two. Default 10. */
  readonly heartbeatSeconds?: number;
  /** Largest payload `publish`/`broadcast` accept, in bytes. Default 16 MiB. */
  readonly maxMessageBytes?: number;
  /** Attempts made by `connect()` before it rejects. Default 5. */
  readonly connectAttempts?: number;
  /** Attempts made after a lost connection before the transport closes itself. Default: unbounded. */
  readonly reconnectAttempts?: number;
  /** First retry delay in ms; each later one is `backoffFactor` times longer, up to `maxDelayMs`. Default 100. */
  readonly initialDelayMs?: number;
  /** Longest retry delay in ms. Default 10 000. */
  readonly maxDelayMs?: number;
  /** Growth of the retry delay per attempt. Default 2. */
  readonly backoffFactor?: number;
  /** Each delay is spread by ±`jitter` of itself (0..1) so that nodes do not reconnect in step. Default 0.2. */
  readonly jitter?: number;
  /** TCP connect + AMQP handshake timeout for one attempt, in ms. Default 10 000. */
  readonly connectTimeoutMs?: number;
  /** Publishes held (unsent or unconfirmed) before `publish` rejects. Default 10 000. */
  readonly maxPendingPublishes?: number;
  /** Name shown for the connection in the RabbitMQ management UI. Default `raybus:<pid>`. */
  readonly connectionName?: string;
  /** Where non-fatal problems go (a consumer lost its queue, a re-declare failed). Default `process.emitWarning`. */
  readonly onWarning?: (message: string, error?: unknown) => void;
  /** `amqps://`: a PEM file of the certificate authorities to trust (e.g. a self-signed broker's CA). */
  readonly caFile?: string;
  /** The connection (socket, heartbeat timers) keeps the process alive. Default true. */
  readonly keepAlive?: boolean;
}

/** {@link AmqpTransportOptions} after defaults. */
export interface ResolvedAmqpTransportOptions {
  readonly heartbeatSeconds: number;
  readonly maxMessageBytes: number;
  readonly connectAttempts: number;
  readonly reconnectAttempts: number;
  readonly initialDelayMs: number;
  readonly maxDelayMs: number;
  readonly backoffFactor: number;
  readonly jitter: number;
  readonly connectTimeoutMs: number;
  readonly maxPendingPublishes: number;
  readonly connectionName: string;
  readonly onWarning: (message: string, error?: unknown) => void;
  readonly keepAlive: boolean;
  /** The contents of `caFile`, read once. */
  readonly ca?: Buffer;
}

const NUMERIC: Record<string, { min: number; max: number; integer: boolean; infinite?: boolean }> = {
  heartbeatSeconds: { min: 0, max: 65535, integer: true },
  maxMessageBytes: { min: 1, max: 512 * 1024 * 1024, integer: true },
  connectAttempts: { min: 1, max: 1000, integer: true },
  reconnectAttempts: { min: 1, max: Infinity, integer: true, infinite: true },
  initialDelayMs: { min: 1, max: 3_600_000, integer: false },
  maxDelayMs: { min: 1, max: 3_600_000, integer: false },
  backoffFactor: { min: 1, max: 100, integer: false },
  jitter: { min: 0, max: 1, integer: false },
  connectTimeoutMs: { min: 1, max: 3_600_000, integer: false },
  maxPendingPublishes: { min: 1, max: Infinity, integer: true, infinite: true },
};

const KNOWN = new Set([...Object.keys(NUMERIC), 'connectionName', 'onWarning', 'caFile', 'keepAlive']);

function defaultWarning(message: string, error?: unknown): void {
  process.emitWarning(error === undefined ? message : `${message}: ${String(error)}`, 'RaybusAmqpWarning');
}

/**
 * Apply defaults and validate; misuse throws synchronously (TypeError for a wrong type or
 * unknown name, RangeError for a value out of range).
 */
export function resolveAmqpOptions(options: AmqpTransportOptions = {}): ResolvedAmqpTransportOptions {
  if (typeof options !== 'object' || options === null) throw new TypeError('raybus amqp: options must be an object');
  for (const key of Object.keys(options)) {
    if (!KNOWN.has(key)) {
      throw new TypeError(`raybus amqp: unknown option '${key}'; valid options: ${[...KNOWN].join(', ')}`);
    }
  }
  for (const [key, rule] of Object.entries(NUMERIC)) {
    const value = (options as Record<string, unknown>)[key];
    if (value === undefined) continue;
    if (typeof value !== 'number' || Number.isNaN(value)) {
      throw new TypeError(`raybus amqp: option '${key}' must be a number, got ${typeof value}`);
    }
    const finiteOk = Number.isFinite(value) || (rule.infinite === true && value === Infinity);
    if (!finiteOk || value < rule.min || value > rule.max || (rule.integer && Number.isFinite(value) && !Number.isInteger(value))) {
      throw new RangeError(
        `raybus amqp: option '${key}' must be ${rule.integer ? 'an integer' : 'a number'} in [${rule.min}, ${rule.max}], got ${value}`,
      );
    }
  }
  if (options.connectionName !== undefined && typeof options.connectionName !== 'string') {
    throw new TypeError("raybus amqp: option 'connectionName' must be a string");
  }
  if (options.onWarning !== undefined && typeof options.onWarning !== 'function') {
    throw new TypeError("raybus amqp: option 'onWarning' must be a function");
  }
  if (options.keepAlive !== undefined && typeof options.keepAlive !== 'boolean') {
    throw new TypeError("raybus amqp: option 'keepAlive' must be a boolean");
  }
  if (options.caFile !== undefined && (typeof options.caFile !== 'string' || options.caFile === '')) {
    throw new TypeError("raybus amqp: option 'caFile' must be a file path");
  }
  let ca: Buffer | undefined;
  if (options.caFile !== undefined) {
    try {
      ca = readFileSync(options.caFile);
    } catch (err) {
      throw new RangeError(`raybus amqp: option 'caFile': cannot read ${options.caFile}: ${(err as Error).message}`);
    }
  }
  const initialDelayMs = options.initialDelayMs ?? 100;
  const maxDelayMs = options.maxDelayMs ?? 10_000;
  if (maxDelayMs < initialDelayMs) {
    throw new RangeError(`raybus amqp: option 'maxDelayMs' (${maxDelayMs}) is below 'initialDelayMs' (${initialDelayMs})`);
  }
  return {
    heartbeatSeconds: options.heartbeatSeconds ?? 10,
    maxMessageBytes: options.maxMessageBytes ?? 16 * 1024 * 1024,
    connectAttempts: options.connectAttempts ?? 5,
    reconnectAttempts: options.reconnectAttempts ?? Infinity,
    initialDelayMs,
    maxDelayMs,
    backoffFactor: options.backoffFactor ?? 2,
    jitter: options.jitter ?? 0.2,
    connectTimeoutMs: options.connectTimeoutMs ?? 10_000,
    maxPendingPublishes: options.maxPendingPublishes ?? 10_000,
    connectionName: options.connectionName ?? `raybus:${process.pid}`,
    onWarning: options.onWarning ?? defaultWarning,
    keepAlive: options.keepAlive ?? true,
    ...(ca ? { ca } : {}),
  };
}

/** Delay before retry number `attempt` (1-based): exponential, capped, then jittered. */
export function backoffDelay(options: ResolvedAmqpTransportOptions, attempt: number, random: () => number = Math.random): number {
  const base = Math.min(options.maxDelayMs, options.initialDelayMs * options.backoffFactor ** (attempt - 1));
  const spread = base * options.jitter * (random() * 2 - 1);
  return Math.max(0, Math.min(options.maxDelayMs, base + spread));
}
