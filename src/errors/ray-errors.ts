/**
 * The error family that crosses the wire. Every class carries a `Symbol.for` marker so
 * `instanceof` holds across duplicated module copies (CJS + ESM, or two installs).
 */
const MARKERS = new Map<string, symbol>();

function markerFor(name: string): symbol {
  let s = MARKERS.get(name);
  if (!s) MARKERS.set(name, (s = Symbol.for(`raybus.error.${name}`)));
  return s;
}

/** Install `Symbol.hasInstance` so `x instanceof Cls` checks the marker chain. */
function branded<T extends abstract new (...args: never[]) => Error>(cls: T, name: string): T {
  const marker = markerFor(name);
  Object.defineProperty(cls.prototype, marker, { value: true, enumerable: false });
  Object.defineProperty(cls, Symbol.hasInstance, {
    value: (obj: unknown) => typeof obj === 'object' && obj !== null && (obj as Record<symbol, unknown>)[marker] === true,
  });
  Object.defineProperty(cls.prototype, 'name', { value: name, writable: true, configurable: true, enumerable: false });
  return cls;
}

/** Root of every raybus error. */
export class RayError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}
branded(RayError, 'RayError');

/** User code threw inside a task or actor method. `cause` is the rebuilt original error. */
export class RayTaskError extends RayError {
  readonly functionName: string;
  readonly taskId: string;
  readonly remoteStack: string;
  constructor(functionName: string, cause: Error, taskId = '', extra = '') {
    const stack = cause.stack ?? `${cause.name}: ${cause.message}`;
    super(
      `${extra ? `${extra}\n` : ''}${cause.name} raised in task ${functionName}${taskId ? ` (task ${taskId})` : ''}: ${cause.message}\n\nRemote stack:\n${stack}`,
      { cause },
    );
    this.functionName = functionName;
    this.taskId = taskId;
    this.remoteStack = stack;
  }
}
branded(RayTaskError, 'RayTaskError');

/** The actor is unreachable or dead. */
export class RayActorError extends RayError {
  readonly actorId: string;
  readonly actorInitFailed: boolean;
  constructor(message: string, actorId = '', actorInitFailed = false) {
    super(message);
    this.actorId = actorId;
    this.actorInitFailed = actorInitFailed;
  }
}
branded(RayActorError, 'RayActorError');

/** The actor is permanently dead. */
export class ActorDiedError extends RayActorError {}
branded(ActorDiedError, 'ActorDiedError');

/** The actor is temporarily unreachable; the call may or may not have run. */
export class ActorUnavailableError extends RayActorError {}
branded(ActorUnavailableError, 'ActorUnavailableError');

/** The worker process died while running the task (and retries are exhausted). */
export class WorkerCrashedError extends RayError {}
branded(WorkerCrashedError, 'WorkerCrashedError');

/** The task was cancelled with `ray.cancel`. */
export class TaskCancelledError extends RayError {
  readonly taskId: string;
  constructor(taskId: string, message = `Task: ${taskId} was cancelled`) {
    super(message);
    this.taskId = taskId;
  }
}
branded(TaskCancelledError, 'TaskCancelledError');

/** `ray.get` timed out. Also a `TimeoutError` by name, as Ray's is a Python TimeoutError. */
export class GetTimeoutError extends RayError {}
branded(GetTimeoutError, 'GetTimeoutError');

/** Every copy of the object is lost. */
export class ObjectLostError extends RayError {}
branded(ObjectLostError, 'ObjectLostError');

/** The object's owner died, so its value can no longer be obtained. */
export class OwnerDiedError extends ObjectLostError {}
branded(OwnerDiedError, 'OwnerDiedError');

/** The task can never be scheduled (hard affinity to a dead or unknown node). */
export class TaskUnschedulableError extends RayError {}
branded(TaskUnschedulableError, 'TaskUnschedulableError');

/** The actor can never be scheduled. */
export class ActorUnschedulableError extends RayError {}
branded(ActorUnschedulableError, 'ActorUnschedulableError');

/** The runtime environment could not be set up. */
export class RuntimeEnvSetupError extends RayError {}
branded(RuntimeEnvSetupError, 'RuntimeEnvSetupError');

/** `maxPendingCalls` of an actor handle was exceeded. */
export class PendingCallsLimitExceeded extends RayError {}
branded(PendingCallsLimitExceeded, 'PendingCallsLimitExceeded');

/** An argument or option is invalid (Ray's ValueError). */
export class RayValueError extends RayError {}
branded(RayValueError, 'RayValueError');

/** The runtime is not running or shutting down. */
export class RaySystemError extends RayError {}
branded(RaySystemError, 'RaySystemError');

/** Classes that may cross the wire, by name, for the error codec. */
export const WIRE_ERROR_CLASSES = {
  RayError,
  RayTaskError,
  RayActorError,
  ActorDiedError,
  ActorUnavailableError,
  WorkerCrashedError,
  TaskCancelledError,
  GetTimeoutError,
  ObjectLostError,
  OwnerDiedError,
  TaskUnschedulableError,
  ActorUnschedulableError,
  RuntimeEnvSetupError,
  PendingCallsLimitExceeded,
  RayValueError,
  RaySystemError,
} as const;
