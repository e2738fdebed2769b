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
  | CancelTaskMsg;

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
