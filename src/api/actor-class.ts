/**
 * Actor classes: `ray.remote(Class)` and its `.options()`, and `Class.remote(...)`, which
 * registers the actor with the broker and returns its handle at once.
 */

import { currentJob, requireCore } from '../core/runtime-state';
import { type CodeDescriptor } from '../serialization/code-shipping';
import type { ActorMeta, MethodMeta } from '../protocol/wire';
import { actorRefKey, type ActorId, type RequestId } from '../protocol/ids';
import { createHandle, markUnresolved, retargetHandle } from './actor-handle';
import { mergeActorOptions, normalizeActorOptions, resolveActorResources, type ActorOptions, type MethodOptions } from './options';
import type { ActorClass } from './types';
import { actorQueue } from '../protocol/queues';
import type { ActorInfoMsg } from '../protocol/messages/reply';
import { decodeError } from '../serialization/error-codec';
import { ActorDiedError } from '../errors/ray-errors';
import { effectiveRuntimeEnv } from '../protocol/runtime-env';
import { resolveArgs } from '../core/ref-resolution';

import { ACTOR_CLASS, METHOD_OPTIONS, checkStrategy, isAsyncFn, isGeneratorFn, retryNames, withCapture, wireStrategy, type AnyClass, type AnyFn } from './remote-common';

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

export function makeActorClass(cls: AnyClass, options: ActorOptions, desc: () => CodeDescriptor): ActorClass<AnyClass> {
  const name = cls.name || 'AnonymousActor';
  const actorClass = function actorClass(): never {
    throw new TypeError(`Actors cannot be instantiated directly. Instead of '${name}()', use '${name}.remote()'.`);
  } as unknown as ActorClass<AnyClass>;
  Object.defineProperty(actorClass, 'name', { value: name });
  Object.defineProperty(actorClass, ACTOR_CLASS, { value: true });
  Object.assign(actorClass, {
    remote: (...args: unknown[]) => createActorFrom(cls, options, desc(), args),
    options: (o: unknown) => makeActorClass(cls, mergeActorOptions(options, normalizeActorOptions(o, 'options')), desc),
  });
  return actorClass;
}

function createActorFrom(cls: AnyClass, options: ActorOptions, desc: CodeDescriptor, args: unknown[]): unknown {
  const core = requireCore();
  const { methods, isAsync } = methodMetas(cls);
  const actorId = core.newId<ActorId>();
  if (options.name === '') throw new RangeError('Actor name cannot be an empty string.');
  const job = currentJob(core);
  const namespace = options.namespace ?? job.namespace;
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
  const detached = options.lifetime === 'detached';
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
  // A non-detached actor lives while a handle to it does (its owner's, borrowed ones, those
  // in pending calls); this first handle counts for the owner, this process.
  const handle = createHandle(
    meta,
    Promise.all([ready, args$]).then(() => undefined),
    detached ? undefined : core.address,
  );
  if (options.getIfExists) markUnresolved(handle, ready);
  const metadata = withCapture(options._metadata as Record<string, unknown> | undefined, capture, options.schedulingStrategy);
  const env = effectiveRuntimeEnv(core.options.runtimeEnv, options.runtimeEnv);
  const counted = actorRefKey(actorId);
  let resolving = true;
  let called = false;
  let registered = false;
  resolveArgs(
    core.objects,
    args,
    (parts) => {
      called = true;
      // Arguments that resolve later keep the actor alive until its creation is sent.
      if (!resolving && !detached) core.objects.unpin(counted);
      if ('error' in parts) {
        const cause = decodeError(parts.error);
        argsFailed(
          new ActorDiedError(
            `The actor ${meta.className} (${actorId}) died because of an error raised in its creation task: an argument could not be computed: ${cause.message}`,
            actorId,
            true,
          ),
        );
        // The name taken at `.remote()` is free again.
        if (registered) core.sendToBroker({ t: 'actor-out-of-scope', actor: actorId, owner: core.address });
        return;
      }
      argsReady();
      // Sent now, not after the mailbox is declared: the actor must not wait behind lease
      // requests made after it (its host declares the mailbox itself; callers wait for it).
      core.sendToBroker({
        t: 'create-actor',
        req,
        spec: {
          actorId,
          cls: desc,
          args: parts,
          owner: core.address,
          meta,
          placement: { ...placement },
          lifetime: { ...lifetime },
          strategy: wireStrategy(options.schedulingStrategy),
          maxRestarts: options.maxRestarts ?? 0,
          detached,
          maxConcurrency,
          ctx: { jobId: job.jobId, namespace: job.namespace, attempt: 0, ...(metadata ? { metadata } : {}), ...(env ? { env: env.env } : {}) },
          getIfExists: options.getIfExists === true,
          ...(options.isolation === 'shared' ? { iso: 'shared' as const } : {}),
        },
      });
    },
    `${meta.className}.constructor`,
    actorId,
  );
  resolving = false;
  if (!called) {
    // Its constructor's arguments are still being computed: take the name now, so that
    // `getActor` finds the actor at once (Ray registers actors synchronously at `.remote()`).
    if (!detached) core.objects.pin(counted);
    if (meta.name !== undefined && !options.getIfExists) {
      registered = true;
      core.sendToBroker({ t: 'register-actor', owner: core.address, meta });
    }
  }
  return handle;
}
