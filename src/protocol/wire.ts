/**
 * The pieces messages are made of: resources, encoded values and errors, code descriptors,
 * scheduling strategies, actor specs and the cluster views that queries return.
 */
import type { ActorId, JobId, LeaseId, NodeId, ObjectId, PlacementGroupId, ReplyQueue, WorkerId, RequestId } from './ids';
import type { RuntimeEnv } from './runtime-env';

/** Resources by name, in user units. */
export type Resources = Record<string, number>;

/** An error as it travels (rebuilt by serialization/error-codec.ts). */
export interface WireError {
  readonly name: string;
  readonly message: string;
  readonly stack?: string;
  /** raybus class name, when the error is one of ours. */
  readonly rayClass?: string;
  /** Extra own enumerable fields (primitives only). */
  readonly props?: Record<string, string | number | boolean | null>;
  readonly cause?: WireError;
  /**
   * A user error's class, `[module file, export name]`, when a module of remote code exports
   * it: the receiver rebuilds the error as an instance of that class where it can.
   */
  readonly origin?: [string, string];
}

/** One object reference inside encoded bytes: its id and its owner. */
export type WireRef = [ObjectId, ReplyQueue];

/**
 * A value too large for one message of the bus: its bytes stay with the process that sent
 * it (reply queue `from`), which serves them in chunks to whoever needs the value
 * (core/blob-exchange.ts).
 */
export interface BlobRef {
  /** Unique to this offer of the bytes. */
  readonly id: string;
  /** Length of the encoded value, in bytes. */
  readonly size: number;
  /** The holder's reply queue. */
  readonly from: ReplyQueue;
}

/**
 * One task argument: encoded value bytes plus the refs inside it. With `b`, the bytes are
 * not in the message (`d` is empty) but held by `b.from`; the receiver pulls them first.
 */
export interface WireArg {
  d: Uint8Array;
  r?: WireRef[];
  b?: BlobRef;
}

/** One return slot: encoded value bytes (with the refs inside it, or held elsewhere as for WireArg), or an error. */
export type WireOutcome = { d: Uint8Array; r?: WireRef[]; b?: BlobRef } | { e: WireError };

/** What a worker needs to find the code of a task or actor (serialization/code-shipping.ts). */
export interface CodeDescriptor {
  readonly id: string;
  readonly name: string;
  readonly kind: 'function' | 'class';
  /** Source text, when shipped by value. */
  readonly source?: string;
  /** Absolute path or file URL of the defining module, when known. */
  readonly module?: string;
  /** Free names that forced shipping by reference (for error messages). */
  readonly freeNames?: readonly string[];
}

/** Scheduling strategy as it travels. */
export type WireStrategy =
  | { kind: 'DEFAULT' }
  | { kind: 'SPREAD' }
  | { kind: 'NODE_AFFINITY'; nodeId: NodeId; soft: boolean }
  | { kind: 'PLACEMENT_GROUP'; pg: PlacementGroupId; bundle: number };

/** `nret` of a streaming generator task. */
export const NRET_STREAMING = -1;
/** `nret` of a 'dynamic' generator task. */
export const NRET_DYNAMIC = -2;

/** Static facts about an actor class that handles need. */
export interface ActorMeta {
  readonly actorId: ActorId;
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
  readonly jobId: JobId;
  readonly namespace: string;
  readonly attempt: number;
  readonly metadata?: Record<string, unknown>;
  /** The effective runtime env (resolved, canonical); absent for the default env. */
  readonly env?: RuntimeEnv;
  /** The resources reserved for this task (getRuntimeContext().getAssignedResources()). */
  readonly res?: Resources;
  /** The driver turned log forwarding off (`init({ logToDriver: false })`): keep output on the node. */
  readonly nolog?: boolean;
  /** W3C `traceparent` of the submitting span (tracing with OpenTelemetry; absent when off). */
  readonly tc?: string;
}

/** Everything the broker needs to create, place and restart an actor. */
export interface ActorSpec {
  actorId: ActorId;
  cls: CodeDescriptor;
  args: WireArg[];
  owner: ReplyQueue;
  meta: ActorMeta;
  placement: Resources;
  lifetime: Resources;
  strategy: WireStrategy;
  maxRestarts: number;
  detached: boolean;
  maxConcurrency: number;
  ctx: TaskContextInfo;
  getIfExists: boolean;
  /** `isolation: 'shared'`: hosted with other shared actors in one worker process (absent: a process of its own). */
  iso?: 'shared';
}

/** One lease (task worker or actor) running on a node, as the node reports it. */
export interface NodeLeaseReport {
  lease: LeaseId;
  worker: WorkerId;
  demand: Resources;
  gpuIds: number[];
  /** Task leases: the owner's reply queue and the request the lease answered. */
  owner?: ReplyQueue;
  req?: RequestId;
  /** Actor leases: the actor's spec (owner, name, restart policy). */
  actor?: ActorSpec;
  /** Task leases: the task running on it waits in `get`/`wait` and has given its CPU back. */
  blocked?: boolean;
}

/** A placement group as `placementGroupTable()` shows it. */
export interface PlacementGroupInfo {
  placementGroupId: PlacementGroupId;
  name: string;
  strategy: string;
  state: 'PENDING' | 'CREATED' | 'REMOVED';
  bundles: Record<number, Resources>;
  bundlesToNodeId: Record<number, NodeId>;
}

/** `clusterResources()`, `availableResources()` and `nodes()`. */
export interface ClusterInfo {
  nodes: Array<{ nodeId: NodeId; alive: boolean; resources: Resources; labels: Record<string, string> }>;
  total: Resources;
  available: Resources;
}

/** The live cluster as `raybus status` and `raybus list` show it. */
export interface ClusterState {
  /** `malformed`: messages the broker refused as malformed in this term. */
  leader: { epoch: string; electedAt: number; nodeId?: NodeId; malformed?: number };
  /** `refused`/`malformed`: what each node process refused, from its last report (cluster mode). */
  nodes: Array<{
    nodeId: NodeId;
    alive: boolean;
    draining: boolean;
    resources: Resources;
    available: Resources;
    labels: Record<string, string>;
    refused?: Record<string, number>;
    malformed?: number;
  }>;
  actors: Array<{
    actorId: ActorId;
    className: string;
    name?: string;
    namespace: string;
    state: string;
    nodeId?: NodeId;
    workerId?: WorkerId;
    owner: ReplyQueue;
    detached: boolean;
    restarts: number;
  }>;
  leases: Array<{ lease: LeaseId; nodeId: NodeId; owner?: ReplyQueue; actorId?: ActorId; demand: Resources }>;
  pending: Array<{ id: string; kind: 'task' | 'actor' | 'placement-group'; description: string; demand: Resources; infeasible: boolean }>;
  placementGroups: Record<string, PlacementGroupInfo>;
}
