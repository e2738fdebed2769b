/**
 * What this transport offers beyond the Transport port, typed here until the port has it.
 */

/** What a transport can do, so the core (and the conformance suite) can choose. */
export interface TransportCapabilities {
  /** `QueueOptions.singleActiveConsumer` is honoured (false: declaring such a queue is refused). */
  readonly singleActiveConsumer: boolean;
  /**
   * A message given back with `nack(true)`, or left by a consumer that went away, is delivered
   * again before the messages queued behind it. False: it may come later than those.
   */
  readonly requeueAtHead: boolean;
  /** `QueueOptions.expiresMs` deletes unused queues (false: it is ignored). */
  readonly queueExpiry: boolean;
  /** Largest body a publish or broadcast accepts, in bytes. */
  readonly maxMessageBytes: number;
  /** `acquireLease` is available. */
  readonly leases?: boolean;
}

/** A lease held by this process (see `acquireLease`). */
export interface TransportLease {
  /** Unique to this holding (a new one per acquisition), stored as the lease's value. */
  readonly id: string;
  /**
   * Extend the lease by its TTL from now. Resolves false when it was lost (expired, or taken
   * by someone else); rejects when the server could not be asked (then it may still expire).
   */
  renew(): Promise<boolean>;
  /** Give the lease up now, so that another candidate can take it at once. Idempotent. */
  release(): Promise<void>;
}
