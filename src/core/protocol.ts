/**
 * Wire envelopes between raybus processes. Every message is a msgpack map with a `t` tag.
 * Queue names: `raybus.reply.<procId>` (a process's inbox: results, object requests, lease
 * grants), `raybus.worker.<workerId>` (tasks pushed on a lease), `raybus.actor.<actorId>` (an
 * actor's mailbox), `raybus.node.<nodeId>` (node control), `raybus.broker` (the resource
 * broker and actor registry, a singleton).
 */
import type { CodeDescriptor } from '../serialization/code-shipping';
import type { WireError } from '../serialization/error-codec';

export const BROKER_QUEUE = 'raybus.broker';
export const EVENTS_TOPIC = 'raybus.events';
/** Broadcast when a process that owns objects is gone: `{ owner }` (its reply queue). */
export const OWNER_DIED_TOPIC = 'raybus.owner-died';
/** Broadcast when an actor call is cancelled: `{ task }`. */
export const CANCEL_TOPIC = 'raybus.cancel';
export const replyQueue = (procId: string): string => `raybus.reply.${procId}`;
export const workerQueue = (workerId: string): string => `raybus.worker.${workerId}`;
export const actorQueue = (actorId: string): string => `raybus.actor.${actorId}`;
export const nodeQueue = (nodeId: string): string => `raybus.node.${nodeId}`;

/** Resources by name, in user units. */
export type Resources = Record<string, number>;


/** One return slot: encoded value bytes (with the refs inside it as [id, owner]), or an error. */
export type WireOutcome = { d: Uint8Array; r?: Array<[string, string]> } | { e: WireError };

/** Static facts about an actor class that handles need. */
export interface ActorMeta {
  readonly actorId: string;
  readonly className: string;
  readonly methods: Record<string, MethodMeta>;
  readonly isAsync: boolean;
  readonly maxTaskRetries: number;
  readonly maxPendingCalls: number;
  readonly namespace: string;
  readonly name?: string;
}

export interface MethodMeta {
  readonly numReturns?: number | 'dynamic' | 'streaming';
  readonly maxTaskRetries?: number;
  readonly retryExceptions?: boolean | string[];
  readonly isGenerator?: boolean;
  readonly backpressure?: number;
}

/** Per-task facts carried to the runtime context. */
export interface TaskContextInfo {
  readonly jobId: string;
  readonly namespace: string;
  readonly attempt: number;
  readonly metadata?: Record<string, unknown>;
  /** The effective runtime env (resolved, canonical); absent for the default env. */
  readonly env?: import('../api/options/runtime-env').RuntimeEnv;
  /** The resources reserved for this task (getRuntimeContext().getAssignedResources()). */
  readonly res?: Resources;
}

// ---- to a process's reply queue ----
export interface ResultMsg {
  t: 'result';
  task: string;
  rets: WireOutcome[];
  /** Generator tasks: how many stream items were sent before this result. */
  n?: number;
  /** The worker reached the task's maxCalls and exits: send it nothing more. */
  retire?: boolean;
  /** Normal tasks: how long the call ran, in µs (the owner sizes its pipelining by it). */
  us?: number;
}
/**
 * Worker → owner: tasks pushed on a lease that the worker will not start soon (the one it
 * runs is waiting), in push order; the owner queues them again. They never started.
 */
export interface TasksReturnedMsg {
  t: 'tasks-returned';
  lease: string;
  tasks: string[];
}
/** One value yielded by a generator task (item `seq`, from 0), sent to the owner. */
export interface StreamItemMsg {
  t: 'stream-item';
  task: string;
  seq: number;
  out: WireOutcome;
  /** The producer's reply queue, for acks, release and cancel. */
  from: string;
}
/** Owner → producer: consumption progress, release, or cancel of a stream. */
export interface StreamControlMsg {
  t: 'stream-ack' | 'stream-release' | 'stream-cancel';
  task: string;
  consumed?: number;
}
/** Owner → worker running a task: cancel it (its AbortSignal fires). */
export interface CancelTaskMsg {
  t: 'cancel-task';
  task: string;
  /** Also cancel the tasks it submitted (default true). */
  recursive?: boolean;
}

/** `nret` values for generator tasks. */
export const NRET_STREAMING = -1;
export const NRET_DYNAMIC = -2;
export interface LeaseGrantedMsg {
  t: 'lease-granted';
  req: string;
  lease: string;
  worker: string;
  node: string;
}
export interface LeaseFailedMsg {
  t: 'lease-failed';
  req: string;
  err: WireError;
}
export interface LeaseLostMsg {
  t: 'lease-lost';
  lease: string;
  reason: string;
  /** Do not retry the tasks (their placement group was removed). */
  fatal?: boolean;
}
export interface PgReadyMsg {
  t: 'pg-ready';
  pg: string;
}
export interface PgTableReplyMsg {
  t: 'pg-table-reply';
  req: string;
  table: Record<string, PlacementGroupInfo>;
}
export interface GetObjectMsg {
  t: 'get-object';
  id: string;
  reply: string;
}
export interface ObjectMsg {
  t: 'object';
  id: string;
  out: WireOutcome;
}
export interface BorrowMsg {
  t: 'borrow';
  id: string;
  n: number;
}
export interface ActorInfoMsg {
  t: 'actor-info';
  req: string;
  meta?: ActorMeta;
  err?: WireError;
}
export interface ClusterInfoMsg {
  t: 'cluster-info';
  req: string;
  info: ClusterInfo;
}
export interface AckMsg {
  t: 'ack';
  req: string;
  err?: WireError;
}
export type ReplyMsg =
  | ResultMsg
  | LeaseGrantedMsg
  | LeaseFailedMsg
  | LeaseLostMsg
  | GetObjectMsg
  | ObjectMsg
  | BorrowMsg
  | ActorInfoMsg
  | ClusterInfoMsg
  | AckMsg
  | PgReadyMsg
  | PgTableReplyMsg
  | StreamItemMsg
  | StreamControlMsg
  | CancelTaskMsg
  | TasksReturnedMsg;

/** A placement group as `placementGroupTable()` shows it. */
export interface PlacementGroupInfo {
  placementGroupId: string;
  name: string;
  strategy: string;
  state: 'PENDING' | 'CREATED' | 'REMOVED';
  bundles: Record<number, Resources>;
  bundlesToNodeId: Record<number, string>;
}

export interface ClusterInfo {
  nodes: Array<{ nodeId: string; alive: boolean; resources: Resources; labels: Record<string, string> }>;
  total: Resources;
  available: Resources;
}

// ---- to a worker's queue (lease) ----
export interface TaskMsg {
  t: 'task';
  task: string;
  fn: CodeDescriptor;
  args: WireArg[];
  nret: number;
  owner: string;
  ctx: TaskContextInfo;
  lease: string;
  /** Generator backpressure (items ahead of the consumer); absent = off. */
  bp?: number;
  /** The function's maxCalls: the worker exits after running it that many times. */
  mc?: number;
}

// ---- to an actor's mailbox ----
export interface CallMsg {
  t: 'call';
  task: string;
  method: string;
  args: WireArg[];
  nret: number;
  owner: string;
  ctx: TaskContextInfo;
  retries: number;
  /** Generator backpressure (items ahead of the consumer); absent = off. */
  bp?: number;
}

// ---- to the broker ----
export interface RequestLeaseMsg {
  t: 'request-lease';
  req: string;
  owner: string;
  demand: Resources;
  strategy: WireStrategy;
  desc: string;
  /** The submitter's node, preferred by the DEFAULT strategy. */
  pref?: string;
  /** The runtime env the leased worker must have (absent: the default env). */
  env?: import('../api/options/runtime-env').RuntimeEnv;
}
export interface ReturnLeaseMsg {
  t: 'return-lease';
  lease: string;
}
export interface CancelLeaseRequestMsg {
  t: 'cancel-lease-request';
  req: string;
}
export interface ActorSpec {
  actorId: string;
  cls: CodeDescriptor;
  args: WireArg[];
  owner: string;
  meta: ActorMeta;
  placement: Resources;
  lifetime: Resources;
  strategy: WireStrategy;
  maxRestarts: number;
  detached: boolean;
  maxConcurrency: number;
  ctx: TaskContextInfo;
  getIfExists: boolean;
}
export interface CreateActorMsg {
  t: 'create-actor';
  req: string;
  spec: ActorSpec;
}
export interface KillActorMsg {
  t: 'kill-actor';
  actor: string;
  noRestart: boolean;
  req: string;
  reply: string;
}
export interface GetActorMsg {
  t: 'get-actor';
  req: string;
  reply: string;
  name: string;
  namespace: string;
}
export interface ActorReadyMsg {
  t: 'actor-ready';
  actor: string;
  worker: string;
}
export interface ActorFailedMsg {
  t: 'actor-failed';
  actor: string;
  err: WireError;
  intentional: boolean;
  initFailed: boolean;
}
export interface NodeRegisterMsg {
  t: 'node-register';
  node: string;
  resources: Resources;
  labels: Record<string, string>;
  /** What runs on the node now (re-registration with a new broker leader rebuilds from it). */
  leases?: NodeLeaseReport[];
  /** The node is draining: it takes no new work. */
  draining?: boolean;
}
export interface NodeGoneMsg {
  t: 'node-gone';
  node: string;
}
export interface WorkerDiedMsg {
  t: 'worker-died';
  node: string;
  worker: string;
  lease?: string;
  actor?: string;
  reason: string;
}
export interface ClusterInfoRequestMsg {
  t: 'cluster-info-request';
  req: string;
  reply: string;
}
export interface CreatePgMsg {
  t: 'create-pg';
  owner: string;
  pg: { id: string; bundles: Resources[]; strategy: string; name: string; detached: boolean };
}
export interface RemovePgMsg {
  t: 'remove-pg';
  pg: string;
  req: string;
  reply: string;
}
export interface PgTableRequestMsg {
  t: 'pg-table';
  req: string;
  reply: string;
}
export type BrokerMsg =
  | CreatePgMsg
  | RemovePgMsg
  | PgTableRequestMsg
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
  | ClusterInfoRequestMsg;

// ---- to a node ----
export interface StartLeaseMsg {
  t: 'start-lease';
  lease: string;
  req: string;
  owner: string;
  demand: Resources;
  gpuIds: number[];
  /** The runtime env the leased worker must have (forwarded from RequestLeaseMsg.env). */
  env?: import('../api/options/runtime-env').RuntimeEnv;
}
export interface StartActorMsg {
  t: 'start-actor';
  lease: string;
  spec: ActorSpec;
  gpuIds: number[];
  restart: boolean;
}
export interface ReleaseLeaseMsg {
  t: 'release-lease';
  lease: string;
}
export interface KillWorkerMsg {
  t: 'kill-worker';
  lease: string;
  /** Acknowledge to `reply` (tagged `req`) once the worker is dead and its calls requeued. */
  reply?: string;
  req?: string;
}
export type NodeMsg = StartLeaseMsg | StartActorMsg | ReleaseLeaseMsg | KillWorkerMsg;

// ---- to a worker (control, on its worker queue) ----
export interface HostActorMsg {
  t: 'host-actor';
  spec: ActorSpec;
  restart: boolean;
  nodeId: string;
}
export type WorkerMsg = TaskMsg | HostActorMsg;

/** Scheduling strategy as it travels. */
export type WireStrategy =
  | { kind: 'DEFAULT' }
  | { kind: 'SPREAD' }
  | { kind: 'NODE_AFFINITY'; nodeId: string; soft: boolean }
  | { kind: 'PLACEMENT_GROUP'; pg: string; bundle: number };

/** One task argument: encoded value bytes plus the refs inside it as [id, owner]. */
export interface WireArg {
  d: Uint8Array;
  r?: Array<[string, string]>;
}

// ---- cluster mode (a broker on a message bus, several processes) ----

/** The broker leader election queue (single active consumer; see broker-election.ts). */
export const BROKER_ELECTION_QUEUE = 'raybus.broker.election';
/** Topic on which a new broker leader announces itself (`BrokerElectedMsg`). */
export const BROKER_ELECTED_TOPIC = 'raybus.events.broker-elected';
/**
 * A process's presence queue (auto-delete, consumed while its connection lives): the broker
 * probes it to tell a live process from a dead one, and sends it `BrokerElectedMsg`.
 */
export const presenceQueue = (presenceId: string): string => `raybus.presence.${presenceId}`;
/** The presence id of a node. */
export const nodePresenceId = (nodeId: string): string => `node-${nodeId}`;

/** One lease (task worker or actor) running on a node, as the node reports it. */
export interface NodeLeaseReport {
  lease: string;
  worker: string;
  demand: Resources;
  gpuIds: number[];
  /** Task leases: the owner's reply queue and the request the lease answered. */
  owner?: string;
  req?: string;
  /** Actor leases: the actor's spec (owner, name, restart policy). */
  actor?: ActorSpec;
}
/** A driver announces itself: the broker watches its presence queue from now on. */
export interface OwnerRegisterMsg {
  t: 'owner-register';
  owner: string;
  /** Its presence id (`presenceQueue(id)`). */
  presence: string;
}
/** A driver is shutting down: its non-detached actors die and its leases are released. */
export interface OwnerExitMsg {
  t: 'owner-exit';
  owner: string;
}
/** An owner's leases after a broker election, as `[lease, node]`: leases on dead nodes are lost. */
export interface LeasesHeldMsg {
  t: 'leases-held';
  owner: string;
  leases: Array<[string, string]>;
}
/** A node stops taking new work (SIGTERM). */
export interface NodeDrainingMsg {
  t: 'node-draining';
  node: string;
}
/** A draining node gives back an idle task lease: the owner is told `lease-lost`. */
export interface LeaseRevokedMsg {
  t: 'lease-revoked';
  node: string;
  lease: string;
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
export interface ClusterStateRequestMsg {
  t: 'cluster-state-request';
  req: string;
  reply: string;
}
export interface ClusterStateMsg {
  t: 'cluster-state';
  req: string;
  state: ClusterState;
}
/** The live cluster as `raybus status` and `raybus list` show it. */
export interface ClusterState {
  leader: { epoch: string; electedAt: number; nodeId?: string };
  nodes: Array<{ nodeId: string; alive: boolean; draining: boolean; resources: Resources; available: Resources; labels: Record<string, string> }>;
  actors: Array<{ actorId: string; className: string; name?: string; namespace: string; state: string; nodeId?: string; workerId?: string; owner: string; detached: boolean; restarts: number }>;
  leases: Array<{ lease: string; nodeId: string; owner?: string; actorId?: string; demand: Resources }>;
  pending: Array<{ id: string; kind: 'task' | 'actor' | 'placement-group'; description: string; demand: Resources; infeasible: boolean }>;
  placementGroups: Record<string, PlacementGroupInfo>;
}
/** Messages to the broker in cluster mode. */
export type ClusterBrokerMsg =
  | OwnerRegisterMsg
  | OwnerExitMsg
  | LeasesHeldMsg
  | NodeDrainingMsg
  | LeaseRevokedMsg
  | ActorRecordMsg
  | ClusterStateRequestMsg;
/** Broadcast on `BROKER_ELECTED_TOPIC` and sent to presence queues by a new leader. */
export interface BrokerElectedMsg {
  t: 'broker-elected';
  epoch: string;
}
/** Sent to presence queues to see whether they exist; ignored by their consumer. */
export interface PresenceProbeMsg {
  t: 'probe';
}
