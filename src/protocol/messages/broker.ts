/**
 * Messages to the resource broker's queue (`raybus.broker`): leases, actors, placement
 * groups, nodes and their workers, drivers (cluster mode), and queries.
 */
import type { ActorId, LeaseId, NodeId, PlacementGroupId, ReplyQueue, RequestId, WorkerId } from '../ids';
import type { RuntimeEnv } from '../runtime-env';
import type { ActorMeta, ActorSpec, NodeLeaseReport, Resources, WireError, WireStrategy } from '../wire';
import type { StateRequestMsg } from './state';

export interface RequestLeaseMsg {
  t: 'request-lease';
  req: RequestId;
  owner: ReplyQueue;
  demand: Resources;
  strategy: WireStrategy;
  desc: string;
  /** The submitter's node, preferred by the DEFAULT strategy. */
  pref?: NodeId;
  /** The runtime env the leased worker must have (absent: the default env). */
  env?: RuntimeEnv;
}
export interface ReturnLeaseMsg {
  t: 'return-lease';
  lease: LeaseId;
}
export interface CancelLeaseRequestMsg {
  t: 'cancel-lease-request';
  req: RequestId;
}
export interface CreateActorMsg {
  t: 'create-actor';
  req: RequestId;
  spec: ActorSpec;
}
export interface KillActorMsg {
  t: 'kill-actor';
  actor: ActorId;
  noRestart: boolean;
  req: RequestId;
  reply: ReplyQueue;
}
export interface GetActorMsg {
  t: 'get-actor';
  req: RequestId;
  reply: ReplyQueue;
  name: string;
  namespace: string;
}
export interface ActorReadyMsg {
  t: 'actor-ready';
  actor: ActorId;
  worker: WorkerId;
  /** The hosting process (shown by the state API). */
  pid?: number;
}
export interface ActorFailedMsg {
  t: 'actor-failed';
  actor: ActorId;
  err: WireError;
  intentional: boolean;
  initFailed: boolean;
}
export interface NodeRegisterMsg {
  t: 'node-register';
  node: NodeId;
  resources: Resources;
  labels: Record<string, string>;
  /** What runs on the node now (re-registration with a new broker leader rebuilds from it). */
  leases?: NodeLeaseReport[];
  /** The node is draining: it takes no new work. */
  draining?: boolean;
}
export interface NodeGoneMsg {
  t: 'node-gone';
  node: NodeId;
}
export interface WorkerDiedMsg {
  t: 'worker-died';
  node: NodeId;
  worker: WorkerId;
  lease?: LeaseId;
  actor?: ActorId;
  reason: string;
}
/**
 * Node → broker: the task on `lease` waits in `get`/`wait` (`blocked`: its CPU is released
 * for other work) or runs again (`blocked: false`: its CPU is taken back, even beyond the
 * node's capacity for a while, so the task goes on at once).
 */
export interface LeaseBlockedMsg {
  t: 'lease-blocked';
  node: NodeId;
  lease: LeaseId;
  blocked: boolean;
}
/**
 * An actor's owner: no handle to the actor is left anywhere (the owner's, borrowers', pending
 * tasks' arguments). A non-detached actor is destroyed once the calls it holds have run; the
 * name it held (or reserved, `register-actor`) is free again.
 */
export interface ActorOutOfScopeMsg {
  t: 'actor-out-of-scope';
  actor: ActorId;
  owner: ReplyQueue;
}
/**
 * Sent at `.remote()` for a named actor whose constructor arguments are still being computed:
 * the name is taken now (so `getActor` finds it at once); `create-actor` follows with the spec.
 */
export interface RegisterActorMsg {
  t: 'register-actor';
  owner: ReplyQueue;
  meta: ActorMeta;
}
export interface ClusterInfoRequestMsg {
  t: 'cluster-info-request';
  req: RequestId;
  reply: ReplyQueue;
}
export interface CreatePgMsg {
  t: 'create-pg';
  owner: ReplyQueue;
  pg: { id: PlacementGroupId; bundles: Resources[]; strategy: string; name: string; detached: boolean };
}
export interface RemovePgMsg {
  t: 'remove-pg';
  pg: PlacementGroupId;
  req: RequestId;
  reply: ReplyQueue;
}
export interface PgTableRequestMsg {
  t: 'pg-table';
  req: RequestId;
  reply: ReplyQueue;
}

// ---- cluster mode (a broker leader elected among the nodes on a message bus) ----

/** A driver announces itself: the broker watches its presence queue from now on. */
export interface OwnerRegisterMsg {
  t: 'owner-register';
  owner: ReplyQueue;
  /** Its presence id (`presenceQueue(id)`). */
  presence: string;
}
/** A driver is shutting down: its non-detached actors die and its leases are released. */
export interface OwnerExitMsg {
  t: 'owner-exit';
  owner: ReplyQueue;
}
/** An owner's leases after a broker election, as `[lease, node]`: leases on dead nodes are lost. */
export interface LeasesHeldMsg {
  t: 'leases-held';
  owner: ReplyQueue;
  leases: Array<[LeaseId, NodeId]>;
}
/** A node stops taking new work (SIGTERM). */
export interface NodeDrainingMsg {
  t: 'node-draining';
  node: NodeId;
}
/** A draining node gives back an idle task lease: the owner is told `lease-lost`. */
export interface LeaseRevokedMsg {
  t: 'lease-revoked';
  node: NodeId;
  lease: LeaseId;
  reason: string;
}
/**
 * The broker leader's durable record of one actor, sent to its own queue and held unacked: a
 * new leader receives every live actor's latest record (version `v`).
 */
export interface ActorRecordMsg {
  t: 'actor-record';
  spec: ActorSpec;
  restarts: number;
  /** The actor was created (it is restarted, not created, when its node died unseen). */
  alive: boolean;
  v: number;
}
/**
 * A node's periodic report (cluster mode): the leases it runs now — the broker answers those it
 * does not know with `kill-worker`, so no worker outlives a lease nobody holds — and how many
 * messages the node process refused since it started.
 */
export interface LeasesReportMsg {
  t: 'leases-report';
  node: NodeId;
  leases: LeaseId[];
  /** Unauthenticated messages refused, by reason. */
  refused?: Record<string, number>;
  /** Malformed messages refused (dead-lettered). */
  malformed?: number;
}
export interface ClusterStateRequestMsg {
  t: 'cluster-state-request';
  req: RequestId;
  reply: ReplyQueue;
}

export type BrokerMsg =
  | RequestLeaseMsg
  | ReturnLeaseMsg
  | CancelLeaseRequestMsg
  | CreateActorMsg
  | KillActorMsg
  | GetActorMsg
  | ActorReadyMsg
  | ActorFailedMsg
  | NodeRegisterMsg
  | NodeGoneMsg
  | WorkerDiedMsg
  | LeaseBlockedMsg
  | ActorOutOfScopeMsg
  | RegisterActorMsg
  | ClusterInfoRequestMsg
  | CreatePgMsg
  | RemovePgMsg
  | PgTableRequestMsg
  | OwnerRegisterMsg
  | OwnerExitMsg
  | LeasesHeldMsg
  | NodeDrainingMsg
  | LeaseRevokedMsg
  | ActorRecordMsg
  | LeasesReportMsg
  | ClusterStateRequestMsg
  | StateRequestMsg;
