/**
 * The actor registry's tables: every actor record by id (with its lifecycle machine), the
 * names per namespace, and the actors a new leader knows only from held messages (parked)
 * until nodes have reported. Also the list `raybus list actors` shows.
 */
import type { Actor } from 'xstate';
import type { ActorId, ReplyQueue, WorkerId } from '../protocol/ids';
import type { ActorMeta, ActorSpec, ClusterState } from '../protocol/wire';
import type { WireError } from '../serialization/error-codec';
import type { DeadMailboxResponder } from './dead-actor-mailbox';
import type { ActorLifecycleContext, ActorLifecycleEvent, actorLifecycleMachine } from '../actors/actor-lifecycle.machine';
import type { DurableActor, ParkedActor } from './actor-records';
import type { Grant } from './grants';

/**
 * How many dead actors the registry remembers (for the state API and `raybus list actors`),
 * the oldest forgotten first: Ray's `maximum_gcs_destroyed_actor_cached_count`
 * (src/ray/common/ray_config_def.h).
 */
const MAX_DEAD_ACTORS = 100_000;

/** A record's lifecycle: its machine while the actor may still change state, then what it ended as. */
export interface Lifecycle {
  getSnapshot(): { readonly value: string; readonly context: Readonly<ActorLifecycleContext> };
  send(event: ActorLifecycleEvent): void;
  start(): unknown;
  stop(): unknown;
}

/**
 * The lifecycle of a dead actor, in place of its stopped machine: DEAD is final, so events
 * change nothing (as with a machine in its final state). An XState actor, with its system,
 * mailbox and snapshot, costs a registry that has seen 10,000 actors die more than it keeps
 * per live one; this is two small objects.
 */
class DeadLifecycle implements Lifecycle {
  private readonly snapshot: { readonly value: 'DEAD'; readonly context: Readonly<ActorLifecycleContext> };

  constructor(context: Readonly<ActorLifecycleContext>) {
    this.snapshot = { value: 'DEAD', context };
  }

  getSnapshot(): { readonly value: 'DEAD'; readonly context: Readonly<ActorLifecycleContext> } {
    return this.snapshot;
  }

  send(): void {}

  start(): void {}

  stop(): void {}
}

/**
 * What a dead actor's record keeps of its spec: what the state API shows. Its constructor's
 * arguments and its class's code (the source, when shipped by value) go, as Ray's GCS keeps
 * only the table data of a destroyed actor.
 */
function deadSpec(spec: ActorSpec): ActorSpec {
  const { cls } = spec;
  return { ...spec, cls: { id: cls.id, name: cls.name, kind: cls.kind }, args: [] };
}

/** One actor as the registry tracks it. */
export interface ActorRecord extends DurableActor {
  spec: ActorSpec;
  machine: Actor<typeof actorLifecycleMachine> | Lifecycle;
  /** Its lifetime resources on its node (none while it is being placed). */
  grant?: Grant;
  worker?: WorkerId;
  /** Its process (from `actor-ready`). */
  pid?: number;
  /** The error reported with its death, if any. */
  deathError?: WireError;
  /** Answers its mailbox once it is dead. */
  responder?: DeadMailboxResponder;
  /** The name it holds (`namespace\0name`). */
  nameKey?: string;
  /** No handle to it is left (its owner said so): it is being destroyed, never restarted. */
  outOfScope?: boolean;
}

/** A name taken at `.remote()` for an actor whose `create-actor` has not arrived yet. */
export interface NameReservation {
  readonly meta: ActorMeta;
  readonly owner: ReplyQueue;
  readonly nameKey: string;
}

/** The key of an actor's name in its namespace (undefined for an unnamed actor). */
export function nameKeyOf(meta: Pick<ActorMeta, 'name' | 'namespace'>): string | undefined {
  return meta.name !== undefined ? `${meta.namespace}\0${meta.name}` : undefined;
}

/** True once the actor's machine reached DEAD. */
export function isDead(record: ActorRecord): boolean {
  return record.machine.getSnapshot().value === 'DEAD';
}

/** Records, names and parked actors of one registry. */
export class ActorTable {
  readonly records = new Map<ActorId, ActorRecord>();
  readonly names = new Map<string, ActorId>();
  /** Cluster mode: actors known from held messages while a new leader rebuilds its state. */
  readonly parked = new Map<ActorId, ParkedActor>();
  /** Names taken for actors whose creation is on its way (`register-actor`). */
  readonly reserved = new Map<ActorId, NameReservation>();
  /** The dead actors among `records`, in the order they died. */
  private readonly dead = new Set<ActorId>();

  constructor(private readonly maxDead = MAX_DEAD_ACTORS) {}

  /**
   * `record` died: it keeps only its final state and what the state API shows of it, and past
   * `maxDead` dead actors the one that died first is forgotten.
   */
  settleDead(record: ActorRecord): void {
    const machine = record.machine;
    record.machine = new DeadLifecycle(machine.getSnapshot().context);
    machine.stop();
    record.spec = deadSpec(record.spec);
    const id = record.spec.actorId;
    this.dead.delete(id);
    this.dead.add(id);
    for (const oldest of this.dead) {
      if (this.dead.size <= this.maxDead) break;
      this.dead.delete(oldest);
      const forgotten = this.records.get(oldest);
      if (!forgotten || !isDead(forgotten)) continue;
      this.records.delete(oldest);
      // Still answering its mailbox: stop, and delete the mailbox (later calls fail as undeliverable).
      void forgotten.responder?.retire();
    }
  }

  /** A live actor (or one being restored, or on its way) that holds `nameKey`. */
  liveNamed(nameKey: string): { meta: ActorMeta } | undefined {
    const id = this.names.get(nameKey);
    if (!id) return undefined;
    const reservation = this.reserved.get(id);
    if (reservation) return reservation;
    const parked = this.parked.get(id);
    if (parked) return parked.spec;
    const r = this.records.get(id);
    return r && !isDead(r) ? r.spec : undefined;
  }

  /** Give `record` its name unless a live actor holds it. */
  claimName(record: ActorRecord): void {
    const nameKey = nameKeyOf(record.spec.meta);
    if (nameKey === undefined) return;
    const holder = this.names.get(nameKey);
    if (holder === undefined || holder === record.spec.actorId || !this.liveNamed(nameKey)) {
      this.names.set(nameKey, record.spec.actorId);
      record.nameKey = nameKey;
    }
  }

  /** Take `meta`'s name for an actor on its way, unless a live actor holds it. */
  reserve(meta: ActorMeta, owner: ReplyQueue): void {
    const nameKey = nameKeyOf(meta);
    if (nameKey === undefined || this.liveNamed(nameKey) || this.records.has(meta.actorId)) return;
    this.names.set(nameKey, meta.actorId);
    this.reserved.set(meta.actorId, { meta, owner, nameKey });
  }

  /** The reservation of `actor` ends (it was created, or will never be); true if it had one. */
  endReservation(actor: ActorId, keepName = false): boolean {
    const r = this.reserved.get(actor);
    if (!r) return false;
    this.reserved.delete(actor);
    if (!keepName && this.names.get(r.nameKey) === actor) this.names.delete(r.nameKey);
    return true;
  }

  /** `record` is dead: its name is free again. */
  releaseName(record: ActorRecord): void {
    if (record.nameKey && this.names.get(record.nameKey) === record.spec.actorId) this.names.delete(record.nameKey);
  }

  /** Every actor, for `raybus status` / `raybus list actors`. */
  list(): ClusterState['actors'] {
    const out: ClusterState['actors'] = [];
    for (const r of this.records.values()) {
      const snap = r.machine.getSnapshot();
      out.push({
        ...describe(r.spec),
        state: String(snap.value),
        ...(r.grant ? { nodeId: r.grant.node } : {}),
        ...(r.worker ? { workerId: r.worker } : {}),
        restarts: snap.context.numRestarts,
      });
    }
    for (const p of this.parked.values()) out.push({ ...describe(p.spec), state: 'RESTORING', restarts: p.restarts });
    return out;
  }
}

function describe(spec: ActorSpec): Pick<ClusterState['actors'][number], 'actorId' | 'className' | 'name' | 'namespace' | 'owner' | 'detached'> {
  const { meta } = spec;
  return {
    actorId: spec.actorId,
    className: meta.className,
    ...(meta.name !== undefined ? { name: meta.name } : {}),
    namespace: meta.namespace,
    owner: spec.owner,
    detached: spec.detached,
  };
}
