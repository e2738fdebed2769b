/**
 * get / put / wait / kill / getActor / runtime context: the functions users call on refs and
 * handles. Misuse visible from the arguments throws synchronously.
 */
import { completionId, type TaskId, type NodeId, type WorkerId, type ActorId } from '../protocol/ids';
import { currentJob, requireCore, slot } from '../core/runtime-state';
import { ObjectRef, isObjectRef } from '../refs/object-ref';
import { isObjectRefGenerator, type ObjectRefGenerator } from '../refs/object-ref-generator';
import { createHandle, handleMeta, isActorHandle } from './actor-handle';
import { decodeError } from '../serialization/error-codec';
import { RayValueError } from '../errors/ray-errors';
import { BROKER_QUEUE, actorQueue } from '../protocol/queues';
import type { AckMsg, ActorInfoMsg, ClusterInfoMsg } from '../protocol/messages/reply';
import type { ClusterInfo, Resources } from '../protocol/wire';
import type { ActorHandle } from './types';

/** Options of `get`. */
export interface GetOptions {
  /** Reject with GetTimeoutError after this many milliseconds. */
  readonly timeoutMs?: number;
  /** Ray's spelling, in seconds. */
  readonly timeout?: number;
}

/** The option names each call takes (Ray's snake_case spellings too); anything else throws. */
const OPTION_NAMES = {
  'ray.get': ['timeoutMs', 'timeout'],
  'ray.wait': ['numReturns', 'num_returns', 'timeoutMs', 'timeout', 'fetchLocal', 'fetch_local'],
  'ray.cancel': ['force', 'recursive'],
  'ray.kill': ['noRestart', 'no_restart'],
} as const;

function checkOptionNames(fn: keyof typeof OPTION_NAMES, options: object): void {
  const valid: readonly string[] = OPTION_NAMES[fn];
  for (const k of Object.keys(options)) {
    if (!valid.includes(k)) throw new TypeError(`${fn}: unknown option '${k}'. Valid options: ${valid.join(', ')}`);
  }
}

function timeoutOf(options: GetOptions | undefined, fn: 'ray.get' | 'ray.wait'): number | undefined {
  if (options === undefined) return undefined;
  if (typeof options !== 'object' || options === null) throw new TypeError(`${fn}: options must be an object`);
  checkOptionNames(fn, options);
  if (options.timeoutMs !== undefined && options.timeout !== undefined) throw new TypeError(`${fn}: give either timeoutMs or timeout, not both`);
  const t = options.timeoutMs ?? (options.timeout !== undefined && options.timeout !== null ? options.timeout * 1000 : undefined);
  if (t === undefined || t === null) return undefined;
  if (typeof t !== 'number' || Number.isNaN(t)) throw new TypeError(`${fn}: timeoutMs must be a number`);
  if (t < 0) throw new RangeError(`${fn}: The 'timeoutMs' argument must be nonnegative. Received ${t}`);
  return t;
}

/**
 * Wait for the value(s) of one ref or an array of refs (in input order). Rejects with the
 * first error found, without waiting for the rest.
 *
 * @example
 * const [a, b] = await ray.get([f.remote(1), f.remote(2)]);
 */
export function get<T>(ref: ObjectRef<T>, options?: GetOptions): Promise<T>;
export function get<T extends readonly ObjectRef<unknown>[]>(refs: T, options?: GetOptions): Promise<{ [K in keyof T]: T[K] extends ObjectRef<infer V> ? V : never }>;
export function get<T>(refs: ObjectRef<T>[], options?: GetOptions): Promise<T[]>;
export function get(refs: unknown, options?: GetOptions): Promise<unknown> {
  const timeoutMs = timeoutOf(options, 'ray.get');
  if (Array.isArray(refs)) {
    refs.forEach((r, i) => {
      if (!isObjectRef(r)) throw new TypeError(`ray.get: element ${i} is not an ObjectRef (got ${describe(r)}); 'refs' must be an ObjectRef or an array of ObjectRefs`);
    });
  } else if (isObjectRefGenerator(refs)) {
    throw new TypeError('ray.get of an ObjectRefGenerator is not allowed: iterate it (for await) and get each ref');
  } else if (!isObjectRef(refs)) {
    throw new TypeError(`ray.get: 'refs' must be an ObjectRef or an array of ObjectRefs, got ${describe(refs)}`);
  }
  return requireCore().get(refs as ObjectRef<unknown> | ObjectRef<unknown>[], timeoutMs);
}

/** Store a value with the caller as owner; returns its ref synchronously. */
export function put<T>(value: T): ObjectRef<T> {
  if (isObjectRef(value)) {
    throw new TypeError("Calling 'put' on an ObjectRef is not allowed. If you really want to do this, wrap the ObjectRef in an array: put([ref]).");
  }
  return requireCore().put(value);
}

/** Options of `wait`. */
export interface WaitOptions extends GetOptions {
  readonly numReturns?: number;
  readonly fetchLocal?: boolean;
}

/**
 * Wait until `numReturns` of `refs` are ready (errors count as ready). Returns
 * `[ready, notReady]`, both in input order.
 */
export function wait<T, W extends ObjectRef<T> | ObjectRefGenerator<T> = ObjectRef<T>>(refs: W[], options?: WaitOptions): Promise<[W[], W[]]> {
  if (isObjectRef(refs)) throw new TypeError('wait() expected a list of ObjectRef, got a single ObjectRef');
  if (!Array.isArray(refs)) throw new TypeError(`wait() expected a list of ObjectRef, got ${describe(refs)}`);
  refs.forEach((r, i) => {
    if (!isObjectRef(r) && !isObjectRefGenerator(r)) {
      throw new TypeError(`wait() expected a list of ObjectRef or ObjectRefGenerator, but element ${i} is ${describe(r)}`);
    }
  });
  const timeoutMs = timeoutOf(options, 'ray.wait');
  const rawN = (options as Record<string, unknown> | undefined)?.numReturns ?? (options as Record<string, unknown> | undefined)?.num_returns;
  const fetchLocal = options?.fetchLocal ?? (options as Record<string, unknown> | undefined)?.fetch_local;
  if (fetchLocal !== undefined && typeof fetchLocal !== 'boolean') throw new TypeError('ray.wait: fetchLocal must be a boolean');
  if (refs.length === 0) return Promise.resolve([[], []]);
  if (new Set(refs.map((r) => (isObjectRef(r) ? r.id : `gen:${r.taskId}`))).size !== refs.length) {
    throw new RayValueError('Wait requires a list of unique object refs.');
  }
  const numReturns = rawN === undefined ? 1 : rawN;
  if (typeof numReturns !== 'number' || !Number.isInteger(numReturns)) throw new TypeError('ray.wait: numReturns must be an integer');
  if (numReturns <= 0) throw new RangeError(`Invalid number of objects to return ${numReturns}.`);
  if (numReturns > refs.length) throw new RangeError('numReturns cannot be greater than the number of objects provided to ray.wait.');
  return requireCore().wait(refs as Array<ObjectRef<unknown> | ObjectRefGenerator<unknown>>, numReturns, timeoutMs) as Promise<[W[], W[]]>;
}

/** Options of `cancel`. */
export interface CancelOptions {
  readonly force?: boolean;
  readonly recursive?: boolean;
}

/**
 * Cancel a task (by one of its refs) or a generator: a queued task never runs; a running task
 * sees `getRuntimeContext().signal` fire, and with `force` its worker is killed. `get` then
 * rejects with TaskCancelledError; cancelled tasks are never retried, and tasks depending on
 * them fail too.
 */
export function cancel(target: ObjectRef<unknown> | ObjectRefGenerator<unknown>, options: CancelOptions = {}): Promise<void> {
  if (!isObjectRef(target) && !isObjectRefGenerator(target)) throw new TypeError(`ray.cancel expects an ObjectRef or ObjectRefGenerator, got ${describe(target)}`);
  if (typeof options !== 'object' || options === null) throw new TypeError('ray.cancel: options must be an object');
  checkOptionNames('ray.cancel', options);
  const force = options.force ?? (options as { force?: boolean }).force ?? false;
  if (typeof force !== 'boolean') throw new TypeError('ray.cancel: force must be a boolean');
  if (options.recursive !== undefined && typeof options.recursive !== 'boolean') throw new TypeError('ray.cancel: recursive must be a boolean');
  const core = requireCore();
  const taskId = isObjectRefGenerator(target) ? target.taskId : core.pendingTaskOf(target.id)?.taskId;
  if (!taskId) return Promise.resolve();
  const pending = core.pendingTaskOf(completionId(taskId));
  if (force && pending?.actorCall) throw new RayValueError('force=true is not supported for actor tasks.');
  core.cancelTask(taskId, force, options.recursive ?? true);
  return Promise.resolve();
}

/** Kill an actor now. Queued and running calls fail; `noRestart: false` restarts it if allowed. */
export function kill(actor: unknown, options: { noRestart?: boolean; no_restart?: boolean } = {}): Promise<void> {
  if (!isActorHandle(actor)) throw new TypeError(`ray.kill() only supported for actors. Got: ${describe(actor)}`);
  if (typeof options !== 'object' || options === null) throw new TypeError('ray.kill: options must be an object');
  checkOptionNames('ray.kill', options);
  const noRestart = options.noRestart ?? options.no_restart ?? true;
  if (typeof noRestart !== 'boolean') throw new TypeError('ray.kill: noRestart must be a boolean');
  const core = requireCore();
  const actorId = handleMeta(actor as object).actorId;
  return core
    .request<AckMsg>(BROKER_QUEUE, (req, reply) => ({ t: 'kill-actor', actor: actorId, noRestart, req, reply }))
    .then((ack) => {
      if (ack.err) throw decodeError(ack.err);
    });
}

/** Look up a named actor. */
export function getActor<T = Record<string, unknown>>(name: string, options: { namespace?: string } = {}): Promise<ActorHandle<T>> {
  if (typeof name !== 'string') throw new TypeError('ray.getActor: name must be a string');
  if (name === '') throw new RangeError('Please supply a non-empty value to getActor');
  if (options.namespace !== undefined && (typeof options.namespace !== 'string' || options.namespace === '')) {
    throw new TypeError('ray.getActor: namespace must be a non-empty string');
  }
  const core = requireCore();
  const namespace = options.namespace ?? currentJob(core).namespace;
  return core
    .request<ActorInfoMsg>(BROKER_QUEUE, (req, reply) => ({ t: 'get-actor', req, reply, name, namespace }))
    .then((info) => {
      if (info.err || !info.meta) throw info.err ? decodeError(info.err) : new RayValueError(`no actor named '${name}'`);
      return createHandle(info.meta, core.ensureQueue(actorQueue(info.meta.actorId))) as ActorHandle<T>;
    });
}

/** Exit the current actor (no restart). The call that invoked it rejects with RayActorError. */
export function exitActor(): never {
  const proc = slot.process;
  const task = slot.taskContext.getStore();
  if (!(task?.actorId ?? proc?.actorId)) throw new TypeError('exitActor() is called on a non-actor worker');
  // A call of a shared actor marks itself (its process hosts others); otherwise the process.
  if (task?.exit) task.exit.requested = true;
  else proc!.exitRequested = true;
  throw Object.assign(new Error('exitActor() was called'), { name: 'ActorExit' });
}

/** GPU ids assigned to this worker (empty on the driver or without GPUs). */
export function getGpuIds(): number[] {
  return [...(slot.process?.gpuIds ?? [])];
}

/** Facts about where the caller runs. */
export interface RuntimeContext {
  readonly jobId: string;
  readonly nodeId: NodeId | null;
  readonly taskId: TaskId | null;
  readonly actorId: ActorId | null;
  readonly namespace: string;
  readonly attempt: number;
  readonly wasCurrentActorReconstructed: boolean;
  readonly signal: AbortSignal | null;
  readonly metadata: Record<string, unknown>;
  readonly workerId: WorkerId | null;
  getAssignedResources(): Resources;
}

/** The runtime context of the caller (task fields are null on the driver). */
export function getRuntimeContext(): RuntimeContext {
  const core = requireCore();
  const proc = slot.process;
  const task = slot.taskContext.getStore();
  const assigned = { ...(task?.resources ?? proc?.assignedResources ?? {}) };
  const job = currentJob(core);
  return {
    jobId: job.jobId,
    nodeId: proc?.nodeId ?? core.options.nodeId ?? null,
    taskId: task?.taskId ?? null,
    // A call of a shared actor knows its actor; its process hosts many.
    actorId: task?.actorId ?? proc?.actorId ?? null,
    namespace: job.namespace,
    attempt: task?.attempt ?? 0,
    wasCurrentActorReconstructed: task?.actorId ? task.wasCurrentActorReconstructed : (proc?.wasCurrentActorReconstructed ?? false),
    signal: task?.signal ?? null,
    metadata: userMetadata(task?.metadata),
    workerId: proc?.workerId ?? null,
    getAssignedResources: () => ({ ...assigned }),
  };
}

/** The `_metadata` option as the user gave it (raybus's own keys removed). */
function userMetadata(meta: Record<string, unknown> | undefined): Record<string, unknown> {
  if (!meta) return {};
  const { __raybus_pg_capture: _internal, ...rest } = meta;
  return rest;
}

function clusterInfo(): Promise<ClusterInfo> {
  return requireCore()
    .request<ClusterInfoMsg>(BROKER_QUEUE, (req, reply) => ({ t: 'cluster-info-request', req, reply }))
    .then((m) => {
      if (!m.info) throw new RayValueError('raybus is not running');
      return m.info;
    });
}

/** Total resources of alive nodes. */
export async function clusterResources(): Promise<Resources> {
  return (await clusterInfo()).total;
}

/** Unclaimed resources of alive nodes (resources at 0 are omitted, as in Ray). */
export async function availableResources(): Promise<Resources> {
  return (await clusterInfo()).available;
}

/** The cluster's nodes. */
export async function nodes(): Promise<ClusterInfo['nodes']> {
  return (await clusterInfo()).nodes;
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return `an object (${(v as object).constructor?.name ?? 'Object'})`;
  return `${typeof v} ${String(v).slice(0, 40)}`;
}
