/**
 * Actor handles: typed proxies that turn `handle.m.remote(...)` into messages on the actor's
 * mailbox queue. Calls from one handle are published in submission order, even when an
 * earlier call waits for its ObjectRef arguments (Ray's per-caller ordering).
 */
import { requireCore, slot } from '../core/runtime-state';
import { actorQueue } from '../protocol/queues';
import { returnId, type TaskId } from '../protocol/ids';
import { NRET_DYNAMIC, NRET_STREAMING, type ActorMeta, type WireArg } from '../protocol/wire';
import type { CallMsg } from '../protocol/messages/mailbox';
import type { ObjectRef } from '../refs/object-ref';
import { PendingCallsLimitExceeded, RayActorError, RayError } from '../errors/ray-errors';
import { encodeError } from '../serialization/error-codec';
import { EXT_ACTOR_HANDLE, serializer } from '../serialization/serializer';
import type { WireError } from '../serialization/error-codec';
import { normalizeMethodOptions, mergeMethodOptions } from './options';
import { resolveArgs } from '../core/ref-resolution';
import { traceContext } from './trace-context';

const HANDLE_MARKER = Symbol.for('raybus.ActorHandle');
const STATE = Symbol('raybus.handleState');

interface OutgoingCall {
  readonly msg: Omit<CallMsg, 'args'>;
  args?: WireArg[];
  error?: WireError;
}

interface HandleState {
  meta: ActorMeta;
  /** Resolves once the mailbox is declared (and, for getIfExists, the target is known). */
  ready: Promise<void> | undefined;
  readyDone: boolean;
  readonly outbox: OutgoingCall[];
  pendingCalls: number;
  flushing: boolean;
}

export const BUILTIN_METHODS = ['__ray_ready__', '__ray_terminate__'] as const;

/** True for actor handles from any copy of raybus. */
export function isActorHandle(v: unknown): boolean {
  return typeof v === 'object' && v !== null && (v as Record<symbol, unknown>)[HANDLE_MARKER] === true;
}

/** The wire form of a handle. */
export function handleMeta(h: object): ActorMeta {
  return (h as unknown as Record<symbol, HandleState>)[STATE]!.meta;
}

/** Rebuild a handle received from another process. */
export function handleFromMeta(meta: ActorMeta): object {
  return createHandle(meta, undefined);
}

/** @internal Replace the actor a handle points at (getIfExists found an existing one). */
export function retargetHandle(h: object, meta: ActorMeta): void {
  (h as unknown as Record<symbol, HandleState>)[STATE]!.meta = meta;
}

/** Build a handle. `ready` gates publishing (mailbox declared, target known). */
export function createHandle(meta: ActorMeta, ready: Promise<void> | undefined): object {
  // A handle never used must not turn its failure (a constructor argument that failed, a
  // getIfExists answered with an error at shutdown) into an unhandled rejection; calls still see it.
  ready?.catch(() => undefined);
  const state: HandleState = { meta, ready, readyDone: false, outbox: [], pendingCalls: 0, flushing: false };
  const handle: Record<string | symbol, unknown> = Object.create(ActorHandleBase.prototype) as Record<string | symbol, unknown>;
  Object.defineProperty(handle, STATE, { value: state });
  Object.defineProperty(handle, 'actorId', { get: () => state.meta.actorId, enumerable: true });
  for (const name of [...Object.keys(meta.methods), ...BUILTIN_METHODS]) {
    Object.defineProperty(handle, name, { value: makeMethod(handle, state, name, {}), enumerable: false });
  }
  return handle;
}

/** The prototype of every handle: marker and a readable inspect form. */
export class ActorHandleBase {
  toString(): string {
    return `ActorHandle(${handleMeta(this).className}, ${handleMeta(this).actorId})`;
  }
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return this.toString();
  }
}
Object.defineProperty(ActorHandleBase.prototype, HANDLE_MARKER, { value: true });

// Handles travel as their metadata and are rebuilt where they arrive.
serializer.registerExtension<ActorHandleBase>({
  Class: ActorHandleBase,
  type: EXT_ACTOR_HANDLE,
  write: (h) => handleMeta(h),
  read: (data) => {
    const meta = data as ActorMeta;
    if (typeof meta?.actorId !== 'string' || typeof meta.methods !== 'object' || meta.methods === null) throw new TypeError('raybus: malformed actor handle');
    return handleFromMeta(meta) as ActorHandleBase;
  },
});

type MethodOptions = ReturnType<typeof normalizeMethodOptions>;

function makeMethod(handle: object, state: HandleState, name: string, options: MethodOptions): unknown {
  const method = function actorMethod(): never {
    throw new TypeError(`Actor methods cannot be called directly. Instead of 'handle.${name}()', use 'handle.${name}.remote()'.`);
  };
  Object.defineProperty(method, 'name', { value: name });
  Object.assign(method, {
    remote: (...args: unknown[]) => submitCall(handle, state, name, args, options),
    options: (o: unknown) => makeMethod(handle, state, name, mergeMethodOptions(options, normalizeMethodOptions(o))),
  });
  return method;
}

function submitCall(handle: object, state: HandleState, method: string, args: unknown[], options: MethodOptions): unknown {
  const core = requireCore();
  const meta = state.meta;
  if (meta.maxPendingCalls !== -1 && state.pendingCalls >= meta.maxPendingCalls) {
    throw new PendingCallsLimitExceeded(
      `Actor ${meta.className} (${meta.actorId}) already has ${state.pendingCalls} pending calls from this handle (maxPendingCalls=${meta.maxPendingCalls})`,
    );
  }
  const mm = meta.methods[method];
  const numReturns = options.numReturns ?? mm?.numReturns ?? (mm?.isGenerator ? 'streaming' : 1);
  const taskId = core.newId<TaskId>();
  core.addChild(slot.taskContext.getStore()?.taskId, taskId);
  const backpressure = options.backpressure ?? mm?.backpressure ?? -1;
  const stream = typeof numReturns === 'number' ? undefined : core.openStream(taskId, numReturns === 'streaming' ? backpressure : -1);
  const nret = numReturns === 'streaming' ? NRET_STREAMING : numReturns === 'dynamic' ? NRET_DYNAMIC : numReturns;
  const returnIds = stream?.returnIds ?? Array.from({ length: nret }, (_, i) => returnId(taskId, i));
  const refs = numReturns === 'streaming' ? [] : returnIds.map((id) => core.ownedRef(id));
  state.pendingCalls += 1;
  core.registerPending({
    taskId,
    returnIds,
    dynamic: numReturns === 'dynamic',
    actorCall: true,
    actorId: meta.actorId,
    functionName: `${meta.className}.${method}`,
    onDone: () => {
      state.pendingCalls -= 1;
    },
  });
  const retries = options.maxTaskRetries ?? mm?.maxTaskRetries ?? meta.maxTaskRetries;
  const call: OutgoingCall = {
    msg: {
      t: 'call',
      task: taskId,
      method,
      nret,
      ...(numReturns === 'streaming' && backpressure > 0 ? { bp: backpressure } : {}),
      owner: core.address,
      ctx: { jobId: core.options.jobId, namespace: core.options.namespace, attempt: 0, ...traceContext(`${meta.className}.${method}`, taskId, 'actor') },
      retries,
    },
  };
  state.outbox.push(call);
  resolveArgs(
    core.objects,
    args,
    (parts) => {
      if ('error' in parts) call.error = parts.error;
      else call.args = parts;
      flush(state);
    },
    `${meta.className}.${method}`,
    taskId,
  );
  void handle;
  if (stream && numReturns === 'streaming') return stream.generator;
  if (numReturns === 0) return null;
  return numReturns === 1 || numReturns === 'dynamic' ? refs[0] : refs;
}

const BATCH = { batch: true } as const;

/** Publish the calls at the head of the outbox whose arguments are ready, in order. */
function flush(state: HandleState): void {
  if (!state.readyDone) {
    if (state.flushing) return;
    state.flushing = true;
    const core = requireCore();
    const ready = state.ready ?? core.ensureQueue(actorQueue(state.meta.actorId));
    ready.then(
      () => {
        state.readyDone = true;
        state.flushing = false;
        flush(state);
      },
      (err: unknown) => {
        state.flushing = false;
        const wire = err instanceof RayError ? encodeError(err) : encodeError(new RayActorError(String((err as Error).message ?? err), state.meta.actorId));
        for (const call of state.outbox.splice(0)) core.failTask(call.msg.task, wire);
        // Later calls on this handle fail the same way.
        state.ready = Promise.reject(err);
        state.ready.catch(() => undefined);
      },
    );
    return;
  }
  const core = requireCore();
  while (state.outbox.length > 0) {
    const head = state.outbox[0]!;
    if (!head.args && !head.error) return;
    state.outbox.shift();
    // Cancelled before it was sent: it never reaches the actor.
    if (!core.isPending(head.msg.task)) continue;
    if (head.error) {
      core.failTask(head.msg.task, head.error);
      continue;
    }
    // Calls that are never retried may travel batched: should a batch come again after the
    // actor died, the new incarnation answers each call with RayActorError, which an owner
    // that already has the result ignores. A retried call must never run twice, so it travels
    // alone (adapters/amqp/README.md, batching).
    core.send(actorQueue(state.meta.actorId), { ...head.msg, args: head.args! }, head.msg.task, undefined, head.msg.retries === 0 ? BATCH : undefined);
  }
}

/** Type helper: refs returned by a handle call. */
export type CallRefs = ObjectRef<unknown> | ObjectRef<unknown>[] | null;
