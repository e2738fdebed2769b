/**
 * A dead actor's mailbox: the registry consumes it once the actor is dead and answers every
 * call that reaches it, now and later, with the reason of death (`ActorDiedError`, or the
 * error that killed it: a name already taken, a runtime env that failed to set up). The
 * mailbox is deleted after a responder period (a queue with a consumer never expires, and
 * some buses have no expiry at all); calls sent after that fail as undeliverable, which the
 * caller reports as `ActorDiedError`.
 */
import type { ActorId } from '../protocol/ids';
import { actorQueue } from '../protocol/queues';
import type { CallMsg } from '../protocol/messages/mailbox';
import type { ActorSpec } from '../protocol/wire';
import { decodeEnvelope } from '../serialization/serializer';
import { encodeError, type WireError } from '../serialization/error-codec';
import { ActorDiedError } from '../errors/ray-errors';
import type { DeathCause } from '../actors/actor-lifecycle.machine';
import type { Subscription, Transport } from '../transport/transport';
import type { Clock, Timer } from '../util/clock';
import type { Send } from './typed-send';

/** How long a dead actor's mailbox is answered before it is deleted. */
export const DEAD_MAILBOX_RESPONDER_MS = 10 * 60 * 1000;

/** Delete the mailbox after answering it for `afterMs`. */
export interface MailboxCleanup {
  readonly afterMs: number;
  readonly clock: Clock;
  /** Called once the responder ends (retired, or cancelled). */
  readonly onEnd?: () => void;
}

/** A dead mailbox's responder: `cancel` stops answering; `retire` also deletes the mailbox now. */
export interface DeadMailboxResponder extends Subscription {
  retire(): Promise<void>;
}

/** A forged call must not make the registry allocate without bound. */
const MAX_ANSWERED_RETURNS = 10_000;

/** How an actor died, as its lifecycle machine recorded it. */
export interface ActorDeath {
  readonly cause?: DeathCause;
  readonly message?: string;
  /** The error reported with the death (creation task failure, name taken, runtime env). */
  readonly error?: WireError;
}

/** The error every call to a dead actor fails with. */
export function deathError(spec: ActorSpec, death: ActorDeath): WireError {
  const cause = death.error;
  // These say more than "dead": the name was taken, the env failed, it could never be placed.
  if (cause && (death.cause === 'name_taken' || death.cause === 'unschedulable' || cause.rayClass === 'RuntimeEnvSetupError')) return cause;
  const initFailed = death.cause === 'init_failed';
  const { className } = spec.meta;
  const message = initFailed
    ? `The actor ${className} (${spec.actorId}) died because of an error raised in its creation task: ${cause?.cause?.message ?? cause?.message ?? ''}`
    : `The actor ${className} (${spec.actorId}) is dead: ${death.message ?? 'The actor died.'}`;
  // Without the registry's stack: the caller's error gets one where it is raised, in the caller.
  const { stack: _registryStack, ...wire } = encodeError(new ActorDiedError(message, spec.actorId, initFailed));
  return wire;
}

/**
 * Consume the mailbox of dead actor `actor` and answer each call with `err` (malformed
 * messages are dropped). Cancel the subscription to stop; the mailbox is deleted after
 * `cleanup.afterMs`.
 */
async function answerDeadMailbox(
  transport: Pick<Transport, 'assertQueue' | 'consume' | 'deleteQueue'>,
  send: Send,
  actor: ActorId,
  err: WireError,
  cleanup: MailboxCleanup,
): Promise<DeadMailboxResponder> {
  const queue = actorQueue(actor);
  await transport.assertQueue(queue);
  const sub = await transport.consume(
    queue,
    (d) => {
      d.ack();
      try {
        const call = decodeEnvelope(d.body) as CallMsg;
        if (call?.t !== 'call' || typeof call.task !== 'string' || typeof call.owner !== 'string' || typeof call.nret !== 'number') return;
        const n = Number.isInteger(call.nret) ? Math.min(Math.max(1, call.nret), MAX_ANSWERED_RETURNS) : 1;
        const rets = Array.from({ length: n }, () => ({ e: err }));
        send(call.owner, { t: 'result', task: call.task, rets });
      } catch {
        /* malformed: dropped */
      }
    },
    { prefetch: 0 },
  );
  let timer: Timer | undefined;
  let done = false;
  const finish = (): void => {
    cleanup.clock.clear(timer);
    timer = undefined;
    if (!done) cleanup.onEnd?.();
    done = true;
  };
  // The responder period is over (or room is needed): stop answering and delete the mailbox.
  const retire = (): Promise<void> => {
    finish();
    return sub
      .cancel()
      .then(() => transport.deleteQueue(queue))
      .catch(() => undefined);
  };
  timer = cleanup.clock.setTimeout(() => void retire(), cleanup.afterMs);
  return {
    cancel: async () => {
      finish();
      await sub.cancel();
    },
    retire,
  };
}

/**
 * The dead mailboxes a broker answers, at most `max` at once: where each costs the bus a
 * consumer of the broker's connection (RabbitMQ: a channel, `capabilities.maxConsumers`), the
 * oldest is retired early once there are more (its mailbox deleted; later calls fail as
 * undeliverable, which their callers report as `ActorDiedError`).
 */
export class DeadMailboxes {
  /** Open responders in the order they started (oldest first). */
  private readonly open = new Map<ActorId, DeadMailboxResponder>();

  constructor(
    private readonly transport: Pick<Transport, 'assertQueue' | 'consume' | 'deleteQueue'>,
    private readonly send: Send,
    private readonly cleanup: MailboxCleanup,
    private readonly max: number = Number.POSITIVE_INFINITY,
  ) {}

  async answer(actor: ActorId, err: WireError): Promise<DeadMailboxResponder> {
    this.open.get(actor)?.cancel().catch(() => undefined);
    // `onEnd` runs only once the responder has started (on cancel, retire or its timer).
    const responder: DeadMailboxResponder = await answerDeadMailbox(this.transport, this.send, actor, err, {
      ...this.cleanup,
      onEnd: () => {
        if (this.open.get(actor) === responder) this.open.delete(actor);
      },
    });
    this.open.set(actor, responder);
    while (this.open.size > this.max) {
      const [, oldest] = this.open.entries().next().value!;
      void oldest.retire();
    }
    return responder;
  }

  /** Responders answering now. */
  get size(): number {
    return this.open.size;
  }
}
