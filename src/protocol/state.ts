/**
 * The cluster's state as the state API (`ray.util.state`), `raybus list` and the dashboard show
 * it: one row type per kind of thing, with Ray's column names in camelCase (Ray's
 * `ray.util.state` TaskState, ActorState, NodeState, WorkerState, ObjectState,
 * PlacementGroupState). Rows travel in `state-answer` messages, so they live with the wire
 * types. Fields marked "detail" are filled only with `detail: true`.
 */

/** Task states (Ray's `TaskStatus`, the ones raybus can tell apart). */
export type TaskState = 'PENDING_ARGS_AVAIL' | 'PENDING_NODE_ASSIGNMENT' | 'SUBMITTED_TO_WORKER' | 'RUNNING' | 'FINISHED' | 'FAILED';
export const TASK_STATES: readonly TaskState[] = ['PENDING_ARGS_AVAIL', 'PENDING_NODE_ASSIGNMENT', 'SUBMITTED_TO_WORKER', 'RUNNING', 'FINISHED', 'FAILED'];

/** What a task is: a remote function call, an actor method call, or an actor's constructor. */
export type TaskType = 'NORMAL_TASK' | 'ACTOR_TASK' | 'ACTOR_CREATION_TASK';

/** Actor states (the lifecycle machine's, as Ray's `ActorState`). */
export type ActorState = 'PENDING_CREATION' | 'ALIVE' | 'RESTARTING' | 'DEAD';

/** Why an actor died (Ray's `ActorDeathCause` reasons, from the lifecycle machine's causes). */
export type ActorDeathReason = 'CREATION_TASK_FAILED' | 'RAY_KILL' | 'INTENDED_USER_EXIT' | 'WORKER_DIED' | 'OWNER_DIED' | 'NAME_TAKEN' | 'UNSCHEDULABLE';

/** One task (or the latest attempt of it), as its owner (the process that submitted it) knows it. */
export interface TaskItem {
  taskId: string;
  /** 0 for the first attempt; retries count up. */
  attemptNumber: number;
  /** The function (`f`) or method (`Class.method`; constructors `Class.__init__`). */
  name: string;
  state: TaskState;
  jobId: string;
  type: TaskType;
  funcOrClassName: string;
  actorId?: string;
  /** The task that submitted this one (absent when a driver did). */
  parentTaskId?: string;
  nodeId?: string;
  workerId?: string;
  workerPid?: number;
  /** FAILED tasks: the error's class name (RayTaskError, WorkerCrashedError, TaskCancelledError, ...). */
  errorType?: string;
  /** detail: the error's message. */
  errorMessage?: string;
  /** detail: when it was submitted (ms since the epoch). */
  creationTimeMs?: number;
  /** detail: when it started running (as its owner saw it). */
  startTimeMs?: number;
  /** detail: when it finished or failed. */
  endTimeMs?: number;
  /** detail: the resources it asked for. */
  requiredResources?: Record<string, number>;
  /** detail: the placement group it runs in. */
  placementGroupId?: string;
}

/** One actor, as the broker (Ray's GCS) knows it. */
export interface ActorItem {
  actorId: string;
  className: string;
  state: ActorState;
  jobId: string;
  name?: string;
  nodeId?: string;
  workerId?: string;
  pid?: number;
  rayNamespace: string;
  numRestarts: number;
  /** DEAD actors: why. */
  deathCause?: { reason: ActorDeathReason; message: string };
  /** detail */
  isDetached?: boolean;
  /** detail: -1 = infinite. */
  maxRestarts?: number;
  /** detail: resources held while alive. */
  requiredResources?: Record<string, number>;
  /** detail */
  placementGroupId?: string;
  /** detail: the reply queue of its owner. */
  ownerAddress?: string;
}

/** Node states: a draining node takes no new work. */
export type NodeState = 'ALIVE' | 'DRAINING' | 'DEAD';

/** One node, as the broker knows it (dead nodes stay listed, as in Ray). */
export interface NodeItem {
  nodeId: string;
  state: NodeState;
  /** The node the broker leader runs on (the embedded node, or the elected leader's). */
  isHeadNode: boolean;
  resourcesTotal: Record<string, number>;
  labels: Record<string, string>;
  /** detail: what is free now (alive nodes). */
  resourcesAvailable?: Record<string, number>;
  /** detail */
  startTimeMs?: number;
  /** detail: when it died or left. */
  endTimeMs?: number;
}

/** One process that runs work: a node's worker, or a driver. */
export interface WorkerItem {
  workerId: string;
  workerType: 'WORKER' | 'DRIVER';
  isAlive: boolean;
  nodeId?: string;
  pid?: number;
  /** A worker's lifecycle state (starting, idle, leased, hostingActor, retiring, pausing, stopping, dead). */
  state?: string;
  /** The actor it hosts. */
  actorId?: string;
  /** detail: the lease it holds. */
  leaseId?: string;
  /** detail: the key of its runtime env (`default` when none). */
  runtimeEnvKey?: string;
  /** detail */
  startTimeMs?: number;
  /** detail: dead workers. */
  endTimeMs?: number;
  /** detail: dead workers: how it ended. */
  exitDetail?: string;
}

/** How an object is held in its owner (Ray's reference types). */
export type ObjectReferenceType = 'LOCAL_REFERENCE' | 'USED_BY_PENDING_TASK' | 'PINNED_IN_MEMORY' | 'CAPTURED_IN_OBJECT';

/** One object, as its owner (or a borrower holding a copy) knows it. */
export interface ObjectItem {
  objectId: string;
  /** Encoded size in bytes (0 until it exists). */
  objectSize: number;
  /** PENDING until its value (or error) exists. */
  taskStatus: 'PENDING' | 'FINISHED' | 'FAILED';
  referenceType: ObjectReferenceType;
  /** Who reports it: its owner, or a borrower. */
  owned: boolean;
  /** The process reporting it: a driver or a worker. */
  type: 'DRIVER' | 'WORKER';
  pid: number;
  nodeId?: string;
  /** detail: the owner's reply queue. */
  ownerAddress?: string;
  /** detail: live ObjectRef instances in this process. */
  localRefCount?: number;
  /** detail: borrow tokens out (owner) or held (borrower). */
  borrowers?: number;
  /** detail: uses that keep it (pending tasks, values holding it). */
  pins?: number;
}

/** One placement group, as the broker knows it. */
export interface PlacementGroupItem {
  placementGroupId: string;
  name: string;
  state: 'PENDING' | 'CREATED' | 'REMOVED';
  strategy: string;
  isDetached: boolean;
  bundles: Array<{ bundleId: number; nodeId?: string; unitResources: Record<string, number> }>;
  /** detail: the reply queue of the process that created it. */
  creatorAddress?: string;
}

/** The kinds of rows the state API lists. */
export interface StateItems {
  tasks: TaskItem;
  actors: ActorItem;
  nodes: NodeItem;
  workers: WorkerItem;
  objects: ObjectItem;
  'placement-groups': PlacementGroupItem;
}
export type ListKind = keyof StateItems;
export const LIST_KINDS: readonly ListKind[] = ['tasks', 'actors', 'nodes', 'workers', 'objects', 'placement-groups'];

/** What a state query asks for: a list, or one of the aggregates. */
export type StateQueryKind = ListKind | 'task-summary' | 'timeline' | 'metrics';

/** One filter: `[column, '=' | '!=', value]` (values compare as strings). */
export type StateFilter = readonly [string, '=' | '!=', string | number | boolean];

/** Counts of one function's (or class's) tasks by state. */
export interface TaskSummaryEntry {
  funcOrClassName: string;
  type: TaskType;
  stateCounts: Partial<Record<TaskState, number>>;
}

/** `summarizeTasks()`: tasks by function name (Ray's `summarize_tasks`). */
export interface TaskSummary {
  summary: Record<string, TaskSummaryEntry>;
  totalTasks: number;
  totalActorTasks: number;
  totalActorScheduled: number;
  summaryBy: 'func_name';
  /** Finished tasks no longer counted: evicted from their owners' bounded buffers. */
  dropped: number;
}

/** `summarizeActors()`: actors by class (Ray's `summarize_actors`). */
export interface ActorSummary {
  summary: Record<string, { className: string; stateCounts: Partial<Record<ActorState, number>> }>;
  totalActors: number;
  summaryBy: 'class';
}

/** One execution in a worker, for the timeline (start and duration in µs since the epoch). */
export interface TimelineEvent {
  taskId: string;
  name: string;
  nodeId: string;
  workerId: string;
  pid: number;
  startUs: number;
  durUs: number;
  failed?: boolean;
}

/**
 * Upper bounds (seconds) of the buckets task durations are counted in by their owners
 * (`raybus_task_duration_seconds`); a last bucket counts everything longer.
 */
export const TASK_DURATION_BUCKETS_S: readonly number[] = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];

/** Task durations counted by one owner since it started (Prometheus histogram parts, not cumulative). */
export interface DurationCounts {
  /** Tasks per bucket of {@link TASK_DURATION_BUCKETS_S}, plus one for longer ones. */
  counts: number[];
  /** Seconds, all together. */
  sum: number;
  count: number;
}

/** A process's answer to a `metrics` query: counters it keeps anyway, read when asked. */
export interface ProcessMetrics {
  /** Random per process: a process with several responders (the embedded default) is counted once. */
  proc: string;
  /** Durations of the tasks and actor calls it owns that finished. */
  durations?: DurationCounts;
  /** Messages and bytes it moved on the bus. */
  transport?: { sent: number; sentBytes: number; received: number; receivedBytes: number };
}
