/**
 * The actor registry (Ray's GCS actor manager), living beside the resource broker: one
 * lifecycle machine per actor, names per namespace, placement of actors and their restarts,
 * and the answering of calls to dead actors (it consumes a dead actor's mailbox and fails
 * each call with the reason of death).
 */
import type { ReplyQueue, LeaseId, WorkerId, ActorId, RequestId } from '../protocol/ids';
import { createActor, type Actor } from 'xstate';
import type { Delivery, Subscription } from '../transport/transport';
import { decodeEnvelope, encodeEnvelope } from '../serialization/serializer';
import { encodeError, type WireError } from '../serialization/error-codec';
import { ActorDiedError, ActorUnschedulableError, RayActorError } from '../errors/ray-errors';
import { BROKER_QUEUE, actorQueue, nodeQueue } from '../protocol/queues';
import type { ActorRecordMsg, BrokerMsg, CreateActorMsg } from '../protocol/messages/broker';
import type { ActorSpec, ClusterState } from '../protocol/wire';
import type { CallMsg } from '../protocol/messages/mailbox';
import { ActorRecordKeeper, newerParked, type DurableActor, type ParkedActor } from './actor-records';
import { actorLifecycleMachine, type ActorLifecycleEvent } from '../actors/actor-lifecycle.machine';
import type { Grant, ResourceBroker } from './resource-broker';
import { formatResources } from '../scheduling/ledger/resource-set';

interface ActorRecord extends DurableActor {
  readonly spec: ActorSpec;
  machine: Actor<typeof actorLifecycleMachine>;
  grant?: Grant;
  worker?: WorkerId;
  deathError?: WireError;
  responder?: Subscription;
  nameKey?: string;
}

export class ActorRegistry {
  private readonly actors = new Map<string, ActorRecord>();
  private readonly names = new Map<string, ActorId>();
  /** Cluster mode: actors known from held messages while a new leader rebuilds its state. */
  private readonly parked = new Map<ActorId, ParkedActor>();
  /** Cluster mode: the registry's state, held as messages in the broker's queue. */
  private readonly records?: ActorRecordKeeper;

  constructor(private readonly broker: ResourceBroker) {
    if (broker.clusterMode) this.records = new ActorRecordKeeper((msg) => broker.transport.publish(BROKER_QUEUE, encodeEnvelope(msg)));
  }

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
        const parked = id ? this.parked.get(id) : undefined;
        if (parked) {
          this.broker.send(msg.reply, { t: 'actor-info', req: msg.req, meta: parked.spec.meta });
          return;
        }
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
  onWorkerDied(actorId: ActorId, reason: string, lease?: LeaseId): void {
    const r = this.actors.get(actorId);
    if (!r) return;
    // The death of an earlier incarnation (killed on purpose, already replaced) is old news.
    if (lease !== undefined && r.grant?.id !== lease) return;
    r.grant = undefined;
    const state = r.machine.getSnapshot().value;
    if (state === 'DEAD') return;
    r.machine.send({ type: 'CRASHED', message: `The actor is dead because its worker process has died: ${reason}` });
  }

  private create(spec: ActorSpec, req: RequestId, delivery?: Delivery): void {
    const nameKey = spec.meta.name !== undefined ? `${spec.meta.namespace}\0${spec.meta.name}` : undefined;
    if (nameKey && spec.getIfExists) {
      const existing = this.liveNamed(nameKey);
      if (existing) {
        delivery?.ack();
        this.broker.send(spec.owner, { t: 'actor-info', req, meta: existing.meta });
        return;
      }
    }
    const record = this.newRecord(spec);
    if (delivery) this.records?.hold(record, delivery, 0);
    if (nameKey) {
      if (this.liveNamed(nameKey)) {
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
    this.records?.release(record);
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
  send(actorId: ActorId, event: ActorLifecycleEvent): void {
    this.actors.get(actorId)?.machine.send(event);
  }

  // ------------------------------------------------------------------ cluster mode

  /** A live actor (or one being restored) that holds `nameKey`. */
  private liveNamed(nameKey: string): { meta: ActorSpec['meta'] } | undefined {
    const id = this.names.get(nameKey);
    if (!id) return undefined;
    const parked = this.parked.get(id);
    if (parked) return parked.spec;
    const r = this.actors.get(id);
    return r && r.machine.getSnapshot().value !== 'DEAD' ? r.spec : undefined;
  }

  /** A record with its lifecycle machine (not started); `restored` resumes one in that state. */
  private newRecord(spec: ActorSpec, restored?: { state: 'ALIVE'; numRestarts: number }): ActorRecord {
    const record: ActorRecord = { spec, version: 0 } as ActorRecord;
    const logic = actorLifecycleMachine.provide({
      actions: {
        scheduleCreation: () => queueMicrotask(() => this.place(record, false)),
        scheduleRestart: () =>
          queueMicrotask(() => {
            this.saveRecord(record, true);
            this.place(record, true);
          }),
        onAlive: () => queueMicrotask(() => this.saveRecord(record, true)),
        onDead: () => queueMicrotask(() => this.onDead(record)),
      },
    });
    const input = { actorId: spec.actorId, maxRestarts: spec.maxRestarts };
    record.machine = restored
      ? createActor(logic, {
          input,
          snapshot: logic.resolveState({ value: restored.state, context: { ...input, numRestarts: restored.numRestarts } }),
        })
      : createActor(logic, { input });
    this.actors.set(spec.actorId, record);
    return record;
  }

  private saveRecord(record: ActorRecord, alive: boolean): void {
    const snap = record.machine.getSnapshot();
    if (snap.value === 'DEAD') return;
    this.records?.save(record, record.spec, snap.context.numRestarts, alive);
  }

  /**
   * Cluster mode: a `create-actor` or `actor-record` message, which the registry holds
   * unacknowledged for as long as the actor lives (see actor-records.ts).
   */
  onDurable(msg: CreateActorMsg | ActorRecordMsg, d: Delivery, restoring: boolean): void {
    const keeper = this.records;
    if (!keeper) {
      d.ack();
      if (msg.t === 'create-actor') this.create(msg.spec, msg.req);
      return;
    }
    const id = msg.spec.actorId;
    const v = msg.t === 'create-actor' ? 0 : msg.v;
    const known = this.actors.get(id);
    if (known) {
      keeper.hold(known, d, v);
      return;
    }
    const fresh = msg.t === 'create-actor' && !d.redelivered;
    if (fresh && !this.parked.has(id)) return this.create(msg.spec, msg.req, d);
    // Held by a leader that is gone: wait for the nodes' reports before deciding.
    const parked = newerParked(this.parked.get(id), {
      spec: msg.spec,
      restarts: msg.t === 'actor-record' ? msg.restarts : 0,
      alive: msg.t === 'actor-record' ? msg.alive : false,
      v,
      delivery: d,
    });
    this.parked.set(id, parked);
    const nameKey = msg.spec.meta.name !== undefined ? `${msg.spec.meta.namespace}\0${msg.spec.meta.name}` : undefined;
    if (nameKey && !this.liveNamed(nameKey)) this.names.set(nameKey, id);
    if (!restoring) this.restoreParked(id);
  }

  /** A node reports that it hosts this actor (after a broker election): it is alive there. */
  restoreReported(spec: ActorSpec, grant: Grant, worker: WorkerId): void {
    const known = this.actors.get(spec.actorId);
    if (known && known.machine.getSnapshot().value !== 'DEAD') {
      if (known.grant && known.grant.id !== grant.id) {
        // Restarted elsewhere meanwhile: this incarnation is a leftover.
        this.broker.send(nodeQueue(grant.node), { t: 'kill-worker', lease: grant.id });
        this.broker.release(grant);
        return;
      }
      known.grant = grant;
      known.worker = worker;
      return;
    }
    if (known) {
      this.broker.send(nodeQueue(grant.node), { t: 'kill-worker', lease: grant.id });
      this.broker.release(grant);
      return;
    }
    const parked = this.parked.get(spec.actorId);
    this.parked.delete(spec.actorId);
    const record = this.newRecord(parked?.spec ?? spec, { state: 'ALIVE', numRestarts: parked?.restarts ?? 0 });
    record.grant = grant;
    record.worker = worker;
    if (parked) this.records?.hold(record, parked.delivery, parked.v);
    this.claimName(record);
    record.machine.start();
    if (!spec.detached) this.broker.watchOwner(spec.owner);
  }

  /** The new leader's wait for node reports is over: actors nobody reported are restarted (or created). */
  endRestore(): void {
    for (const id of [...this.parked.keys()]) this.restoreParked(id);
  }

  private restoreParked(id: ActorId): void {
    const p = this.parked.get(id);
    if (!p) return;
    this.parked.delete(id);
    if (!p.spec.detached) this.broker.watchOwner(p.spec.owner);
    if (!p.alive) {
      // It was never created (or was being restarted): place it now.
      const record = this.newRecord(p.spec);
      this.records?.hold(record, p.delivery, p.v);
      this.claimName(record);
      record.machine.start();
      return;
    }
    // It was alive on a node that is gone now (it died with the previous leader).
    const record = this.newRecord(p.spec, { state: 'ALIVE', numRestarts: p.restarts });
    this.records?.hold(record, p.delivery, p.v);
    this.claimName(record);
    record.machine.start();
    record.machine.send({ type: 'CRASHED', message: 'The actor died because its node died together with the previous broker leader.' });
  }

  private claimName(record: ActorRecord): void {
    const { meta } = record.spec;
    if (meta.name === undefined) return;
    const nameKey = `${meta.namespace}\0${meta.name}`;
    const holder = this.names.get(nameKey);
    if (holder === undefined || holder === record.spec.actorId || !this.liveNamed(nameKey)) {
      this.names.set(nameKey, record.spec.actorId);
      record.nameKey = nameKey;
    }
  }

  /** Owners matching `match` died or left: their non-detached actors die with them (Ray's fate sharing). */
  onOwnersDied(match: (owner: ReplyQueue) => boolean, message: string): void {
    for (const r of this.actors.values()) {
      if (r.spec.detached || !match(r.spec.owner)) continue;
      if (r.machine.getSnapshot().value === 'DEAD') continue;
      r.machine.send({ type: 'OWNER_DIED', message });
    }
  }

  /** Does a live non-detached actor belong to `owner`? */
  ownsActors(owner: ReplyQueue): boolean {
    for (const r of this.actors.values()) {
      if (r.spec.owner === owner && !r.spec.detached && r.machine.getSnapshot().value !== 'DEAD') return true;
    }
    return false;
  }

  /** Every actor, for `raybus status` / `raybus list actors`. */
  list(): ClusterState['actors'] {
    const out: ClusterState['actors'] = [];
    for (const r of this.actors.values()) {
      const snap = r.machine.getSnapshot();
      const { meta } = r.spec;
      out.push({
        actorId: r.spec.actorId,
        className: meta.className,
        ...(meta.name !== undefined ? { name: meta.name } : {}),
        namespace: meta.namespace,
        state: String(snap.value),
        ...(r.grant ? { nodeId: r.grant.node } : {}),
        ...(r.worker ? { workerId: r.worker } : {}),
        owner: r.spec.owner,
        detached: r.spec.detached,
        restarts: snap.context.numRestarts,
      });
    }
    for (const p of this.parked.values()) {
      out.push({
        actorId: p.spec.actorId,
        className: p.spec.meta.className,
        ...(p.spec.meta.name !== undefined ? { name: p.spec.meta.name } : {}),
        namespace: p.spec.meta.namespace,
        state: 'RESTORING',
        owner: p.spec.owner,
        detached: p.spec.detached,
        restarts: p.restarts,
      });
    }
    return out;
  }
}
