/**
 * `ray.remote`: turns functions into remote functions and classes into actor classes, as a
 * wrapper or as a decorator (TC39 and legacy `experimentalDecorators` conventions).
 */
import { currentJob, requireCore, slot } from '../core/runtime-state';
import { describeCodeLater, callerModule, type CodeDescriptor } from '../serialization/code-shipping';
import { noteCodeModule } from '../serialization/error-classes';
import { returnIdsOf, type JobId, type TaskId } from '../protocol/ids';
import type { ObjectRef } from '../refs/object-ref';
import { NormalTask, type TaskKind } from '../core/normal-task';
import { DEFAULT_TASK_MAX_RETRIES, mergeTaskOptions, normalizeActorOptions, normalizeMethodOptions, normalizeTaskOptions, resolveNumReturns, resolveTaskResources, validateNumReturnsFor, type TaskOptions } from './options';
import type { ActorClass, MethodWithOptions, NumReturnsAfter, RemoteFunction, RemoteWithOptions, WithNumReturns } from './types';
import type { ActorClassOptions, ActorMethodOptions, NumReturns, RemoteFunctionOptions } from './options';
import { NRET_DYNAMIC, NRET_STREAMING, type TaskContextInfo } from '../protocol/wire';
import { effectiveRuntimeEnv, type EffectiveRuntimeEnv } from '../protocol/runtime-env';
import { traceContext } from './trace-context';

import { ACTOR_CLASS, METHOD_OPTIONS, checkStrategy, isClass, isGeneratorFn, retryNames, withCapture, wireStrategy, type AnyClass, type AnyFn } from './remote-common';
import { makeActorClass } from './actor-class';

// ------------------------------------------------------------------ remote functions

function makeRemoteFunction(fn: AnyFn, options: TaskOptions, desc: () => CodeDescriptor): RemoteFunction<AnyFn> {
  const generator = isGeneratorFn(fn);
  validateNumReturnsFor(generator, options.numReturns ?? undefined);
  const name = fn.name || 'anonymous';
  const remoteFn = function remoteFunction(): never {
    throw new TypeError(`Remote functions cannot be called directly. Instead of running '${name}()', try '${name}.remote()'.`);
  } as unknown as RemoteFunction<AnyFn>;
  Object.defineProperty(remoteFn, 'name', { value: name });
  Object.assign(remoteFn, {
    remote: (...args: unknown[]) => submit(desc(), options, generator, args),
    options: (o: unknown) => makeRemoteFunction(fn, mergeTaskOptions(options, normalizeTaskOptions(o, 'options')), desc),
  });
  return remoteFn;
}

/** What a remote function's options resolve to; the same for every call (cached per options). */
interface ResolvedSubmission {
  readonly demand: Record<string, number>;
  readonly baseKey: string;
  /** The scheduling key of a DEFAULT-strategy call without a runtime env (the usual case). */
  readonly plainKey: string;
  readonly retryExceptions: boolean | string[];
  /** The kind of the last task submitted with these options: the next alike one shares it. */
  lastKind?: TaskKind;
}
const resolvedByOptions = new WeakMap<TaskOptions, ResolvedSubmission>();

function resolveSubmission(options: TaskOptions): ResolvedSubmission {
  let r = resolvedByOptions.get(options);
  if (!r) {
    // Frozen: shared by every task of these options (their messages write it from cached bytes).
    const demand = Object.freeze({ ...resolveTaskResources(options) });
    const baseKey = JSON.stringify(demand);
    r = { demand, baseKey, plainKey: `${baseKey}|`, retryExceptions: retryNames(options.retryExceptions) };
    resolvedByOptions.set(options, r);
  }
  return r;
}

/** The last job context without metadata, env or trace: shared by the calls that have none. */
let plainCtx: Omit<TaskContextInfo, 'attempt'> | undefined;

/** A task's context; the same object for every plain call of one job (it is only read). */
function taskCtx(job: { readonly jobId: JobId; readonly namespace: string }, metadata: Record<string, unknown> | undefined, env: EffectiveRuntimeEnv['env'] | undefined, trace: { tc?: string }): Omit<TaskContextInfo, 'attempt'> {
  if (metadata || env || trace.tc !== undefined) return { ...job, ...(metadata ? { metadata } : {}), ...(env ? { env } : {}), ...trace };
  if (plainCtx?.jobId !== job.jobId || plainCtx.namespace !== job.namespace) plainCtx = Object.freeze({ jobId: job.jobId, namespace: job.namespace });
  return plainCtx;
}

function submit(desc: CodeDescriptor, options: TaskOptions, generator: boolean, args: unknown[]): unknown {
  const core = requireCore();
  const numReturns = resolveNumReturns(generator, options.numReturns ?? undefined);
  const resolved = resolveSubmission(options);
  const demand = resolved.demand;
  const capture = checkStrategy(options.schedulingStrategy, demand);
  const strategy = wireStrategy(options.schedulingStrategy);
  const taskId = core.newId<TaskId>();
  const parentTaskId = slot.taskContext.getStore()?.taskId;
  core.addChild(parentTaskId, taskId);
  const backpressure = options.backpressure ?? -1;
  const stream = typeof numReturns === 'number' ? undefined : core.openStream(taskId, numReturns === 'streaming' ? backpressure : -1);
  const nret = numReturns === 'streaming' ? NRET_STREAMING : numReturns === 'dynamic' ? NRET_DYNAMIC : numReturns;
  const returnIds = stream?.returnIds ?? returnIdsOf(taskId, nret);
  const refs = numReturns === 'streaming' ? [] : returnIds.map((id) => core.ownedRef(id));
  const metadata = withCapture(options._metadata as Record<string, unknown> | undefined, capture, options.schedulingStrategy);
  // Inherits the job's env (driver) or this worker's env; leases are per env (scheduling key).
  const env = effectiveRuntimeEnv(core.options.runtimeEnv, options.runtimeEnv);
  const ctx = taskCtx(currentJob(core), metadata, env?.env, traceContext(desc.name, taskId, 'task'));
  const key = strategy.kind === 'DEFAULT' && !env ? resolved.plainKey : `${resolved.baseKey}|${strategy.kind === 'DEFAULT' ? '' : JSON.stringify(strategy)}${env ? `|${env.key}` : ''}`;
  const bp = numReturns === 'streaming' && backpressure > 0 ? backpressure : undefined;
  let kind = resolved.lastKind;
  if (!kind || kind.fn !== desc || kind.ctx !== ctx || kind.strategy !== strategy || kind.key !== key || kind.nret !== nret || kind.bp !== bp || kind.parentTaskId !== parentTaskId) {
    kind = resolved.lastKind = {
      fn: desc,
      nret,
      demand,
      strategy,
      key,
      maxRetries: options.maxRetries ?? DEFAULT_TASK_MAX_RETRIES,
      // GPU tasks default to maxCalls 1 so each run gets a fresh process (as Ray's `max_calls` default).
      maxCalls: options.maxCalls ?? ((demand.GPU ?? 0) > 0 ? 1 : 0),
      retryExceptions: resolved.retryExceptions,
      ctx,
      bp,
      parentTaskId,
    };
  }
  // The usual single return's id is not kept with the task (it is made again for its result).
  core.submitTask(new NormalTask(taskId, stream || nret !== 1 ? returnIds : undefined, kind), args);
  if (numReturns === 'streaming') return stream!.generator;
  if (numReturns === 0) return null;
  return numReturns === 1 || numReturns === 'dynamic' ? refs[0] : (refs as ObjectRef<unknown>[]);
}

// ------------------------------------------------------------------ ray.remote

/**
 * Make a function remote, or a class an actor class.
 *
 * @example
 * const add = ray.remote((a: number, b: number) => a + b);
 * await ray.get(add.remote(1, 2)); // 3
 * const Counter = ray.remote({ maxRestarts: 1 })(class { n = 0; inc() { return ++this.n; } });
 */
/** TC39 class decorator form: `@ray.remote class A {}` (the class becomes an actor class). */
export function remote<C extends AnyClass>(target: C, context: ClassDecoratorContext<C>): void;
export function remote<T extends AnyFn | AnyClass>(target: T): T extends AnyClass ? ActorClass<T> : T extends AnyFn ? RemoteFunction<T> : never;
/** With options (a typo in a name does not compile): `ray.remote({ numCpus: 2 })(f)`, or a class decorator. */
export function remote<const M extends NumReturns = never>(
  options: WithNumReturns<RemoteFunctionOptions, M> | WithNumReturns<ActorClassOptions, M>,
): RemoteWithOptions<NumReturnsAfter<undefined, M>>;
export function remote(...args: unknown[]): unknown {
  const isTc39Decorator = args.length === 2 && typeof args[0] === 'function' && isDecoratorContext(args[1]);
  if (args.length !== 1 && !isTc39Decorator) {
    throw new TypeError(
      'ray.remote must be applied either to a function or class (ray.remote(fn)), or with options only (ray.remote({ numCpus: 1 })(fn)); got ' +
        `${args.length} arguments`,
    );
  }
  const target = args[0];
  const module = callerModule();
  if (typeof target === 'function') return wrap(target as AnyFn | AnyClass, undefined, module);
  if (typeof target === 'object' && target !== null && !Array.isArray(target)) {
    const raw = target as Record<string, unknown>;
    // Validate eagerly for both kinds; the target's kind decides which set applies.
    return (t: unknown, _context?: unknown) => {
      if (typeof t !== 'function') throw new TypeError('The @ray.remote decorator must be applied to either a function or a class.');
      return wrap(t as AnyFn | AnyClass, raw, module);
    };
  }
  throw new TypeError('The @ray.remote decorator must be applied to either a function or a class.');
}

function isDecoratorContext(v: unknown): boolean {
  return typeof v === 'object' && v !== null && typeof (v as { kind?: unknown }).kind === 'string';
}

function wrap(target: AnyFn | AnyClass, rawOptions: Record<string, unknown> | undefined, module: string | undefined): unknown {
  if ((target as unknown as Record<symbol, unknown>)[ACTOR_CLASS]) throw new TypeError('This class is already an actor class.');
  // Error classes this module exports travel by identity (serialization/error-classes.ts).
  noteCodeModule(module);
  if (isClass(target)) {
    const opts = normalizeActorOptions(rawOptions ?? {}, 'remote');
    return makeActorClass(target, opts, describeCodeLater(target as unknown as AnyFn, 'class', module));
  }
  const opts = normalizeTaskOptions(rawOptions ?? {}, 'remote');
  return makeRemoteFunction(target as AnyFn, opts, describeCodeLater(target as AnyFn, 'function', module));
}

/**
 * Per-method defaults for actor methods: a method decorator (both conventions) or a wrapper.
 *
 * @example
 * Cls.prototype.pair = ray.method({ numReturns: 2 })(function () { return [1, 2]; });
 */
export function method<const M extends NumReturns = never>(options: WithNumReturns<ActorMethodOptions, M>): MethodWithOptions {
  const mo = normalizeMethodOptions(options);
  return (<F>(target: F, ...rest: unknown[]): unknown => {
    // Legacy decorator: (prototype, key, descriptor).
    if (rest.length === 2 && typeof rest[1] === 'object' && rest[1] !== null && 'value' in (rest[1] as object)) {
      const d = rest[1] as PropertyDescriptor;
      Object.defineProperty(d.value, METHOD_OPTIONS, { value: mo, configurable: true });
      return d;
    }
    if (typeof target !== 'function') throw new TypeError('ray.method(...) must wrap or decorate a method');
    Object.defineProperty(target, METHOD_OPTIONS, { value: mo, configurable: true });
    return target;
  }) as MethodWithOptions;
}
