/**
 * The one runtime of this process, reachable from the API functions without import cycles.
 * Kept on a global symbol so that every copy of raybus loaded in a process (ESM and CJS,
 * or a nested install) shares it.
 */
import type { TaskId, NodeId, WorkerId, ActorId, JobId, LeaseId, ObjectId, PlacementGroupId, QueueName, ReplyQueue, RequestId } from '../protocol/ids';
import { AsyncLocalStorage } from 'node:async_hooks';
import type { Resources, WireError, WireOutcome } from '../protocol/wire';
import type { QueueKind, QueueMessages } from '../protocol/queues';
import type { BrokerMsg } from '../protocol/messages/broker';
import type { ReplyMsg } from '../protocol/messages/reply';
import type { RuntimeEnv } from '../protocol/runtime-env';
import type { PublishOptions, Transport } from '../transport/transport';
import type { ObjectRef } from '../refs/object-ref';
import type { ObjectRefGenerator } from '../refs/object-ref-generator';
import { processGlobal } from '../util/process-global';
import type { PendingTask } from './pending-tasks';
import type { NormalTask } from './normal-task';
import type { ArgEncoder } from './ref-resolution';
import type { ReplyHandler, ReplyTag } from './reply-router';
import type { SendErrorHandler } from './messenger';
import type { CallStream } from './call-sequences';

/** What a running task or actor call can learn about itself. */
export interface TaskContext {
  readonly taskId: TaskId;
  readonly actorId: ActorId | null;
  readonly attempt: number;
  readonly signal: AbortSignal;
  readonly metadata: Record<string, unknown>;
  readonly wasCurrentActorReconstructed: boolean;
  /** Resources reserved for this task (actors: their lifetime resources, in the process context). */
  readonly resources?: Resources;
  /**
   * The job the task belongs to and its namespace (from the task's own context: a worker
   * process serves the tasks of every job). Absent on the driver, which uses its own.
   */
  readonly jobId?: JobId;
  readonly namespace?: string;
  /** The lease a normal task runs on (absent for actor calls): a blocking `get` releases its CPU. */
  readonly lease?: LeaseId;
  /** W3C trace context of this task's span (tracing on): what it submits is that span's child. */
  readonly tc?: string;
  /** Actor calls: `exitActor()` marks it, so the host can tell the call that invoked it. */
  readonly exit?: { requested: boolean };
}

/** The process-level part of the runtime context. */
export interface ProcessContext {
  readonly jobId: string;
  readonly nodeId: NodeId | null;
  readonly namespace: string;
  readonly workerId: WorkerId | null;
  readonly assignedResources: Resources;
  readonly gpuIds: number[];
  readonly actorId: ActorId | null;
  /** Set by exitActor() so the host can tell the call that invoked it. */
  exitRequested?: boolean;
  wasCurrentActorReconstructed: boolean;
}

/**
 * What the API layer uses of this process's runtime (the CoreWorker implements it). Declared
 * here, so that the API reaches the runtime through the slot without importing the core's
 * composition root.
 */
export interface RuntimeCore {
  readonly address: ReplyQueue;
  /** The process's bus connection (the state API queries the cluster on it). */
  readonly transport: Transport;
  readonly options: {
    readonly jobId: JobId;
    readonly namespace: string;
    readonly nodeId?: NodeId;
    readonly runtimeEnv?: RuntimeEnv;
  };
  /** Argument encoding and resolution (ref-resolution.ts `resolveArgs`), and storing outcomes. */
  readonly objects: ArgEncoder & { fulfil(id: ObjectId, out: WireOutcome): void };
  readonly isClosed: boolean;
  /** The numbering of actor calls per handle (call-sequences.ts). */
  readonly callSeqs: { stream(): CallStream };
  newId<T extends TaskId | ObjectId | ActorId | RequestId | PlacementGroupId>(): T;
  registerReplyHandler<T extends ReplyTag>(tag: T, handler: ReplyHandler<T>): void;
  send<K extends QueueKind>(queue: QueueName<K>, msg: QueueMessages[K], taskId?: TaskId, onError?: SendErrorHandler<QueueMessages[K]>, options?: PublishOptions): void;
  sendToBroker(msg: BrokerMsg): void;
  request<T extends ReplyMsg, K extends QueueKind = QueueKind>(queue: QueueName<K>, build: (req: RequestId, reply: ReplyQueue) => QueueMessages[K]): Promise<T>;
  awaitRequest<T extends ReplyMsg>(req: RequestId): Promise<T>;
  ensureQueue(queue: string): Promise<void>;
  ownedRef<T>(id: ObjectId): ObjectRef<T>;
  trackActorHandle(handle: object, actor: ActorId, owner: ReplyQueue): void;
  untrackActorHandle(handle: object, actor: ActorId): void;
  put<T>(value: T): ObjectRef<T>;
  get(refs: ObjectRef<unknown> | ObjectRef<unknown>[], timeoutMs?: number): Promise<unknown>;
  wait<W extends ObjectRef<unknown> | ObjectRefGenerator<unknown>>(refs: W[], numReturns: number, timeoutMs?: number): Promise<[W[], W[]]>;
  isPending(taskId: TaskId): boolean;
  registerPending(task: PendingTask): void;
  addChild(parent: TaskId | undefined, child: TaskId): void;
  pendingTaskOf(objectId: ObjectId): PendingTask | undefined;
  failTask(taskId: TaskId, err: WireError): void;
  cancelTask(taskId: TaskId, force: boolean, recursive?: boolean): void;
  openStream(taskId: TaskId, backpressure: number): { generator: ObjectRefGenerator<unknown>; returnIds: ObjectId[] };
  submitTask(task: NormalTask, args: unknown[]): void;
  stop(reason?: string): Promise<void>;
}

interface RuntimeSlot {
  core?: RuntimeCore;
  process?: ProcessContext;
  /** Starts the embedded default when `.remote()` is used before `init()`. */
  autoInit?: () => void;
  /** The API object handed to by-value code as `ray`. */
  api?: unknown;
  /** Loads the API where it is not loaded up front (a worker: only code that uses `ray` needs it). */
  loadApi?: () => unknown;
  taskContext: AsyncLocalStorage<TaskContext>;
}

export const slot: RuntimeSlot = processGlobal<RuntimeSlot>('runtime', () => ({ taskContext: new AsyncLocalStorage<TaskContext>() }));

/** The core worker of this process; starts the embedded default if needed. */
export function requireCore(): RuntimeCore {
  if (!slot.core) slot.autoInit?.();
  if (!slot.core) {
    throw new Error(
      process.env.RAYBUS_ADDRESS && !process.env.RAYBUS_WORKER_ID
        ? `raybus is not initialized: call \`await ray.init()\` first (RAYBUS_ADDRESS is set, and joining that cluster takes a connection, so it cannot start by itself at the first .remote(), put or get)`
        : 'raybus is not initialized: call `await ray.init()` first',
    );
  }
  return slot.core;
}

export function currentTask(): TaskContext | undefined {
  return slot.taskContext.getStore();
}

/**
 * The job and namespace of the code running now: the running task's (Ray's WorkerContext
 * takes the job from each task spec), else the hosted actor's, else this process's own (a
 * driver's job, set at `init`).
 */
export function currentJob(core: RuntimeCore): { readonly jobId: JobId; readonly namespace: string } {
  const task = slot.taskContext.getStore();
  if (task?.jobId !== undefined && task.namespace !== undefined) return { jobId: task.jobId, namespace: task.namespace };
  const proc = slot.process;
  if (proc?.actorId) return { jobId: proc.jobId as JobId, namespace: proc.namespace };
  return { jobId: core.options.jobId, namespace: core.options.namespace };
}
