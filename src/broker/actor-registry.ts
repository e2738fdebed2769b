/**
 * The actor registry (Ray's GCS actor manager): one lifecycle machine per actor
 * (src/actors/actor-lifecycle.machine.ts), names per namespace, placement of actors and their
 * restarts, the answering of calls to dead actors, and — in cluster mode — the restore of
 * every live actor after a broker election, from the records held in the broker queue and
 * the nodes' reports. It reaches the rest of the broker only through {@link ActorRegistryDeps}.
 */
import { createActor } from 'xstate';
import type { ReplyQueue, LeaseId, WorkerId, ActorId, RequestId, TaskId } from '../protocol/ids';
import type { Delivery } from '../transport/transport';
import { encodeError } from '../serialization/error-codec';
import { ActorUnschedulableError, RayActorError } from '../errors/ray-errors';
import { actorQueue, nodeQueue } from '../protocol/queues';
import type { ActorRecordMsg, BrokerMsg, CreateActorMsg } from '../protocol/messages/broker';
import type { ActorSpec, ClusterState } from '../protocol/wire';
import { formatResources } from '../scheduling/ledger/resource-set';
import { actorLifecycleMachine } from '../actors/actor-lifecycle.machine';
import { newerParked } from './actor-records';
import type { ActorRegistryDeps } from './actor-registry-deps';
import { ActorTable, isDead, nameKeyOf, type ActorRecord } from './actor-table';
import { deathError } from './dead-actor-mailbox';
import type { Grant } from './grants';

/** How an actor whose handles are all gone dies (Ray's wording). */
const OUT_OF_SCOPE = 'The actor is dead because all references to the actor were removed.';

/** Actors by id and by name, their lifecycle machines, and their restore after an election. */
export class ActorRegistry {
  private readonly table: ActorTable;
  private stopped = false;

  constructor(private readonly deps: ActorRegistryDeps) {
    this.table = new ActorTable(deps.maxDeadActors);
  }

  /** Stop answering dead mailboxes and stop every lifecycle machine. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const r of this.table.records.values()) {
      await r.responder?.cancel().catch(() => undefined);
      r.machine.stop();
    }
  }

  /** Every actor, for `raybus status`. */
  list(): ClusterState['actors'] {
    return this.table.list();
  }

  /** The tables, read by the state API's views (state-views.ts). */
  get view(): ActorTable {
    return this.table;
  }

  /** A message of the broker queue that concerns actors (others are ignored). */
  onMessage(msg: BrokerMsg): void {
    switch (msg.t) {
      case 'create-actor':
        return this.create(msg.spec, msg.req);
      case 'register-actor':
        this.table.reserve(msg.meta, msg.owner);
        return;
      case 'actor-out-of-scope':
        return this.outOfScope(msg.actor, msg.owner);
      case 'actor-ready': {
        const r = this.table.records.get(msg.actor);
        if (!r) return;
        r.worker = msg.worker;
        r.pid = msg.pid;
        r.machine.send({ type: 'CREATED' });
        return;
      }
      case 'actor-failed': {
        const r = this.table.records.get(msg.actor);
        if (!r) return;
        r.deathError = msg.err;
        if (msg.initFailed) r.machine.send({ type: 'INIT_FAILED', message: msg.err.message });
        else if (msg.intentional) r.machine.send({ type: 'EXITED', message: r.outOfScope ? OUT_OF_SCOPE : msg.err.message });
        else if (r.outOfScope) r.machine.send({ type: 'KILLED', noRestart: true, message: OUT_OF_SCOPE });
        else r.machine.send({ type: 'CRASHED', message: msg.err.message });
        return;
      }
      case 'kill-actor': {
        const r = this.table.records.get(msg.actor);
        let acked = false;
        if (r) {
          // Kill the process now, whatever comes next (restart or death); the node answers the
          // caller once the process is gone and the calls it held are back in the mailbox.
          if (r.grant) {
            this.deps.send(nodeQueue(r.grant.node), { t: 'kill-worker', lease: r.grant.id, reply: msg.reply, req: msg.req });
            this.deps.release(r.grant);
            r.grant = undefined;
            acked = true;
          }
          r.machine.send({ type: 'KILLED', noRestart: msg.noRestart, message: 'The actor was killed by ray.kill().' });
        }
        if (!acked) this.deps.send(msg.reply, { t: 'ack', req: msg.req });
        return;
      }
      case 'get-actor': {
        const live = this.table.liveNamed(`${msg.namespace}\0${msg.name}`);
        if (!live) {
          this.deps.send(msg.reply, {
            t: 'actor-info',
            req: msg.req,
            err: encodeError(new RangeError(`Failed to look up actor with name '${msg.name}' in namespace '${msg.namespace}': no live actor has that name.`)),
          });
          return;
        }
        this.deps.send(msg.reply, { t: 'actor-info', req: msg.req, meta: live.meta });
        return;
      }
      default:
        return;
    }
  }

  /** The worker hosting `actorId` died (`lease`: the incarnation it hosted, if known). */
  onWorkerDied(actorId: ActorId, reason: string, lease?: LeaseId): void {
    const r = this.table.records.get(actorId);
    if (!r) return;
    // The death of an earlier incarnation (killed on purpose, already replaced) is old news.
    if (lease !== undefined && r.grant?.id !== lease) return;
    r.grant = undefined;
    if (isDead(r)) return;
    // Out of scope: it was on its way out; it is not restarted.
    if (r.outOfScope) r.machine.send({ type: 'KILLED', noRestart: true, message: OUT_OF_SCOPE });
    else r.machine.send({ type: 'CRASHED', message: `The actor is dead because its worker process has died: ${reason}` });
  }

  /**
   * No handle to `actorId` is left anywhere (Ray's ReportActorOutOfScope → DestroyActor
   * without force): a live actor runs the calls it holds, then `__ray_terminate__`, queued
   * last in its mailbox; one not running yet dies now. Never restarted; its name is free.
   * Detached actors are not reference counted. Only the owner may say so.
   */
  private outOfScope(actorId: ActorId, owner: ReplyQueue): void {
    const reservation = this.table.reserved.get(actorId);
    if (reservation) {
      // Created never (its constructor arguments failed), or not yet: the name is free again.
      if (reservation.owner === owner) this.table.endReservation(actorId);
      return;
    }
    const r = this.table.records.get(actorId);
    if (!r || r.spec.owner !== owner || r.spec.detached || r.outOfScope || isDead(r)) return;
    r.outOfScope = true;
    if (r.machine.getSnapshot().value === 'ALIVE') {
      const { spec } = r;
      this.deps.send(actorQueue(actorId), {
        t: 'call',
        task: `${actorId}00ff` as TaskId,
        method: '__ray_terminate__',
        args: [],
        nret: 1,
        owner: spec.owner,
        ctx: { jobId: spec.ctx.jobId, namespace: spec.ctx.namespace, attempt: 0 },
        retries: 0,
      });
      return;
    }
    if (r.grant) {
      this.deps.send(nodeQueue(r.grant.node), { t: 'kill-worker', lease: r.grant.id });
      this.deps.release(r.grant);
      r.grant = undefined;
    }
    r.machine.send({ type: 'KILLED', noRestart: true, message: OUT_OF_SCOPE });
  }

  /** Kill (without restart) every actor placed in placement group `pg`. */
  killPlacementGroupActors(pg: string): void {
    for (const r of this.table.records.values()) {
      if (r.spec.strategy.kind === 'PLACEMENT_GROUP' && r.spec.strategy.pg === pg) {
        r.machine.send({ type: 'KILLED', noRestart: true, message: `its placement group ${pg} was removed` });
      }
    }
  }

  /** Owners matching `match` died or left: their non-detached actors die with them (Ray's fate sharing). */
  onOwnersDied(match: (owner: ReplyQueue) => boolean, message: string): void {
    for (const [id, reservation] of [...this.table.reserved]) if (match(reservation.owner)) this.table.endReservation(id);
    for (const r of this.table.records.values()) {
      if (r.spec.detached || !match(r.spec.owner) || isDead(r)) continue;
      r.machine.send({ type: 'OWNER_DIED', message });
    }
  }

  private create(spec: ActorSpec, req: RequestId, delivery?: Delivery): void {
    const nameKey = nameKeyOf(spec.meta);
    const answer = (meta: ActorSpec['meta']): void => this.deps.send(spec.owner, { t: 'actor-info', req, meta });
    if (nameKey && spec.getIfExists) {
      const existing = this.table.liveNamed(nameKey);
      if (existing) {
        delivery?.ack();
        answer(existing.meta);
        return;
      }
    }
    // The name may have been taken for this very actor at `.remote()` (register-actor).
    const reservedHere = this.table.endReservation(spec.actorId, true);
    const record = this.newRecord(spec);
    if (delivery) this.deps.records?.hold(record, delivery, 0);
    if (nameKey && !(reservedHere && this.table.names.get(nameKey) === spec.actorId) && this.table.liveNamed(nameKey)) {
      const taken = `The name ${spec.meta.name} (namespace=${spec.meta.namespace}) is already taken. Please use a different name or get the existing actor using ray.getActor('${spec.meta.name}').`;
      record.deathError = encodeError(new RayActorError(taken, spec.actorId));
      record.machine.start();
      record.machine.send({ type: 'NAME_TAKEN', message: record.deathError.message });
    } else {
      if (nameKey) {
        this.table.names.set(nameKey, spec.actorId);
        record.nameKey = nameKey;
      }
      record.machine.start();
    }
    if (spec.getIfExists) answer(spec.meta);
  }

  /** Reserve the actor's resources and ask the chosen node to start it. */
  private place(record: ActorRecord, restart: boolean): void {
    const { spec } = record;
    const placement = spec.placement;
    this.deps.enqueue({
      id: spec.actorId,
      demand: placement,
      strategy: spec.strategy,
      describe: `actor ${spec.meta.className} (${spec.actorId}) needing ${formatResources(placement)}`,
      actorCreation: true,
      notify: spec.owner,
      place: (grant) => {
        // Placement may need more than the actor holds for life (1 CPU to place, 0 to run).
        this.deps.release(grant);
        if (isDead(record)) return;
        const lifetime = this.deps.reserveLike(grant, spec.lifetime, { actor: spec.actorId }) ?? this.deps.reserveLike(grant, {}, { actor: spec.actorId })!;
        record.grant = lifetime;
        this.deps.send(nodeQueue(grant.node), { t: 'start-actor', lease: lifetime.id, spec, gpuIds: lifetime.gpuIds, restart });
      },
      fail: (reason) => {
        record.deathError = encodeError(new ActorUnschedulableError(reason));
        record.machine.send({ type: 'UNSCHEDULABLE', message: reason });
      },
    });
  }

  private onDead(record: ActorRecord): void {
    this.deps.records?.release(record);
    const snap = record.machine.getSnapshot();
    if (record.grant) {
      this.deps.send(nodeQueue(record.grant.node), { t: 'kill-worker', lease: record.grant.id });
      this.deps.release(record.grant);
      record.grant = undefined;
    }
    this.table.releaseName(record);
    const { deathCause, deathMessage } = snap.context;
    const err = deathError(record.spec, { ...(deathCause ? { cause: deathCause } : {}), ...(deathMessage ? { message: deathMessage } : {}), ...(record.deathError ? { error: record.deathError } : {}) });
    this.table.settleDead(record);
    // Answer every call that reaches the dead actor's mailbox, now and later.
    this.deps
      .answerDeadMailbox(record.spec.actorId, err)
      .then((sub) => {
        if (this.stopped) void sub.cancel().catch(() => undefined);
        else record.responder = sub;
      })
      .catch(() => undefined);
  }

  /**
   * The lifecycle machine with the registry's effects, made once (one per actor cost ~10 KB of
   * machine definition each with 10,000 actors): each effect finds its record by the actor id
   * in the machine's context, and only acts for the machine that record holds.
   */
  private readonly lifecycle = actorLifecycleMachine.provide({
    actions: {
      scheduleCreation: (args) => this.withRecord(args, (record) => this.place(record, false)),
      scheduleRestart: (args) =>
        this.withRecord(args, (record) => {
          this.saveRecord(record);
          this.place(record, true);
        }),
      onAlive: (args) => this.withRecord(args, (record) => this.saveRecord(record)),
      onDead: (args) => this.withRecord(args, (record) => this.onDead(record)),
    },
  });

  /** Run `effect` on the record whose machine this is, after the transition. */
  private withRecord({ context, self }: { context: { actorId: string }; self: unknown }, effect: (record: ActorRecord) => void): void {
    queueMicrotask(() => {
      const record = this.table.records.get(context.actorId as ActorId);
      if (record && record.machine === self) effect(record);
    });
  }

  /** A record with its lifecycle machine (not started); `restored` resumes one in that state. */
  private newRecord(spec: ActorSpec, restored?: { state: 'ALIVE'; numRestarts: number }): ActorRecord {
    const record: ActorRecord = { spec, version: 0 } as ActorRecord;
    const logic = this.lifecycle;
    const input = { actorId: spec.actorId, maxRestarts: spec.maxRestarts };
    record.machine = restored
      ? createActor(logic, { input, snapshot: logic.resolveState({ value: restored.state, context: { ...input, numRestarts: restored.numRestarts } }) })
      : createActor(logic, { input });
    this.table.records.set(spec.actorId, record);
    return record;
  }

  /** Cluster mode: the actor was created (alive or restarting): a new leader restarts rather than creates it. */
  private saveRecord(record: ActorRecord): void {
    if (isDead(record)) return;
    this.deps.records?.save(record, record.spec, record.machine.getSnapshot().context.numRestarts, true);
  }

  // ------------------------------------------------------------------ cluster mode: restore

  /**
   * Cluster mode: a `create-actor` or `actor-record` message, which the registry holds
   * unacknowledged for as long as the actor lives (see actor-records.ts). `restoring`: a new
   * leader still waits for node reports, so actors known only from records wait too.
   */
  onDurable(msg: CreateActorMsg | ActorRecordMsg, d: Delivery, restoring: boolean): void {
    const keeper = this.deps.records;
    if (!keeper) {
      d.ack();
      if (msg.t === 'create-actor') this.create(msg.spec, msg.req);
      return;
    }
    const id = msg.spec.actorId;
    const v = msg.t === 'create-actor' ? 0 : msg.v;
    const known = this.table.records.get(id);
    if (known) {
      keeper.hold(known, d, v);
      return;
    }
    const { parked } = this.table;
    const fresh = msg.t === 'create-actor' && !d.redelivered;
    if (fresh && !parked.has(id)) return this.create(msg.spec, msg.req, d);
    // Held by a leader that is gone: wait for the nodes' reports before deciding.
    const record = msg.t === 'actor-record' ? { restarts: msg.restarts, alive: msg.alive } : { restarts: 0, alive: false };
    parked.set(id, newerParked(parked.get(id), { spec: msg.spec, ...record, v, delivery: d }));
    const nameKey = nameKeyOf(msg.spec.meta);
    if (nameKey && !this.table.liveNamed(nameKey)) this.table.names.set(nameKey, id);
    if (!restoring) this.restoreParked(id);
  }

  /** A node reports that it hosts this actor (after a broker election): it is alive there. */
  restoreReported(spec: ActorSpec, grant: Grant, worker: WorkerId): void {
    const known = this.table.records.get(spec.actorId);
    if (known) {
      // Dead meanwhile, or restarted elsewhere: this incarnation is a leftover.
      if (isDead(known) || (known.grant && known.grant.id !== grant.id)) {
        this.deps.send(nodeQueue(grant.node), { t: 'kill-worker', lease: grant.id });
        this.deps.release(grant);
        return;
      }
      known.grant = grant;
      known.worker = worker;
      return;
    }
    const parked = this.table.parked.get(spec.actorId);
    this.table.parked.delete(spec.actorId);
    const record = this.newRecord(parked?.spec ?? spec, { state: 'ALIVE', numRestarts: parked?.restarts ?? 0 });
    record.grant = grant;
    record.worker = worker;
    if (parked) this.deps.records?.hold(record, parked.delivery, parked.v);
    this.table.claimName(record);
    record.machine.start();
    if (!spec.detached) this.deps.watchOwner(spec.owner);
  }

  /** The new leader's wait for node reports is over: actors nobody reported are restarted (or created). */
  endRestore(): void {
    for (const id of [...this.table.parked.keys()]) this.restoreParked(id);
  }

  private restoreParked(id: ActorId): void {
    const p = this.table.parked.get(id);
    if (!p) return;
    this.table.parked.delete(id);
    if (!p.spec.detached) this.deps.watchOwner(p.spec.owner);
    // Never created (or being restarted): placed now. Alive: it died with the previous leader's node.
    const record = p.alive ? this.newRecord(p.spec, { state: 'ALIVE', numRestarts: p.restarts }) : this.newRecord(p.spec);
    this.deps.records?.hold(record, p.delivery, p.v);
    this.table.claimName(record);
    record.machine.start();
    if (p.alive) record.machine.send({ type: 'CRASHED', message: 'The actor died because its node died together with the previous broker leader.' });
  }
}
