/**
 * The one runtime of this process, reachable from the API functions without import cycles.
 * Kept on a global symbol so that every copy of raybus loaded in a process (ESM and CJS,
 * or a nested install) shares it.
 */
import type { TaskId, NodeId, WorkerId, ActorId, JobId, ObjectId, PlacementGroupId, QueueName, ReplyQueue, RequestId } from '../protocol/ids';
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
import type { SubmittedTask } from './submit-policy';
import type { ArgEncoder } from './ref-resolution';
import type { ReplyHandler, ReplyTag } from './reply-router';
import type { SendErrorHandler } from './messenger';

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
  /** W3C trace context of this task's span (tracing on): what it submits is that span's child. */
  readonly tc?: string;
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
  newId<T extends TaskId | ObjectId | ActorId | RequestId | PlacementGroupId>(): T;
  registerReplyHandler<T extends ReplyTag>(tag: T, handler: ReplyHandler<T>): void;
  send<K extends QueueKind>(queue: QueueName<K>, msg: QueueMessages[K], taskId?: TaskId, onError?: SendErrorHandler<QueueMessages[K]>, options?: PublishOptions): void;
  sendToBroker(msg: BrokerMsg): void;
  request<T extends ReplyMsg, K extends QueueKind = QueueKind>(queue: QueueName<K>, build: (req: RequestId, reply: ReplyQueue) => QueueMessages[K]): Promise<T>;
  awaitRequest<T extends ReplyMsg>(req: RequestId): Promise<T>;
  ensureQueue(queue: string): Promise<void>;
  ownedRef<T>(id: ObjectId): ObjectRef<T>;
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
  submitTask(task: SubmittedTask, args: unknown[]): void;
  stop(reason?: string): Promise<void>;
}

interface RuntimeSlot {
  core?: RuntimeCore;
  process?: ProcessContext;
  /** Starts the embedded default when `.remote()` is used before `init()`. */
  autoInit?: () => void;
  /** The API object handed to by-value code as `ray`. */
  api?: unknown;
  taskContext: AsyncLocalStorage<TaskContext>;
}

export const slot: RuntimeSlot = processGlobal<RuntimeSlot>('runtime', () => ({ taskContext: new AsyncLocalStorage<TaskContext>() }));

/** The core worker of this process; starts the embedded default if needed. */
export function requireCore(): RuntimeCore {
  if (!slot.core) slot.autoInit?.();
  if (!slot.core) throw new Error('raybus is not initialized: call `await ray.init()` first');
  return slot.core;
}

export function currentTask(): TaskContext | undefined {
  return slot.taskContext.getStore();
}
