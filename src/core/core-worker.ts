/**
 * The per-process runtime (Ray's CoreWorker): every driver and every worker has one. It owns
 * the objects it creates, submits tasks and actor calls, resolves ObjectRefs and answers
 * borrowers. All of its traffic goes through one Transport.
 */
import { firstValueFrom, map, type Observable } from 'rxjs';
import type { Delivery, PublishOptions, Subscription, Transport } from '../transport/transport';
import { ObjectRef, isObjectRef, setRefResolver } from '../refs/object-ref';
import { ObjectStore } from '../refs/object-store';
import {
  DEFAULT_MAX_MESSAGE_BYTES,
  decodeEnvelope,
  decodeValue,
  encodeEnvelope,
  encodeValue,
  registerRefClasses,
  setSerializationHooks,
} from '../serialization/serializer';
import { scanValue } from '../serialization/value-check';
import { decodeError, encodeError } from '../serialization/error-codec';
import { OwnerDiedError, RaySystemError } from '../errors/ray-errors';
import { BROKER_QUEUE, CANCEL_TOPIC, OWNER_DIED_TOPIC, replyQueue, type QueueKind, type QueueMessages } from '../protocol/queues';
import { type ActorMeta, NRET_DYNAMIC, type WireArg, type WireError, type WireOutcome, type WireRef } from '../protocol/wire';
import type { BrokerMsg } from '../protocol/messages/broker';
import type { ReplyMsg } from '../protocol/messages/reply';
import { TaskSubmitter, type SubmittedTask } from './task-submitter';
import { StreamReceiver } from './stream-receiver';
import { getValues, resolveArgs, waitFor } from './ref-resolution';
import { onStreamControl } from '../worker/generator-runner';
import { cancelLocal } from './running-tasks';
import { ObjectRefGenerator } from '../refs/object-ref-generator';
import { TaskCancelledError } from '../errors/ray-errors';
import { ActorHandleBase, isActorHandle, handleFromMeta, handleMeta } from '../api/actor-handle';
import { isPlacementGroup, onPlacementGroupReady } from '../api/placement-group';

import { completionId as completionIdOf, newIdSource, taskOfObject, type ActorId, type JobId, type NodeId, type ObjectId, type PlacementGroupId, type ProcId, type QueueName, type ReplyQueue, type RequestId, type TaskId, type WorkerId } from '../protocol/ids';
import type { RuntimeEnv } from '../protocol/runtime-env';

/** Identity and collaborators of one process's runtime. */
export interface CoreWorkerOptions {
  readonly procId: ProcId | WorkerId;
  readonly transport: Transport;
  readonly jobId: JobId;
  readonly namespace: string;
  readonly nodeId?: NodeId;
  readonly isDriver: boolean;
  /**
   * Largest encoded value this process sends (the transport's message limit). Values above it
   * are refused where they are produced: at `.remote()` / `put`, or as the task's error.
   */
  readonly maxPayloadBytes?: number;
  /**
   * The runtime env work submitted from this process inherits: the job's on a driver, the
   * worker's own (its effective env) in a worker.
   */
  readonly runtimeEnv?: RuntimeEnv;
}

/** A task or actor call whose results this process is waiting for. */
export interface PendingTask {
  readonly taskId: TaskId;
  readonly returnIds: ObjectId[];
  readonly functionName: string;
  /** Called with the result message; return true to keep waiting (a retry was submitted). */
  onResult?(rets: WireOutcome[], retire?: boolean, us?: number): boolean;
  onDone?(): void;
  /** A 'dynamic' generator task: its single return is the generator of its items. */
  readonly dynamic?: boolean;
  /** An actor method call (not a normal task). */
  readonly actorCall?: boolean;
}

/** A generator the caller dropped releases its stream (no producer stays paused). */
const generatorRegistry = new FinalizationRegistry<StreamReceiver>((r) => r.release());

/** Handles and placement groups travel as themselves (msgpack extensions). */
function isWireObject(v: object): boolean {
  return isActorHandle(v) || isPlacementGroup(v) || (v instanceof ObjectRefGenerator && v.refs !== undefined);
}

/** Runtime of this process. */
export class CoreWorker {
  readonly address: ReplyQueue;
  readonly store: ObjectStore;
  readonly submitter: TaskSubmitter;
  private readonly pending = new Map<TaskId, PendingTask>();
  /** Tasks and actor calls submitted from inside each running task (for recursive cancel). */
  readonly children = new Map<TaskId, Set<TaskId>>();
  /** Generator tasks this process owns, by task id. */
  readonly streams = new Map<TaskId, StreamReceiver>();
  private readonly requests = new Map<RequestId, (msg: ReplyMsg) => void>();
  private readonly ids = newIdSource();
  private subscription?: Subscription;
  private ownerDiedSub?: Subscription;
  /** Owners known to be gone (bounded): their objects are lost. */
  private readonly deadOwners = new Set<ReplyQueue>();
  private readonly declared = new Map<string, Promise<void>>();
  private closed = false;

  /** The transport's synchronous publish, where it has one (in-memory bus, IPC link). */
  private readonly publishSync: ((queue: string, body: Uint8Array, options?: PublishOptions) => void) | undefined;

  constructor(readonly options: CoreWorkerOptions) {
    const sync = (options.transport as Partial<{ publishSync(q: string, b: Uint8Array, o?: PublishOptions): void }>).publishSync;
    this.publishSync = typeof sync === 'function' ? sync.bind(options.transport) : undefined;
    this.address = replyQueue(options.procId);
    this.store = new ObjectStore(this.address, {
      releaseBorrow: (id, owner, n) => this.send(owner, { t: 'borrow', id, n: -n }),
    });
    this.submitter = new TaskSubmitter(this);
  }

  get transport(): Transport {
    return this.options.transport;
  }

  /** Declare the reply queue, start consuming, install serialization hooks. */
  async start(): Promise<void> {
    registerRefClasses(ObjectRef, ActorHandleBase, ObjectRefGenerator);
    setSerializationHooks({
      encodeRef: (ref) => {
        const r = ref as ObjectRef<unknown>;
        return [r.id, r.owner];
      },
      decodeRef: (data) => {
        const [id, owner] = data as WireRef;
        const ref = new ObjectRef(id, owner);
        this.store.track(ref, id, owner);
        return ref;
      },
      encodeHandle: (h) => handleMeta(h),
      decodeHandle: (data) => handleFromMeta(data as ActorMeta),
    });
    setRefResolver({ observe: (ref) => this.observe(ref) });
    await this.transport.assertQueue(this.address, { autoDelete: false });
    this.ownerDiedSub = await this.transport.subscribe(OWNER_DIED_TOPIC, (body) => {
      try {
        this.onOwnerDied((decodeEnvelope(body) as { owner: ReplyQueue }).owner);
      } catch {
        /* malformed notice: ignored */
      }
    });
    this.subscription = await this.transport.consume(this.address, (d) => this.onReply(d), { prefetch: 0 });
  }

  /** Stop consuming and fail everything still pending. */
  async stop(reason = 'raybus is shutting down'): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.submitter.shutdown();
    const err = encodeError(new RaySystemError(reason));
    this.store.failPending(() => ({ e: err }));
    for (const [, resolve] of this.requests) resolve({ t: 'ack', req: '' as RequestId, err });
    this.requests.clear();
    await this.subscription?.cancel().catch(() => undefined);
    await this.ownerDiedSub?.cancel().catch(() => undefined);
    await this.transport.deleteQueue(this.address).catch(() => undefined);
    setRefResolver(undefined);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** A new unique id (hex) of the kind the caller needs. */
  newId<T extends TaskId | ObjectId | ActorId | RequestId | PlacementGroupId>(): T {
    return this.ids.next<T>();
  }

  // ---------------------------------------------------------------- messaging

  /** The message limit in force (see CoreWorkerOptions.maxPayloadBytes). */
  get maxPayloadBytes(): number {
    return this.options.maxPayloadBytes ?? (Number(process.env.RAYBUS_MAX_MESSAGE_BYTES) || DEFAULT_MAX_MESSAGE_BYTES);
  }

  /**
   * Send an envelope to a queue. Failures are logged, or, with `taskId`, fail that task
   * (a task whose message cannot be delivered must not wait forever).
   */
  send<K extends QueueKind>(queue: QueueName<K>, msg: QueueMessages[K], taskId?: TaskId, onError?: (err: Error) => void, options?: PublishOptions): void {
    if (this.closed && queue !== BROKER_QUEUE) return;
    const body = encodeEnvelope(msg);
    if (this.publishSync) {
      // In-process transports take the message at once: no promise per message. A failure is
      // still reported asynchronously, as a rejected publish would be.
      try {
        this.publishSync(queue, body, options);
      } catch (err) {
        queueMicrotask(() => this.sendFailed(err as Error, queue, taskId, onError));
      }
      return;
    }
    this.transport.publish(queue, body, options).catch((err: unknown) => this.sendFailed(err as Error, queue, taskId, onError));
  }

  /** A send failed: tell `onError`, else fail the task it was for, else warn. */
  private sendFailed(err: Error, queue: string, taskId?: TaskId, onError?: (err: Error) => void): void {
    if (this.closed) return;
    if (onError) return onError(err);
    if (taskId && this.pending.has(taskId)) {
      this.failTask(taskId, encodeError(new RaySystemError(`raybus: the message for task ${taskId} could not be delivered to ${queue}: ${err.message}`)));
      return;
    }
    process.emitWarning(`raybus: publish to ${queue} failed: ${err.message}`);
  }

  /**
   * Write out what the transport batches now. A worker does before it starts each task or
   * actor call: should that call kill the process, the calls before it have delivered their
   * results (and acks), so the owner knows exactly which one was running.
   */
  flushOutgoing(): void {
    (this.transport as Partial<{ flush(): void }>).flush?.();
  }

  sendToBroker(msg: BrokerMsg): void {
    this.send(BROKER_QUEUE, msg);
  }

  /** Send a request whose answer comes back to our reply queue tagged with `req`. */
  request<T extends ReplyMsg, K extends QueueKind = QueueKind>(queue: QueueName<K>, build: (req: RequestId, reply: ReplyQueue) => QueueMessages[K]): Promise<T> {
    if (this.closed) return Promise.reject(new RaySystemError('raybus is not running'));
    const req = this.newId<RequestId>();
    return new Promise<T>((resolve) => {
      this.requests.set(req, resolve as (m: ReplyMsg) => void);
      this.send(queue, build(req, this.address));
    });
  }

  /** Wait for an answer tagged `req` (the request was sent by other means). */
  awaitRequest<T extends ReplyMsg>(req: RequestId): Promise<T> {
    if (this.closed) return Promise.reject(new RaySystemError('raybus is not running'));
    return new Promise<T>((resolve) => this.requests.set(req, resolve as (m: ReplyMsg) => void));
  }

  /** Declare a queue once per process (actor mailboxes). */
  ensureQueue(queue: string): Promise<void> {
    let p = this.declared.get(queue);
    if (!p) {
      p = this.transport.assertQueue(queue);
      this.declared.set(queue, p);
    }
    return p;
  }

  /** Is this task or call still waiting for its results? */
  isPending(taskId: TaskId): boolean {
    return this.pending.has(taskId);
  }

  registerPending(task: PendingTask): void {
    this.pending.set(task.taskId, task);
  }

  /** Record that the running task `parent` submitted `child`. */
  addChild(parent: TaskId | undefined, child: TaskId): void {
    if (!parent) return;
    let set = this.children.get(parent);
    if (!set) this.children.set(parent, (set = new Set()));
    set.add(child);
  }

  /** The pending task that produces `objectId` (a return or a stream's completion), if any. */
  pendingTaskOf(objectId: ObjectId): PendingTask | undefined {
    return this.pending.get(taskOfObject(objectId));
  }

  /**
   * `ray.cancel`: a queued task never runs, a running one sees its AbortSignal fire (with
   * `force`, its worker is killed); its refs reject with TaskCancelledError, never retried.
   */
  cancelTask(taskId: TaskId, force: boolean, recursive = true): void {
    const t = this.pending.get(taskId);
    if (!t) return;
    this.streams.get(taskId)?.cancel();
    if (!t.actorCall) this.submitter.cancel(taskId, force, recursive);
    // An actor call may still sit in the mailbox: its host drops it (or aborts it) on this notice.
    else this.transport.broadcast(CANCEL_TOPIC, encodeEnvelope({ task: taskId })).catch(() => undefined);
    this.failTask(taskId, encodeError(new TaskCancelledError(taskId)));
  }

  /** Fail every return of a pending task with `err` and forget it. */
  failTask(taskId: TaskId, err: WireError): void {
    const t = this.pending.get(taskId);
    if (!t) return;
    this.pending.delete(taskId);
    this.streams.get(taskId)?.end({ e: err });
    this.streams.delete(taskId);
    for (const id of t.returnIds) this.store.fulfil(id, { e: err });
    t.onDone?.();
  }

  private onReply(d: Delivery): void {
    d.ack();
    let msg: ReplyMsg;
    try {
      msg = decodeEnvelope(d.body) as ReplyMsg;
      if (typeof msg !== 'object' || msg === null || typeof (msg as { t?: unknown }).t !== 'string') throw new Error('no message tag');
    } catch (err) {
      process.emitWarning(`raybus: dropped a malformed message on ${this.address}: ${(err as Error).message}`);
      return;
    }
    try {
      this.dispatch(msg);
    } catch (err) {
      process.emitWarning(`raybus: failed to handle '${msg.t}' on ${this.address}: ${(err as Error).stack}`);
    }
  }

  private dispatch(msg: ReplyMsg): void {
    switch (msg.t) {
      case 'result':
        return this.onResult(msg.task, msg.rets, msg.retire === true, msg.n, msg.us);
      case 'tasks-returned':
        return this.submitter.onTasksReturned(msg.lease, msg.tasks);
      case 'get-object':
        return this.answerGetObject(msg.id, msg.reply);
      case 'object':
        return this.receiveOutcome(msg.id, msg.out);
      case 'borrow':
        if (msg.n > 0) this.store.addBorrower(msg.id, msg.n);
        else this.store.removeBorrower(msg.id, -msg.n);
        return;
      case 'lease-granted':
      case 'lease-failed':
      case 'lease-lost':
        return this.submitter.onLeaseMessage(msg);
      case 'pg-ready':
        return onPlacementGroupReady(msg.pg);
      case 'stream-item':
        this.streams.get(msg.task)?.onItem(msg.seq, msg.out, msg.from);
        return;
      case 'stream-ack':
      case 'stream-release':
      case 'stream-cancel':
        return onStreamControl(msg);
      case 'cancel-task':
        cancelLocal(msg.task, new TaskCancelledError(msg.task));
        // recursive (the default): the children this task submitted are cancelled too.
        if (msg.recursive !== false) for (const child of this.children.get(msg.task) ?? []) this.cancelTask(child, false);
        return;
      default: {
        const req = (msg as { req?: RequestId }).req;
        const resolve = req ? this.requests.get(req) : undefined;
        if (resolve) {
          this.requests.delete(req!);
          resolve(msg);
        }
      }
    }
  }

  private onResult(taskId: TaskId, rets: WireOutcome[], retire = false, streamed?: number, us?: number): void {
    const t = this.pending.get(taskId);
    if (!t) {
      // Already failed here (cancelled): the worker is done with it all the same.
      this.submitter.onStrayResult(taskId, retire);
      for (const r of rets) this.releaseOutcomeRefs(r);
      return;
    }
    if (t.onResult?.(rets, retire, us)) return;
    this.pending.delete(taskId);
    const stream = this.streams.get(taskId);
    if (stream) {
      this.streams.delete(taskId);
      // A producer streams its own failure as the last item (and says how many it sent); an
      // error answered by anyone else (a dead actor's mailbox) is appended here.
      const first = rets[0];
      stream.end(streamed === undefined && first && 'e' in first ? first : undefined);
      if (t.dynamic) {
        const out = this.encodeArg(new ObjectRefGenerator({ refs: stream.allRefs() }), 'dynamic generator');
        this.receiveOutcome(t.returnIds[0]!, out);
        t.onDone?.();
        return;
      }
    }
    t.returnIds.forEach((id, i) => this.receiveOutcome(id, rets[i] ?? rets[0] ?? { e: encodeError(new RaySystemError('missing return value')) }));
    t.onDone?.();
  }

  /** Store an outcome that arrived from another process, taking its contained refs. */
  receiveOutcome(id: ObjectId, out: WireOutcome): void {
    if ('d' in out && out.r?.length) {
      for (const [rid, owner] of out.r) this.store.received(rid, owner);
      this.store.fulfil(id, out, out.r.map(([rid]) => rid));
    } else {
      this.store.fulfil(id, out);
    }
  }

  private releaseOutcomeRefs(out: WireOutcome): void {
    if ('d' in out && out.r) for (const [rid, owner] of out.r) {
      this.store.received(rid, owner);
      this.store.unpin(rid);
    }
  }

  private answerGetObject(id: ObjectId, reply: ReplyQueue): void {
    if (!this.store.has(id)) {
      this.send(reply, { t: 'object', id, out: { e: encodeError(new RaySystemError(`object ${id} was freed or never existed on its owner`)) } });
      return;
    }
    this.store.pin(id);
    firstValueFrom(this.store.outcome$(id)).then(
      (out) => {
        this.noteSent('d' in out ? out.r : undefined);
        this.send(reply, { t: 'object', id, out });
        this.store.unpin(id);
      },
      () => this.store.unpin(id),
    );
  }

  // ---------------------------------------------------------------- values

  /** Encode a value for another process: checks it, counts the refs inside it as borrowed. */
  encodeArg(value: unknown, path: string): WireArg {
    const scan = scanValue(value, path, isObjectRef, isWireObject);
    const d = encodeValue(value);
    if (d.byteLength > this.maxPayloadBytes) {
      throw new RangeError(
        `raybus: ${path} is ${d.byteLength} bytes encoded, above this cluster's message limit of ${this.maxPayloadBytes} bytes ` +
          '(RAYBUS_MAX_MESSAGE_BYTES); pass a smaller value, or split it',
      );
    }
    if (scan.refs.length === 0) return { d };
    const r = (scan.refs as ObjectRef<unknown>[]).map((ref): WireRef => [ref.id, ref.owner]);
    this.noteSent(r);
    return { d, r };
  }

  /** Bytes carrying refs are leaving this process: one borrow token per ref. */
  noteSent(refs: WireRef[] | undefined): void {
    if (!refs) return;
    for (const [id, owner] of refs) {
      if (owner === this.address) this.store.addBorrower(id, 1);
      else this.send(owner, { t: 'borrow', id, n: 1 });
    }
  }

  /** Take the refs inside received argument bytes; returns the ids to unpin afterwards. */
  receiveArgs(args: WireArg[]): ObjectId[] {
    const pinned: ObjectId[] = [];
    for (const a of args) if (a.r) for (const [id, owner] of a.r) {
      this.store.received(id, owner);
      pinned.push(id);
    }
    return pinned;
  }

  /** Create a ref owned by this process (a task return or a put). */
  ownedRef<T>(id: ObjectId): ObjectRef<T> {
    const ref = new ObjectRef<T>(id, this.address);
    this.store.track(ref, id, this.address);
    return ref;
  }

  /** `ray.put`: store a value owned by this process. */
  put<T>(value: T): ObjectRef<T> {
    const arg = this.encodeArg(value, 'value');
    const id = this.newId<ObjectId>();
    const ref = this.ownedRef<T>(id);
    if (arg.r) for (const [rid, owner] of arg.r) this.store.received(rid, owner);
    this.store.fulfil(id, arg, arg.r?.map(([rid]) => rid));
    return ref;
  }


  /** A process that owned objects is gone: fail what we borrowed from it and still wait for. */
  private onOwnerDied(owner: ReplyQueue): void {
    if (owner === this.address) return;
    this.deadOwners.add(owner);
    if (this.deadOwners.size > 10_000) this.deadOwners.delete(this.deadOwners.values().next().value!);
    for (const id of this.store.pendingFrom(owner)) this.store.fulfil(id, this.ownerDiedOutcome(id, owner));
  }

  private ownerDiedOutcome(id: ObjectId, owner: ReplyQueue): WireOutcome {
    return { e: encodeError(new OwnerDiedError(`The object ${id} is lost: its owner (${owner}) has died.`)) };
  }

  /** Outcome stream of a ref, fetching it from its owner if borrowed. */
  outcome$(ref: ObjectRef<unknown>): Observable<WireOutcome> {
    this.fetchIfBorrowed(ref);
    return this.store.outcome$(ref.id);
  }

  /**
   * Call `cb` once with the outcome of `ref` (at once if it is here), fetching it from its
   * owner if borrowed; returns a function that cancels the wait. Cheaper than `outcome$` where
   * many refs are awaited at once (`get` of a list).
   */
  onOutcome(ref: ObjectRef<unknown>, cb: (out: WireOutcome) => void): () => void {
    this.fetchIfBorrowed(ref);
    return this.store.onOutcome(ref.id, cb);
  }

  /** A borrowed ref that is not here yet: ask its owner once (or fail it if the owner died). */
  private fetchIfBorrowed(ref: ObjectRef<unknown>): void {
    if (ref.owner !== this.address && !this.store.isReady(ref.id) && this.deadOwners.has(ref.owner)) {
      this.store.fulfil(ref.id, this.ownerDiedOutcome(ref.id, ref.owner));
    } else if (ref.owner !== this.address && !this.store.isReady(ref.id) && this.store.markFetch(ref.id)) {
      this.transport.publish(ref.owner, encodeEnvelope({ t: 'get-object', id: ref.id, reply: this.address })).catch(() => {
        // The owner's queue is gone: the owner died, and its objects with it (Ray: OwnerDiedError).
        this.store.fulfil(ref.id, {
          e: encodeError(new OwnerDiedError(`The object ${ref.id} is lost: its owner (${ref.owner}) has died.`)),
        });
      });
    }
  }

  /** Decode an outcome into a value, or throw its error. */
  decodeOutcome(out: WireOutcome): unknown {
    if ('e' in out) throw decodeError(out.e);
    return decodeValue(out.d);
  }

  observe(ref: ObjectRef<unknown>): Observable<unknown> {
    return this.outcome$(ref).pipe(map((out) => this.decodeOutcome(out)));
  }

  /** `ray.get` for one ref or an array; rejects on the first error found. */
  get(refs: ObjectRef<unknown> | ObjectRef<unknown>[], timeoutMs?: number): Promise<unknown> {
    return getValues(this, refs, timeoutMs);
  }

  /** `ray.wait`: [ready, notReady] in input order (generators too). */
  wait<W extends ObjectRef<unknown> | ObjectRefGenerator<unknown>>(refs: W[], numReturns: number, timeoutMs?: number): Promise<[W[], W[]]> {
    return waitFor(this, refs, numReturns, timeoutMs);
  }

  // ---------------------------------------------------------------- tasks

  /**
   * Open the owner side of a generator task: its single return id is the completion ref, and
   * items arrive on the stream. The generator is released when collected (lifts backpressure).
   */
  openStream(taskId: TaskId, backpressure: number): { generator: ObjectRefGenerator<unknown>; returnIds: ObjectId[] } {
    const completionId = completionIdOf(taskId);
    const receiver = new StreamReceiver(this, taskId, this.ownedRef(completionId), backpressure);
    this.streams.set(taskId, receiver);
    // Only the caller holds the generator: once it is collected, the stream is released.
    const generator = new ObjectRefGenerator<unknown>({ source: receiver });
    generatorRegistry.register(generator, receiver);
    return { generator, returnIds: [completionId] };
  }

  /** Submit a normal task (resolution of its arguments first). */
  submitTask(task: SubmittedTask, args: unknown[]): void {
    this.registerPending({
      taskId: task.taskId,
      returnIds: task.returnIds,
      functionName: task.fn.name,
      dynamic: task.nret === NRET_DYNAMIC,
      onResult: (rets, retire, us) => this.submitter.onTaskResult(task, rets, retire, us),
    });
    resolveArgs(
      this,
      args,
      (parts) => {
        // Cancelled while its arguments were resolving: it never runs.
        if (!this.pending.has(task.taskId)) return;
        if ('error' in parts) return this.failTask(task.taskId, parts.error);
        task.args = parts;
        this.submitter.enqueue(task);
      },
      task.fn.name,
      task.taskId,
    );
  }
}
