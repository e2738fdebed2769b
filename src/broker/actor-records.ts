/**
 * The actor registry's durable state in cluster mode, kept in the broker's own queue: for
 * every live actor the leader holds one message unacknowledged — first the `create-actor`
 * request, later an `actor-record` it sends itself whenever the actor's state changes (alive,
 * restarted). When the leader dies, the bus hands those messages to the next leader, which
 * so learns every live actor's spec, restart count and whether it was ever created. A record
 * is acknowledged (dropped) once a newer one arrives or the actor is dead.
 */
import type { Delivery } from '../transport/transport';
import type { ActorRecordMsg } from '../protocol/messages/broker';
import type { ActorSpec } from '../protocol/wire';

/** The durable side of one actor. */
export interface DurableActor {
  /** The message held for this actor and its version. */
  held?: Delivery;
  version: number;
  /** The actor is dead: nothing is held or saved any more. */
  released?: boolean;
}

/** An actor known only from held messages, while a new leader waits for node reports. */
export interface ParkedActor {
  readonly spec: ActorSpec;
  readonly restarts: number;
  readonly alive: boolean;
  readonly v: number;
  readonly delivery: Delivery;
}

/** Holds one message per live actor in the broker queue and sends newer records to it. */
export class ActorRecordKeeper {
  constructor(private readonly sendToSelf: (msg: ActorRecordMsg) => Promise<void>) {}

  /** Hold delivery `d` (version `v`) for `a`, acknowledging the one it replaces (or `d` if stale). */
  hold(a: DurableActor, d: Delivery, v: number): void {
    if (a.released || v < a.version) {
      d.ack();
      return;
    }
    const previous = a.held;
    a.held = d;
    a.version = v;
    if (previous && previous !== d) previous.ack();
  }

  /** Save the actor's new state: a record sent to the leader's queue, held once it is back. */
  save(a: DurableActor, spec: ActorSpec, restarts: number, alive: boolean): void {
    if (a.released) return;
    const v = a.version + 1;
    a.version = v;
    this.sendToSelf({ t: 'actor-record', spec, restarts, alive, v }).catch(() => undefined);
  }

  /** The actor is dead: drop what is held for it. */
  release(a: DurableActor): void {
    a.released = true;
    const held = a.held;
    a.held = undefined;
    held?.ack();
  }
}

/** Keep the newest of two parked versions of one actor (acknowledging the other). */
export function newerParked(existing: ParkedActor | undefined, next: ParkedActor): ParkedActor {
  if (!existing) return next;
  if (next.v > existing.v) {
    existing.delivery.ack();
    return next;
  }
  next.delivery.ack();
  return existing;
}
