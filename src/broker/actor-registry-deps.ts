/**
 * What the actor registry needs from the rest of the broker, and nothing more: queue an
 * actor's placement, reserve its lifetime resources where it was placed, release them, send
 * to nodes and owners, watch an owner's liveness, answer a dead actor's mailbox, and (in
 * cluster mode) keep its records durable. The broker server builds it from its parts.
 */
import type { ActorId, ReplyQueue } from '../protocol/ids';
import type { Resources } from '../protocol/wire';
import type { WireError } from '../serialization/error-codec';
import type { DeadMailboxResponder } from './dead-actor-mailbox';
import type { ActorRecordKeeper } from './actor-records';
import type { Grant, PendingPlacement } from './grants';
import type { Send } from './typed-send';

/** The registry's view of the broker. */
export interface ActorRegistryDeps {
  /** Queue a placement; `place` is called with a grant once it fits. */
  enqueue(p: PendingPlacement): void;
  /** Give back a grant's resources (a no-op when already released). */
  release(g: Grant): void;
  /** Reserve `demand` where `target` was placed (same node, same bundle); null when it does not fit. */
  reserveLike(target: Grant, demand: Resources, extra?: Partial<Grant>): Grant | null;
  readonly send: Send;
  /** Watch an owner's liveness (cluster mode), so that its non-detached actors die with it. */
  watchOwner(owner: ReplyQueue): void;
  /** Answer every call that reaches dead actor `actor`'s mailbox with `err`. */
  answerDeadMailbox(actor: ActorId, err: WireError): Promise<DeadMailboxResponder>;
  /** Dead actors remembered, the oldest forgotten first (default MAX_DEAD_ACTORS, as Ray's GCS). */
  readonly maxDeadActors?: number;
  /** Cluster mode: the registry's state, held as messages in the broker's queue. */
  readonly records?: ActorRecordKeeper;
}
