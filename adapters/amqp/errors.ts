/**
 * The errors the AMQP transport rejects with. One class with a `code`, so callers can branch
 * without importing amqplib; `instanceof` holds across duplicated module copies.
 */
import { redactAddress } from '../../src/transport/transport';

const MARKER = Symbol.for('raybus.AmqpTransportError');

/** What went wrong, in one word. */
export type AmqpTransportErrorCode =
  /** `connect()` gave up after its bounded attempts. */
  | 'CONNECT_FAILED'
  /** A lost connection could not be re-established within `reconnectAttempts`. */
  | 'RECONNECT_FAILED'
  /** The transport was closed (by `close()` or after giving up). */
  | 'CLOSED'
  /** A payload is larger than `maxMessageBytes`. */
  | 'MESSAGE_TOO_LARGE'
  /** `publish` targeted a queue that does not exist. */
  | 'NO_SUCH_QUEUE'
  /** The broker refused a message (negative publisher confirm). */
  | 'BROKER_REFUSED'
  /** More than `maxPendingPublishes` publishes are waiting (broker blocked or unreachable). */
  | 'PUBLISH_BUFFER_FULL'
  /** A declare clashed with the existing queue's options, or a name is unusable. */
  | 'INVALID_QUEUE';

/** An error raised by the AMQP transport. */
export class AmqpTransportError extends Error {
  override readonly name = 'AmqpTransportError';
  /** True when the same call may succeed later (the broker was unreachable, not misused). */
  readonly retryable: boolean;

  constructor(
    readonly code: AmqpTransportErrorCode,
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

/** A message for an amqplib/broker error without credentials (`amqp://u:***@host`). */
export function describeCause(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}

/** The URL with its password hidden, for messages. */
export function redactUrl(url: string): string {
  return redactAddress(url);
}

/** True for amqplib's "channel/connection is closed or closing" error. */
export function isIllegalOperation(err: unknown): boolean {
  return err instanceof Error && err.name === 'IllegalOperationError';
}

/**
 * Close an amqplib connection or channel and resolve once it is closed, whichever way that
 * happens. Its own close() promise never settles when the connection dies mid-handshake.
 */
export function closeQuietly(target: { close(): Promise<void>; once(event: 'close', listener: () => void): unknown }): Promise<void> {
  return new Promise((resolve) => {
    target.once('close', () => resolve());
    target.close().then(
      () => resolve(),
      () => resolve(),
    );
  });
}
