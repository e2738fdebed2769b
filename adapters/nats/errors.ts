/**
 * The errors the NATS transport rejects with. One class with a `code`, so callers can branch
 * without importing the NATS client; `instanceof` holds across duplicated module copies.
 */

const MARKER = Symbol.for('raybus.NatsTransportError');

/** What went wrong, in one word. */
export type NatsTransportErrorCode =
  /** `connect()` gave up after its bounded attempts, or JetStream is not enabled on the server. */
  | 'CONNECT_FAILED'
  /** A lost connection could not be re-established within `reconnectAttempts`. */
  | 'RECONNECT_FAILED'
  /** The transport was closed (by `close()` or after giving up). */
  | 'CLOSED'
  /** A body is larger than `maxMessageBytes` (or body and headers exceed the server's `max_payload`). */
  | 'MESSAGE_TOO_LARGE'
  /** `publish`/`consume` targeted a queue that does not exist. */
  | 'NO_SUCH_QUEUE'
  /** The server refused a message or a declaration (JetStream API error). */
  | 'BROKER_REFUSED'
  /** No acknowledgement within `publishTimeoutMs` (the message may or may not have been stored). */
  | 'PUBLISH_TIMEOUT'
  /** The queue options ask for something this transport cannot do (single active consumer). */
  | 'UNSUPPORTED'
  /** A declaration clashed with the existing queue's options. */
  | 'INVALID_QUEUE'
  /** A name or header is unusable. */
  | 'INVALID_ARGUMENT';

/** An error raised by the NATS transport. */
export class NatsTransportError extends Error {
  override readonly name = 'NatsTransportError';
  /** True when the same call may succeed later (the server was unreachable, not misused). */
  readonly retryable: boolean;

  constructor(
    readonly code: NatsTransportErrorCode,
    message: string,
    options: { cause?: unknown; retryable?: boolean } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.retryable = options.retryable ?? false;
    Object.defineProperty(this, MARKER, { value: true });
  }

  static override [Symbol.hasInstance](value: unknown): boolean {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[MARKER] === true;
  }
}

export function describeCause(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}

/** The URL(s) with passwords and tokens hidden, for messages. */
export function redactServers(url: string): string {
  return url.replace(/\/\/([^/@:,]*):[^/@,]*@/g, '//$1:***@').replace(/\/\/[^/@:,]+@/g, '//***@');
}

/** JetStream API error code of `err` (`err_code`, e.g. 10059 stream not found), if it has one. */
export function apiErrorCode(err: unknown): number | undefined {
  const e = err as { api_error?: { err_code?: unknown }; code?: unknown } | undefined;
  const code = e?.api_error?.err_code ?? e?.code;
  return typeof code === 'number' ? code : undefined;
}

/** JetStream API error codes the adapter branches on. */
export const JS_ERR = {
  STREAM_NOT_FOUND: 10059,
  CONSUMER_NOT_FOUND: 10014,
  STREAM_NAME_IN_USE: 10058,
  WRONG_LAST_SEQUENCE: 10071,
  SUBJECT_OVERLAP: 10065,
} as const;
