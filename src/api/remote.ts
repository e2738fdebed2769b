/**
 * `ray.remote`: turns functions into remote functions and classes into actor classes, as a
 * wrapper or as a decorator (TC39 and legacy `experimentalDecorators` conventions).
 */
import { requireCore, slot } from '../core/runtime-state';
import { describeCode, callerModule, type CodeDescriptor } from '../serialization/code-shipping';
import type { ActorMeta, MethodMeta, WireStrategy } from '../protocol/wire';
import { returnId, type ActorId, type NodeId, type PlacementGroupId, type RequestId, type TaskId } from '../protocol/ids';
import type { ObjectRef } from '../refs/object-ref';
import { createHandle, retargetHandle } from './actor-handle';
import {
  DEFAULT_TASK_MAX_RETRIES,
  mergeActorOptions,
  mergeTaskOptions,
  normalizeActorOptions,
  normalizeMethodOptions,
  normalizeTaskOptions,
  resolveActorResources,
  resolveNumReturns,
  resolveTaskResources,
  validateNumReturnsFor,
  type ActorOptions,
  type MethodOptions,
  type TaskOptions,
} from './options';
import { NodeAffinitySchedulingStrategy, PlacementGroupSchedulingStrategy } from './scheduling-strategy';
import type { ActorClass, MethodWithOptions, NumReturnsAfter, RemoteFunction, RemoteWithOptions, WithNumReturns } from './types';
import type { ActorClassOptions, ActorMethodOptions, NumReturns, RemoteFunctionOptions } from './options';
import { checkFitsPlacementGroup } from './placement-group';
import { actorQueue } from '../protocol/queues';
import { NRET_DYNAMIC, NRET_STREAMING } from '../protocol/wire';
import type { ActorInfoMsg } from '../protocol/messages/reply';
import { decodeError } from '../serialization/error-codec';
import { ActorDiedError } from '../errors/ray-errors';
import { effectiveRuntimeEnv } from '../protocol/runtime-env';
import { resolveArgs } from '../core/ref-resolution';
import { traceContext } from './trace-context';

const METHOD_OPTIONS = Symbol.for('raybus.methodOptions');
/** Metadata key under which a capturing placement group travels to child tasks. */
export const PG_CAPTURE_KEY = '__raybus_pg_capture';

/** Validate a placement-group strategy against the demand now, and mark capture. */
function checkStrategy(strategy: unknown, demand: Record<string, number>): Record<string, unknown> | undefined {
  if (!(strategy instanceof PlacementGroupSchedulingStrategy)) return undefined;
  checkFitsPlacementGroup(demand, strategy.placementGroup.bundleSpecs, strategy.placementGroupBundleIndex);
  return strategy.placementGroupCaptureChildTasks ? { [PG_CAPTURE_KEY]: { pg: strategy.placementGroup.id } } : undefined;
}
const ACTOR_CLASS = Symbol.for('raybus.ActorClass');

type AnyFn = (...args: never[]) => unknown;
type AnyClass = abstract new (...args: never[]) => unknown;

function isClass(fn: unknown): fn is AnyClass {
  return typeof fn === 'function' && /^class[\s{]/.test(Function.prototype.toString.call(fn));
}

function isGeneratorFn(fn: unknown): boolean {
  const name = (fn as { constructor?: { name?: string } })?.constructor?.name;
  return name === 'GeneratorFunction' || name === 'AsyncGeneratorFunction';
}

function isAsyncFn(fn: unknown): boolean {
  const name = (fn as { constructor?: { name?: string } })?.constructor?.name;
  return name === 'AsyncFunction' || name === 'AsyncGeneratorFunction';
}

/** Convert a strategy option to its wire form. */
export function wireStrategy(s: unknown): WireStrategy {
  if (s === undefined || s === null) {
    // Child work inherits a placement group that captures child tasks (Ray semantics).
    const pg = slot.taskContext.getStore()?.metadata?.[PG_CAPTURE_KEY] as { pg: PlacementGroupId } | undefined;
    if (pg) return { kind: 'PLACEMENT_GROUP', pg: pg.pg, bundle: -1 };
  }
  if (s instanceof NodeAffinitySchedulingStrategy) return { kind: 'NODE_AFFINITY', nodeId: s.nodeId as NodeId, soft: s.soft };
  if (s instanceof PlacementGroupSchedulingStrategy) return { kind: 'PLACEMENT_GROUP', pg: s.placementGroup.id as PlacementGroupId, bundle: s.placementGroupBundleIndex };
  if (s === 'SPREAD') return { kind: 'SPREAD' };
  return { kind: 'DEFAULT' };
}

function retryNames(v: unknown): boolean | string[] {
  if (v === undefined || v === null) return false;
  if (typeof v === 'boolean') return v;
  return (v as Array<string | { name: string }>).map((x) => (typeof x === 'string' ? x : x.name));
}

// ------------------------------------------------------------------ remote functions

function makeRemoteFunction(fn: AnyFn, options: TaskOptions, desc: CodeDescriptor): RemoteFunction<AnyFn> {
  const generator = isGeneratorFn(fn);
  validateNumReturnsFor(generator, options.numReturns ?? undefined);
  const name = fn.name || 'anonymous';
  const remoteFn = function remoteFunction(): never {
    throw new TypeError(`Remote functions cannot be called directly. Instead of running '${name}()', try '${name}.remote()'.`);
  } as unknown as RemoteFunction<AnyFn>;
  Object.defineProperty(remoteFn, 'name', { value: name });
  Object.assign(remoteFn, {
    remote: (...args: unknown[]) => submit(desc, options, generator, args),
    options: (o: unknown) => makeRemoteFunction(fn, mergeTaskOptions(options, normalizeTaskOptions(o, 'options')), desc),
  });
  return remoteFn;
}

/** What a remote function's options resolve to; the same for every call (cached per options). */
interface ResolvedSubmission {
  readonly demand: Record<string, number>;
  readonly baseKey: string;
  readonly retryExceptions: boolean | string[];
}
const resolvedByOptions = new WeakMap<TaskOptions, ResolvedSubmission>();

function resolveSubmission(options: TaskOptions): ResolvedSubmission {
  let r = resolvedByOptions.get(options);
  if (!r) {
    const demand = { ...resolveTaskResources(options) };
    r = { demand, baseKey: JSON.stringify(demand), retryExceptions: retryNames(options.retryExceptions) };
    resolvedByOptions.set(options, r);
  }
  return r;
}

function submit(desc: CodeDescriptor, options: TaskOptions, generator: boolean, args: unknown[]): unknown {
  const core = requireCore();
  const numReturns = resolveNumReturns(generator, options.numReturns ?? undefined);
  const resolved = resolveSubmission(options);
  const demand = resolved.demand;
  const capture = checkStrategy(options.schedulingStrategy, demand);
  const strategy = wireStrategy(options.schedulingStrategy);
  const taskId = core.newId<TaskId>();
  core.addChild(slot.taskContext.getStore()?.taskId, taskId);
  const backpressure = options.backpressure ?? -1;
  const stream = typeof numReturns === 'number' ? undefined : core.openStream(taskId, numReturns === 'streaming' ? backpressure : -1);
  const nret = numReturns === 'streaming' ? NRET_STREAMING : numReturns === 'dynamic' ? NRET_DYNAMIC : numReturns;
  const returnIds = stream?.returnIds ?? Array.from({ length: nret }, (_, i) => returnId(taskId, i));
  const refs = numReturns === 'streaming' ? [] : returnIds.map((id) => core.ownedRef(id));
  const metadata = withCapture(options._metadata as Record<string, unknown> | undefined, capture, options.schedulingStrategy);
  // Inherits the job's env (driver) or this worker's env; leases are per env (scheduling key).
  const env = effectiveRuntimeEnv(core.options.runtimeEnv, options.runtimeEnv);
  core.submitTask(
    {
      taskId,
      returnIds,
      fn: desc,
      nret,
      ...(numReturns === 'streaming' && backpressure > 0 ? { bp: backpressure } : {}),
      demand,
      strategy,
      key: `${resolved.baseKey}|${strategy.kind === 'DEFAULT' ? '' : JSON.stringify(strategy)}${env ? `|${env.key}` : ''}`,
      maxRetries: options.maxRetries ?? DEFAULT_TASK_MAX_RETRIES,
      // GPU tasks default to maxCalls 1 so each run gets a fresh process (as Ray's `max_calls` default).
      maxCalls: options.maxCalls ?? ((demand.GPU ?? 0) > 0 ? 1 : 0),
      retryExceptions: resolved.retryExceptions,
      attempt: 0,
      ctx: { jobId: core.options.jobId, namespace: core.options.namespace, ...(metadata ? { metadata } : {}), ...(env ? { env: env.env } : {}), ...traceContext(desc.name, taskId, 'task') },
    },
    args,
  );
  if (numReturns === 'streaming') return stream!.generator;
  if (numReturns === 0) return null;
  return numReturns === 1 || numReturns === 'dynamic' ? refs[0] : (refs as ObjectRef<unknown>[]);
}

/**
 * The metadata a task carries: the user's, plus the capturing placement group (set by this
 * submission, or inherited unless the strategy is set explicitly, e.g. 'DEFAULT').
 */
function withCapture(meta: Record<string, unknown> | undefined, capture: Record<string, unknown> | undefined, strategy: unknown): Record<string, unknown> | undefined {
  if (capture) return { ...(meta ?? {}), ...capture };
  const inherited = slot.taskContext.getStore()?.metadata?.[PG_CAPTURE_KEY];
  if (inherited && (strategy === undefined || strategy === null)) return { ...(meta ?? {}), [PG_CAPTURE_KEY]: inherited };
  return meta;
}

// ------------------------------------------------------------------ actor classes

function methodMetas(cls: AnyClass): { methods: Record<string, MethodMeta>; isAsync: boolean } {
  const methods: Record<string, MethodMeta> = {};
  let isAsync = false;
  for (let p = cls.prototype as object | null; p && p !== Object.prototype; p = Object.getPrototypeOf(p) as object | null) {
    for (const key of Object.getOwnPropertyNames(p)) {
      if (key === 'constructor' || key in methods) continue;
      const d = Object.getOwnPropertyDescriptor(p, key);
      if (!d || typeof d.value !== 'function') continue;
      const fn = d.value as AnyFn & { [METHOD_OPTIONS]?: MethodOptions };
      if (isAsyncFn(fn)) isAsync = true;
      const mo = fn[METHOD_OPTIONS] ?? {};
      methods[key] = {
        ...(mo.numReturns !== undefined && mo.numReturns !== null ? { numReturns: mo.numReturns } : {}),
        ...(mo.maxTaskRetries !== undefined && mo.maxTaskRetries !== null ? { maxTaskRetries: mo.maxTaskRetries } : {}),
        ...(mo.retryExceptions !== undefined ? { retryExceptions: retryNames(mo.retryExceptions) } : {}),
        ...(isGeneratorFn(fn) ? { isGenerator: true } : {}),
        ...(mo.backpressure !== undefined && mo.backpressure !== null ? { backpressure: mo.backpressure } : {}),
      };
    }
  }
  return { methods, isAsync };
}

function makeActorClass(cls: AnyClass, options: ActorOptions, desc: CodeDescriptor): ActorClass<AnyClass> {
  const name = cls.name || 'AnonymousActor';
  const actorClass = function actorClass(): never {
    throw new TypeError(`Actors cannot be instantiated directly. Instead of '${name}()', use '${name}.remote()'.`);
  } as unknown as ActorClass<AnyClass>;
  Object.defineProperty(actorClass, 'name', { value: name });
  Object.defineProperty(actorClass, ACTOR_CLASS, { value: true });
  Object.assign(actorClass, {
    remote: (...args: unknown[]) => createActorFrom(cls, options, desc, args),
    options: (o: unknown) => makeActorClass(cls, mergeActorOptions(options, normalizeActorOptions(o, 'options')), desc),
  });
  return actorClass;
}

function createActorFrom(cls: AnyClass, options: ActorOptions, desc: CodeDescriptor, args: unknown[]): unknown {
  const core = requireCore();
  const { methods, isAsync } = methodMetas(cls);
  const actorId = core.newId<ActorId>();
  if (options.name === '') throw new RangeError('Actor name cannot be an empty string.');
  const namespace = options.namespace ?? core.options.namespace;
  const meta: ActorMeta = {
    actorId,
    className: cls.name || 'AnonymousActor',
    methods,
    isAsync,
    maxTaskRetries: options.maxTaskRetries ?? 0,
    maxPendingCalls: options.maxPendingCalls ?? -1,
    namespace,
    ...(options.name ? { name: options.name } : {}),
  };
  const { placement, lifetime } = resolveActorResources(options);
  const capture = checkStrategy(options.schedulingStrategy, placement);
  const maxConcurrency = options.maxConcurrency ?? (isAsync ? 1000 : 1);
  const req = core.newId<RequestId>();
  // Calls wait for the constructor's arguments: if one of them failed, the actor never
  // exists and every call fails with ActorDiedError carrying that failure.
  let argsFailed!: (err: Error) => void;
  let argsReady!: () => void;
  const args$ = new Promise<void>((resolve, reject) => {
    argsReady = resolve;
    argsFailed = reject;
  });
  let ready: Promise<void>;
  if (options.getIfExists) {
    // The answer to create-actor tells which actor the handle targets (an existing one, or this).
    ready = core.awaitRequest<ActorInfoMsg>(req).then((info) => {
      if (info.err) throw decodeError(info.err);
      if (info.meta) retargetHandle(handle, info.meta);
      return core.ensureQueue(actorQueue(info.meta?.actorId ?? actorId));
    });
  } else {
    ready = core.ensureQueue(actorQueue(actorId));
  }
  const handle = createHandle(
    meta,
    Promise.all([ready, args$]).then(() => undefined),
  );
  const metadata = withCapture(options._metadata as Record<string, unknown> | undefined, capture, options.schedulingStrategy);
  const env = effectiveRuntimeEnv(core.options.runtimeEnv, options.runtimeEnv);
  resolveArgs(
    core.objects,
    args,
    (parts) => {
      if ('error' in parts) {
        const cause = decodeError(parts.error);
        argsFailed(
          new ActorDiedError(
            `The actor ${meta.className} (${actorId}) died because of an error raised in its creation task: an argument could not be computed: ${cause.message}`,
            actorId,
            true,
          ),
        );
        return;
      }
      argsReady();
      const argParts = parts;
      const send = (): void =>
        core.sendToBroker({
          t: 'create-actor',
          req,
          spec: {
            actorId,
            cls: desc,
            args: argParts,
            owner: core.address,
            meta,
            placement: { ...placement },
            lifetime: { ...lifetime },
            strategy: wireStrategy(options.schedulingStrategy),
            maxRestarts: options.maxRestarts ?? 0,
            detached: options.lifetime === 'detached',
            maxConcurrency,
            ctx: { jobId: core.options.jobId, namespace, attempt: 0, ...(metadata ? { metadata } : {}), ...(env ? { env: env.env } : {}) },
            getIfExists: options.getIfExists === true,
          },
        });
      // The mailbox must exist before the actor or any caller uses it.
      core.ensureQueue(actorQueue(actorId)).then(send, () => undefined);
    },
    `${meta.className}.constructor`,
    actorId,
  );
  return handle;
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
  if (isClass(target)) {
    const opts = normalizeActorOptions(rawOptions ?? {}, 'remote');
    return makeActorClass(target, opts, describeCode(target as unknown as AnyFn, 'class', module));
  }
  const opts = normalizeTaskOptions(rawOptions ?? {}, 'remote');
  return makeRemoteFunction(target as AnyFn, opts, describeCode(target as AnyFn, 'function', module));
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
