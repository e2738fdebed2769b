/**
 * Tasks running in this process, by id, with the AbortController behind
 * `getRuntimeContext().signal`: `ray.cancel` of a running task aborts it.
 */
import type { TaskId } from '../protocol/ids';
/** A running task's abort state; its AbortController is made only when someone asks for the signal. */
class RunningTask {
  private controller?: AbortController;
  private reason?: Error;
  constructor(private readonly taskId: TaskId) {}
  /** It ended: no longer running here. */
  done(): void {
    if (running.get(this.taskId) === this) running.delete(this.taskId);
  }
  get signal(): AbortSignal {
    if (!this.controller) {
      this.controller = new AbortController();
      if (this.reason) this.controller.abort(this.reason);
    }
    return this.controller.signal;
  }
  abort(reason: Error): void {
    if (this.controller) this.controller.abort(reason);
    else this.reason ??= reason;
  }
}

const running = new Map<string, RunningTask>();

/** Register a running task; `signal` is its abort signal (made on first use), `done()` ends it. */
export function trackRunning(taskId: TaskId): { readonly signal: AbortSignal; done(): void } {
  // The task itself, with `signal` and `done` on its prototype: no object or closures per task.
  const task = new RunningTask(taskId);
  running.set(taskId, task);
  return task;
}

/** Is `taskId` running in this process now? */
export function isRunningHere(taskId: TaskId): boolean {
  return running.has(taskId);
}

/** Abort a running task (no-op when it is not running here). */
export function abortRunning(taskId: TaskId, reason: Error): boolean {
  const t = running.get(taskId);
  if (!t) return false;
  t.abort(reason);
  return true;
}

/** Where tasks delivered to this worker wait before they run (set by the worker's task queue). */
let queuedCanceller: ((taskId: TaskId) => boolean) | undefined;

export function setQueuedTaskCanceller(fn: ((taskId: TaskId) => boolean) | undefined): void {
  queuedCanceller = fn;
}

/** `ray.cancel` reached this process: abort the task if it runs, drop it if it waits here. */
export function cancelLocal(taskId: TaskId, reason: Error): boolean {
  return abortRunning(taskId, reason) || (queuedCanceller?.(taskId) ?? false);
}
