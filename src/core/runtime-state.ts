/**
 * The one runtime of this process, reachable from the API functions without import cycles.
 * Kept on a global symbol so that every copy of raybus loaded in a process (ESM and CJS,
 * or a nested install) shares it.
 */
import type { TaskId, NodeId, WorkerId, ActorId } from '../protocol/ids';
import { AsyncLocalStorage } from 'node:async_hooks';
import type { CoreWorker } from './core-worker';
import type { Resources } from '../protocol/wire';
import { processGlobal } from '../util/process-global';

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

interface RuntimeSlot {
  core?: CoreWorker;
  process?: ProcessContext;
  /** Starts the embedded default when `.remote()` is used before `init()`. */
  autoInit?: () => void;
  /** The API object handed to by-value code as `ray`. */
  api?: unknown;
  taskContext: AsyncLocalStorage<TaskContext>;
}

export const slot: RuntimeSlot = processGlobal<RuntimeSlot>('runtime', () => ({ taskContext: new AsyncLocalStorage<TaskContext>() }));

/** The core worker of this process; starts the embedded default if needed. */
export function requireCore(): CoreWorker {
  if (!slot.core) slot.autoInit?.();
  if (!slot.core) throw new Error('raybus is not initialized: call `await ray.init()` first');
  return slot.core;
}

export function currentTask(): TaskContext | undefined {
  return slot.taskContext.getStore();
}
