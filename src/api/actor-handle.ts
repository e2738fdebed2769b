/**
 * Actor handles: typed proxies that turn `handle.m.remote(...)` into messages on the actor's
 * mailbox queue. Calls from one handle are published in submission order, even when an
 * earlier call waits for its ObjectRef arguments (Ray's per-caller ordering).
 */
import { currentJob, requireCore, slot, type RuntimeCore } from '../core/runtime-state';
import { OwnTaskRecord } from '../core/own-task-record';
import type { PendingTask } from '../core/pending-tasks';
import { actorQueue } from '../protocol/queues';
import { actorRefKey, returnIdsOf, type ActorId, type JobId, type ObjectId, type QueueName, type ReplyQueue, type TaskId } from '../protocol/ids';
import { NRET_DYNAMIC, NRET_STREAMING, type ActorMeta, type WireArg } from '../protocol/wire';
import type { CallMsg } from '../protocol/messages/mailbox';
import type { ObjectRef } from '../refs/object-ref';
import { ActorDiedError, PendingCallsLimitExceeded, RayActorError, RayError, RaySystemError } from '../errors/ray-errors';
import { isNoSuchQueue } from '../transport/transport';
import { encodeError } from '../serialization/error-codec';
import { EXT_ACTOR_HANDLE, serializer } from '../serialization/serializer';
import type { WireError } from '../serialization/error-codec';
import { normalizeMethodOptions, mergeMethodOptions } from './options';
import { resolveArgs, setArgGate } from '../core/ref-resolution';
import { setActorHandleRefs } from '../core/object-manager';
import type { CallStream } from '../core/call-sequences';
import { traceContext } from './trace-context';

const HANDLE_MARKER = Symbol.for('raybus.ActorHandle');
const STATE = Symbol('raybus.handleState');

/**
 * A call from a handle, from `.remote()` to its result: at once the handle's outbox entry, the
 * owner's pending entry and the state API's record (one object per call in flight).
 */
class OutgoingCall extends OwnTaskRecord implements PendingTask {
  args: WireArg[] | undefined = undefined;
  error: WireError | undefined = undefined;
  /** Its number in the handle's call sequence, once sent. */
  seq: number | undefined = undefined;
  /** Runs cut short by its actor's death so far (pending-tasks.ts). */
  interrupted: number | undefined = undefined;

  constructor(
    /** The message, sent as it is once its arguments are in (`args`, `sq` filled in then). */
    readonly msg: CallMsg,
    readonly returnIds: ObjectId[],
    /** `Class.method`. */
    readonly functionName: string,
    readonly actorId: ActorId,
    readonly dynamic: boolean,
    readonly parentTaskId: TaskId | undefined,
    private readonly handle: HandleState,
    /** The actor's ref key this call keeps pinned (a counted handle), if any. */
    private readonly pinned: ObjectId | undefined,
    private readonly core: RuntimeCore,
  ) {
    super();
  }

  get taskId(): TaskId {
    return this.msg.task;
  }
  get retries(): number {
    return this.msg.retries;
  }
  get actorCall(): true {
    return true;
  }
  get rec(): OutgoingCall {
    return this;
  }
  get name(): string {
    return this.functionName;
  }
  get type(): 'ACTOR_TASK' {
    return 'ACTOR_TASK';
  }
  get jobId(): string {
    return this.msg.ctx.jobId;
  }
  get resources(): undefined {
    return undefined;
  }
  get placementGroupId(): undefined {
    return undefined;
  }
  /** Done (a result, or failed): the handle counts it out. */
  onDone(): void {
    this.handle.pendingCalls -= 1;
    if (this.pinned) this.core.objects.unpin(this.pinned);
    if (this.seq !== undefined) this.handle.stream?.done(this.seq);
  }
}

interface HandleState {
  meta: ActorMeta;
  /**
   * The actor's owner when this handle counts (it keeps the actor alive): handles made by
   * `.remote()` and those received from a counted one. Absent for detached actors and for
   * handles from `getActor`, which keep nothing alive.
   */
  owner?: ReplyQueue;
  /** Resolves once the mailbox is declared (and, for getIfExists, the target is known). */
  ready: Promise<void> | undefined;
  readyDone: boolean;
  readonly outbox: OutgoingCall[];
  pendingCalls: number;
  flushing: boolean;
  /** The numbering of this handle's calls (made at the first call sent). */
  stream?: CallStream;
  /** The mailbox of `meta.actorId`, named once (getIfExists may point the handle elsewhere). */
  mailbox?: { readonly actorId: string; readonly queue: QueueName<'mailbox'> };
}

/** The last job context of a call without trace: shared by the calls that have none (only read). */
let plainCallCtx: CallMsg['ctx'] | undefined;

function callCtx(job: { readonly jobId: JobId; readonly namespace: string }, trace: { tc?: string }): CallMsg['ctx'] {
  if (trace.tc !== undefined) return { jobId: job.jobId, namespace: job.namespace, attempt: 0, tc: trace.tc };
  if (plainCallCtx?.jobId !== job.jobId || plainCallCtx.namespace !== job.namespace) plainCallCtx = Object.freeze({ jobId: job.jobId, namespace: job.namespace, attempt: 0 });
  return plainCallCtx;
}

const BUILTIN_METHODS = ['__ray_ready__', '__ray_terminate__'] as const;

/** True for actor handles from any copy of raybus. */
export function isActorHandle(v: unknown): boolean {
  return typeof v === 'object' && v !== null && (v as Record<symbol, unknown>)[HANDLE_MARKER] === true;
}

/** The wire form of a handle. */
export function handleMeta(h: object): ActorMeta {
  return (h as unknown as Record<symbol, HandleState>)[STATE]!.meta;
}

/** Rebuild a handle received from another process (`owner`: a counted handle's). */
function handleFromMeta(meta: ActorMeta, owner?: ReplyQueue): object {
  return createHandle(meta, undefined, owner);
}

/**
 * @internal Replace the actor a handle points at (getIfExists found an existing one): the
 * handle no longer counts for the actor it was made for, nor for the one it reaches now.
 */
export function retargetHandle(h: object, meta: ActorMeta): void {
  const state = (h as unknown as Record<symbol, HandleState>)[STATE]!;
  if (meta.actorId !== state.meta.actorId && state.owner) {
    slot.core?.untrackActorHandle(h, state.meta.actorId);
    state.owner = undefined;
  }
  state.meta = meta;
}

/**
 * Build a handle. `ready` gates publishing (mailbox declared, target known); `owner`: the
 * handle counts (see HandleState.owner).
 */
export function createHandle(meta: ActorMeta, ready: Promise<void> | undefined, owner?: ReplyQueue): object {
  // A handle never used must not turn its failure (a constructor argument that failed, a
  // getIfExists answered with an error at shutdown) into an unhandled rejection; calls still see it.
  ready?.catch(() => undefined);
  const state: HandleState = { meta, ready, readyDone: false, outbox: [], pendingCalls: 0, flushing: false, ...(owner ? { owner } : {}) };
  const handle: Record<string | symbol, unknown> = Object.create(ActorHandleBase.prototype) as Record<string | symbol, unknown>;
  if (owner) slot.core?.trackActorHandle(handle, meta.actorId, owner);
  Object.defineProperty(handle, STATE, { value: state });
  Object.defineProperty(handle, 'actorId', { get: () => state.meta.actorId, enumerable: true });
  for (const name of [...Object.keys(meta.methods), ...BUILTIN_METHODS]) {
    Object.defineProperty(handle, name, { value: makeMethod(handle, state, name, {}), enumerable: false });
  }
  return handle;
}

/** The prototype of every handle: marker and a readable inspect form. */
class ActorHandleBase {
  toString(): string {
    return `ActorHandle(${handleMeta(this).className}, ${handleMeta(this).actorId})`;
  }
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return this.toString();
  }
}
Object.defineProperty(ActorHandleBase.prototype, HANDLE_MARKER, { value: true });

// Handles travel as their metadata (with their owner when they count) and are rebuilt where
// they arrive; a counted one travels with its reference (ObjectManager.encodeArg), so the
// process that receives it becomes a borrower of the actor.
serializer.registerExtension<ActorHandleBase>({
  Class: ActorHandleBase,
  type: EXT_ACTOR_HANDLE,
  write: (h) => {
    const state = stateOf(h);
    return state.owner ? [state.meta, state.owner] : state.meta;
  },
  read: (data) => {
    const [meta, owner] = (Array.isArray(data) ? data : [data, undefined]) as [ActorMeta, unknown];
    if (typeof meta?.actorId !== 'string' || typeof meta.methods !== 'object' || meta.methods === null) throw new TypeError('raybus: malformed actor handle');
    if (owner !== undefined && typeof owner !== 'string') throw new TypeError('raybus: malformed actor handle owner');
    return handleFromMeta(meta, owner as ReplyQueue | undefined) as ActorHandleBase;
  },
});

function stateOf(h: object): HandleState {
  return (h as unknown as Record<symbol, HandleState>)[STATE]!;
}

setActorHandleRefs((v) => {
  if (!isActorHandle(v)) return undefined;
  const state = (v as unknown as Record<symbol, HandleState | undefined>)[STATE];
  return state?.owner ? [actorRefKey(state.meta.actorId), state.owner] : undefined;
});

/**
 * Handles whose target is not known yet (`getIfExists` waiting for the broker's answer):
 * one must not travel before it is, or the far side would call an actor that never exists.
 */
const unresolved = new WeakMap<object, Promise<void>>();
let unresolvedCount = 0;

/** @internal Mark handle `h` unresolved until `target` settles. */
export function markUnresolved(h: object, target: Promise<unknown>): void {
  unresolvedCount += 1;
  const done = target.then(
    () => undefined,
    () => undefined,
  );
  unresolved.set(h, done);
  void done.then(() => {
    unresolved.delete(h);
    unresolvedCount -= 1;
  });
}

// An argument holding an unresolved handle waits for it before it is encoded.
setArgGate((value) => (unresolvedCount === 0 ? undefined : findUnresolved(value, 0, new Set())));

function findUnresolved(v: unknown, depth: number, seen: Set<object>): Promise<void> | undefined {
  if (typeof v !== 'object' || v === null || depth > 32 || seen.has(v)) return undefined;
  seen.add(v);
  const own = unresolved.get(v);
  if (own) return own;
  const children = Array.isArray(v) ? v : v instanceof Map ? [...v.values()] : v instanceof Set ? [...v] : Object.getPrototypeOf(v) === Object.prototype ? Object.values(v) : [];
  for (const c of children) {
    const p = findUnresolved(c, depth + 1, seen);
    if (p) return p;
  }
  return undefined;
}

type MethodOptions = ReturnType<typeof normalizeMethodOptions>;

function makeMethod(handle: object, state: HandleState, name: string, options: MethodOptions): unknown {
  const method = function actorMethod(): never {
    throw new TypeError(`Actor methods cannot be called directly. Instead of 'handle.${name}()', use 'handle.${name}.remote()'.`);
  };
  Object.defineProperty(method, 'name', { value: name });
  let qualified: string | undefined;
  Object.assign(method, {
    remote: (...args: unknown[]) => submitCall(handle, state, name, (qualified ??= `${state.meta.className}.${name}`), args, options),
    options: (o: unknown) => makeMethod(handle, state, name, mergeMethodOptions(options, normalizeMethodOptions(o))),
  });
  return method;
}

function submitCall(handle: object, state: HandleState, method: string, qualified: string, args: unknown[], options: MethodOptions): unknown {
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
  const parentTaskId = slot.taskContext.getStore()?.taskId;
  core.addChild(parentTaskId, taskId);
  const backpressure = options.backpressure ?? mm?.backpressure ?? -1;
  const stream = typeof numReturns === 'number' ? undefined : core.openStream(taskId, numReturns === 'streaming' ? backpressure : -1);
  const nret = numReturns === 'streaming' ? NRET_STREAMING : numReturns === 'dynamic' ? NRET_DYNAMIC : numReturns;
  const returnIds = stream?.returnIds ?? returnIdsOf(taskId, nret);
  const refs = numReturns === 'streaming' ? [] : returnIds.map((id) => core.ownedRef(id));
  state.pendingCalls += 1;
  // A call in flight keeps its actor alive (`Actor.remote().m.remote()` still runs).
  const counted = state.owner ? actorRefKey(meta.actorId) : undefined;
  if (counted) core.objects.pin(counted);
  const retries = options.maxTaskRetries ?? mm?.maxTaskRetries ?? meta.maxTaskRetries;
  const msg: CallMsg = {
    t: 'call',
    task: taskId,
    method,
    nret,
    ...(numReturns === 'streaming' && backpressure > 0 ? { bp: backpressure } : {}),
    owner: core.address,
    ctx: callCtx(currentJob(core), traceContext(qualified, taskId, 'actor')),
    retries,
    // Filled in when sent: present from the start, the message keeps one shape.
    args: undefined as unknown as WireArg[],
    sq: undefined,
  };
  const call = new OutgoingCall(msg, returnIds, qualified, meta.actorId, numReturns === 'dynamic', parentTaskId, state, counted, core);
  core.registerPending(call);
  state.outbox.push(call);
  try {
    resolveArgs(
      core.objects,
      args,
      (parts) => {
        if ('error' in parts) call.error = parts.error;
        else call.args = parts;
        flush(state);
      },
      qualified,
      taskId,
    );
  } catch (err) {
    // An argument that cannot be sent: the call never existed (it must neither hold the
    // calls behind it nor keep the process alive).
    const at = state.outbox.lastIndexOf(call);
    if (at >= 0) state.outbox.splice(at, 1);
    core.failTask(taskId, encodeError(err));
    throw err;
  }
  void handle;
  if (stream && numReturns === 'streaming') return stream.generator;
  if (numReturns === 0) return null;
  return numReturns === 1 || numReturns === 'dynamic' ? refs[0] : refs;
}

const BATCH = { batch: true } as const;

/**
 * A call that could not be delivered: where the mailbox is gone (a dead actor's, deleted after
 * its responder period on a bus without queue expiry), the actor is dead.
 */
function callUndeliverable(err: Error, msg: CallMsg, queue: string): void {
  const actor = queue.slice(queue.lastIndexOf('.') + 1);
  const e = isNoSuchQueue(err)
    ? new ActorDiedError(`The actor ${actor} is dead: its mailbox is gone (call '${msg.method}').`, actor)
    : new RaySystemError(`raybus: the call '${msg.method}' could not be delivered to ${queue}: ${err.message}`);
  requireCore().failTask(msg.task, encodeError(e));
}

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
    // Numbered in the order sent: the host keeps that order where the bus might not.
    const sq = (state.stream ??= core.callSeqs.stream()).take();
    head.seq = sq.n;
    const actorId = state.meta.actorId;
    if (state.mailbox?.actorId !== actorId) state.mailbox = { actorId, queue: actorQueue(actorId) };
    const msg = head.msg;
    msg.args = head.args!;
    msg.sq = sq;
    core.send(state.mailbox.queue, msg, msg.task, callUndeliverable, msg.retries === 0 ? BATCH : undefined);
  }
}

/** Type helper: refs returned by a handle call. */
export type CallRefs = ObjectRef<unknown> | ObjectRef<unknown>[] | null;
