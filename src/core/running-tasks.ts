/**
 * Tasks running in this process, by id, with the AbortController behind
 * `getRuntimeContext().signal`: `ray.cancel` of a running task aborts it.
 */
const running = new Map<string, AbortController>();

/** Register a running task; returns its signal and a function to call when it ends. */
export function trackRunning(taskId: string): { signal: AbortSignal; done(): void } {
  const controller = new AbortController();
  running.set(taskId, controller);
  return { signal: controller.signal, done: () => running.delete(taskId) };
}

/** Abort a running task (no-op when it is not running here). */
export function abortRunning(taskId: string, reason: Error): boolean {
  const c = running.get(taskId);
  if (!c) return false;
  c.abort(reason);
  return true;
}
