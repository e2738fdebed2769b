/**
 * The actor registry (Ray's GCS actor manager), living beside the resource broker: one
 * lifecycle machine per actor, names per namespace, placement of actors and their restarts,
 * and the answering of calls to dead actors (it consumes a dead actor's mailbox and fails
 * each call with the reason of death).
 */
import { createActor, type Actor } from 'xstate';
import type { Subscription } from '../transport/transport';
import { decodeEnvelope } from '../serialization/serializer';
import { encodeError, type WireError } from '../serialization/error-codec';
import { ActorDiedError, ActorUnschedulableError, RayActorError } from '../errors/ray-errors';
import { actorQueue, nodeQueue, type ActorSpec, type BrokerMsg, type CallMsg } from '../core/protocol';
import { actorLifecycleMachine, type ActorLifecycleEvent } from './actor-lifecycle.machine';
import type { Grant, ResourceBroker } from '../scheduling/resource-broker';
import { formatResources } from '../scheduling/ledger/resource-set';

interface ActorRecord {
  readonly spec: ActorSpec;
  readonly machine: Actor<typeof actorLifecycleMachine>;
  grant?: Grant;
  worker?: string;
  deathError?: WireError;
  responder?: Subscription;
  nameKey?: string;
}

export class ActorRegistry {
  private readonly actors = new Map<string, ActorRecord>();
  private readonly names = new Map<string, string>();

  constructor(private readonly broker: ResourceBroker) {}

  async stop(): Promise<void> {
    for (const r of this.actors.values()) {
      await r.responder?.cancel().catch(() => undefined);
      r.machine.stop();
    }
  }

  /** Actors by state, for status displays. */
  states(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [id, r] of this.actors) out[id] = String(r.machine.getSnapshot().value);
    return out;
  }

  onMessage(msg: BrokerMsg): void {
    switch (msg.t) {
      case 'create-actor':
        return this.create(msg.spec, msg.req);
      case 'actor-ready': {
        const r = this.actors.get(msg.actor);
        if (!r) return;
        r.worker = msg.worker;
        r.machine.send({ type: 'CREATED' });
        return;
      }
      case 'actor-failed': {
        const r = this.actors.get(msg.actor);
        if (!r) return;
        r.deathError = msg.err;
        if (msg.initFailed) r.machine.send({ type: 'INIT_FAILED', message: msg.err.message });
        else if (msg.intentional) r.machine.send({ type: 'EXITED', message: msg.err.message });
        else r.machine.send({ type: 'CRASHED', message: msg.err.message });
        return;
      }
      case 'kill-actor': {
        const r = this.actors.get(msg.actor);
        let acked = false;
        if (r) {
          // Kill the process now, whatever comes next (restart or death); the node answers the
          // caller once the process is gone and the calls it held are back in the mailbox.
          if (r.grant) {
            this.broker.send(nodeQueue(r.grant.node), { t: 'kill-worker', lease: r.grant.id, reply: msg.reply, req: msg.req });
            this.broker.release(r.grant);
            r.grant = undefined;
            acked = true;
          }
          r.machine.send({ type: 'KILLED', noRestart: msg.noRestart, message: 'The actor was killed by ray.kill().' });
        }
        if (!acked) this.broker.send(msg.reply, { t: 'ack', req: msg.req });
        return;
      }
      case 'get-actor': {
        const id = this.names.get(`${msg.namespace}\0${msg.name}`);
        const r = id ? this.actors.get(id) : undefined;
        if (!r || r.machine.getSnapshot().value === 'DEAD') {
          this.broker.send(msg.reply, {
            t: 'actor-info',
            req: msg.req,
            err: encodeError(new RangeError(`Failed to look up actor with name '${msg.name}' in namespace '${msg.namespace}': no live actor has that name.`)),
          });
          return;
        }
        this.broker.send(msg.reply, { t: 'actor-info', req: msg.req, meta: r.spec.meta });
        return;
      }
      default:
        return;
    }
  }

  /** The worker hosting `actorId` died. */
  onWorkerDied(actorId: string, reason: string, lease?: string): void {
    const r = this.actors.get(actorId);
    if (!r) return;
    // The death of an earlier incarnation (killed on purpose, already replaced) is old news.
    if (lease !== undefined && r.grant?.id !== lease) return;
    r.grant = undefined;
    const state = r.machine.getSnapshot().value;
    if (state === 'DEAD') return;
    r.machine.send({ type: 'CRASHED', message: `The actor is dead because its worker process has died: ${reason}` });
  }

  private create(spec: ActorSpec, req: string): void {
    const nameKey = spec.meta.name !== undefined ? `${spec.meta.namespace}\0${spec.meta.name}` : undefined;
    if (nameKey && spec.getIfExists) {
      const existing = this.names.get(nameKey);
      const er = existing ? this.actors.get(existing) : undefined;
      if (er && er.machine.getSnapshot().value !== 'DEAD') {
        this.broker.send(spec.owner, { t: 'actor-info', req, meta: er.spec.meta });
        return;
      }
    }
    const record: ActorRecord = {
      spec,
      machine: createActor(
        actorLifecycleMachine.provide({
          actions: {
            scheduleCreation: () => queueMicrotask(() => this.place(record, false)),
            scheduleRestart: () => queueMicrotask(() => this.place(record, true)),
            onAlive: () => undefined,
            onDead: () => queueMicrotask(() => this.onDead(record)),
          },
        }),
        { input: { actorId: spec.actorId, maxRestarts: spec.maxRestarts } },
      ),
    };
    this.actors.set(spec.actorId, record);
    if (nameKey) {
      const taken = this.names.get(nameKey);
      const tr = taken ? this.actors.get(taken) : undefined;
      if (tr && tr.machine.getSnapshot().value !== 'DEAD') {
        record.deathError = encodeError(
          new RayActorError(
            `The name ${spec.meta.name} (namespace=${spec.meta.namespace}) is already taken. Please use a different name or get the existing actor using ray.getActor('${spec.meta.name}').`,
            spec.actorId,
          ),
        );
        record.machine.start();
        record.machine.send({ type: 'NAME_TAKEN', message: record.deathError.message });
        if (spec.getIfExists) this.broker.send(spec.owner, { t: 'actor-info', req, meta: spec.meta });
        return;
      }
      this.names.set(nameKey, spec.actorId);
      record.nameKey = nameKey;
    }
    record.machine.start();
    if (spec.getIfExists) this.broker.send(spec.owner, { t: 'actor-info', req, meta: spec.meta });
  }

  /** Reserve the actor's resources and ask the chosen node to start it. */
  private place(record: ActorRecord, restart: boolean): void {
    const { spec } = record;
    const placement = spec.placement;
    this.broker.enqueue({
      id: spec.actorId,
      demand: placement,
      strategy: spec.strategy,
      describe: `actor ${spec.meta.className} (${spec.actorId}) needing ${formatResources(placement)}`,
      actorCreation: true,
      place: (grant) => {
        if (record.machine.getSnapshot().value === 'DEAD') {
          this.broker.release(grant);
          return;
        }
        // Placement may need more than the actor holds for life (1 CPU to place, 0 to run).
        this.broker.release(grant);
        const lifetime = this.broker.reserveLike(grant, spec.lifetime, { actor: spec.actorId }) ?? this.broker.reserveLike(grant, {}, { actor: spec.actorId })!;
        record.grant = lifetime;
        this.broker.send(nodeQueue(grant.node), { t: 'start-actor', lease: lifetime.id, spec, gpuIds: lifetime.gpuIds, restart });
      },
      fail: (reason) => {
        record.deathError = encodeError(new ActorUnschedulableError(reason));
        record.machine.send({ type: 'UNSCHEDULABLE', message: reason });
      },
    });
  }

  private onDead(record: ActorRecord): void {
    const snap = record.machine.getSnapshot();
    if (record.grant) {
      this.broker.send(nodeQueue(record.grant.node), { t: 'kill-worker', lease: record.grant.id });
      this.broker.release(record.grant);
      record.grant = undefined;
    }
    if (record.nameKey && this.names.get(record.nameKey) === record.spec.actorId) this.names.delete(record.nameKey);
    const message = snap.context.deathMessage ?? 'The actor died.';
    const initFailed = snap.context.deathCause === 'init_failed';
    const cause = record.deathError;
    const err: WireError =
      cause && (snap.context.deathCause === 'name_taken' || cause.rayClass === 'RuntimeEnvSetupError')
        ? cause
        : encodeError(
            Object.assign(
              new ActorDiedError(
                initFailed
                  ? `The actor ${record.spec.meta.className} (${record.spec.actorId}) died because of an error raised in its creation task: ${cause?.cause?.message ?? cause?.message ?? ''}`
                  : `The actor ${record.spec.meta.className} (${record.spec.actorId}) is dead: ${message}`,
                record.spec.actorId,
                initFailed,
              ),
              {},
            ),
          );
    // Answer every call that reaches the dead actor's mailbox, now and later.
    const queue = actorQueue(record.spec.actorId);
    void this.broker.transport
      .assertQueue(queue)
      .then(() =>
        this.broker.transport.consume(
          queue,
          (d) => {
            d.ack();
            try {
              const call = decodeEnvelope(d.body) as CallMsg;
              if (call.t !== 'call') return;
              const rets = Array.from({ length: Math.max(1, call.nret) }, () => ({ e: err }));
              this.broker.send(call.owner, { t: 'result', task: call.task, rets });
            } catch {
              /* malformed: dropped */
            }
          },
          { prefetch: 0 },
        ),
      )
      .then((sub) => (record.responder = sub))
      .catch(() => undefined);
  }

  /** Kill (without restart) every actor placed in placement group `pg`. */
  killPlacementGroupActors(pg: string): void {
    for (const r of this.actors.values()) {
      if (r.spec.strategy.kind === 'PLACEMENT_GROUP' && r.spec.strategy.pg === pg) {
        r.machine.send({ type: 'KILLED', noRestart: true, message: `its placement group ${pg} was removed` });
      }
    }
  }

  /** Send an event to an actor's machine (used by kill and tests). */
  send(actorId: string, event: ActorLifecycleEvent): void {
    this.actors.get(actorId)?.machine.send(event);
  }
}
