/**
 * The per-process runtime (Ray's CoreWorker): every driver and every worker has one. It is
 * the composition root of the core: it builds the parts below, each given only the slice of
 * the others it uses, routes its reply queue to them, and offers the higher layers (API,
 * worker, runtimes) one surface. Its parts never see it.
 *
 * - `messenger` (messenger.ts): typed sends, requests and their answers, queue declarations
 * - `objects` (object-manager.ts): the object store, encoding, borrowing, fetching
 * - `tasks` (pending-tasks.ts): what this process waits for, and its results
 * - `streams` (stream-table.ts): the generator tasks it owns
 * - `submission` (task-submission.ts): a normal task's record, registration and arguments
 * - `submitter` (task-submitter.ts): leases and pushes of normal tasks
 * - `replies` (reply-router.ts): its reply queue, by message tag; higher layers register too
 */
import { TRANSIENT_PUBLISH, type PublishOptions, type Subscription, type Transport } from '../transport/transport';
import type { ObjectRef } from '../refs/object-ref';
import type { ObjectRefGenerator } from '../refs/object-ref-generator';
import { encodeError, type WireError } from '../serialization/error-codec';
import { RaySystemError, TaskCancelledError } from '../errors/ray-errors';
import { CANCEL_TOPIC, OWNER_DIED_TOPIC, replyQueue, type QueueKind, type QueueMessages } from '../protocol/queues';
import type { WireArg } from '../protocol/wire';
import type { BrokerMsg } from '../protocol/messages/broker';
import type { CancelTaskMsg, ReplyMsg } from '../protocol/messages/reply';
import { actorOfRefKey, actorRefKey, newIdSource, type ActorId, type ObjectId, type PlacementGroupId, type QueueName, type ReplyQueue, type RequestId, type TaskId } from '../protocol/ids';
import { systemClock, type Clock } from '../util/clock';
import { KeepAlive } from '../util/keep-alive';
import { Messenger, type SendErrorHandler } from './messenger';
import { ObjectManager } from './object-manager';
import { PendingTasks, type PendingTask } from './pending-tasks';
import { StreamTable } from './stream-table';
import type { TaskSubmitter } from './task-submitter';
import type { NormalTask } from './normal-task';
import { ReplyRouter, type ReplyHandler, type ReplyTag } from './reply-router';
import { getValues, waitFor } from './ref-resolution';
import { cancelLocal, isRunningHere } from './running-tasks';
import { currentTask, slot, type RuntimeCore } from './runtime-state';
import { BlockedWaits } from './blocked-waits';
import { HandleCollector } from './handle-collector';
import type { LogLinesMsg } from '../protocol/messages/state';
import { TaskTable } from '../observability/task-table';
import { StateResponder } from '../observability/state-responder';
import type { LogPrinter } from '../observability/log-printer';
import { logger } from '../util/logger';
import { answerStateQueries } from './state-sources';
import { CallSequences } from './call-sequences';
import { BlobExchange } from './blob-exchange';
import { messageLimit } from '../transport/message-limit';
import { routeCoreReplies } from './core-replies';
import { recordActorCreation } from './task-records';
import { TaskSubmission } from './task-submission';
import type { CoreWorkerOptions } from './core-options';

export type { PendingTask } from './pending-tasks';

export type { CoreWorkerOptions } from './core-options';

/** Runtime of this process. */
export class CoreWorker implements RuntimeCore {
  readonly address: ReplyQueue;
  readonly clock: Clock;
  readonly messenger: Messenger;
  readonly objects: ObjectManager;
  readonly streams: StreamTable;
  readonly tasks: PendingTasks;
  private madeSubmitter?: TaskSubmitter;
  readonly replies: ReplyRouter;
  /** The tasks this process submitted, for the state API. */
  readonly taskTable: TaskTable;
  /** Answers state queries (the task table, objects; higher layers add theirs). */
  readonly state: StateResponder;
  /** A worker forwards the output lines of work it submitted (set by the worker runtime). */
  logForward?: (msg: LogLinesMsg) => void;
  private printer?: LogPrinter;
  /** The numbering of actor calls per handle (call-sequences.ts). */
  readonly callSeqs = new CallSequences();
  /** Values larger than a message of the bus: held here, or pulled from their holder. */
  readonly blobs: BlobExchange;
  private readonly ids = newIdSource();
  private readonly submission: TaskSubmission;
  private readonly blocking?: BlockedWaits;
  private readonly handleCollector?: HandleCollector;
  private subscription?: Subscription;
  private ownerDiedSub?: Subscription;
  /**
   * A driver's hold on its process while work is outstanding (tasks, requests, get/wait);
   * nothing else of raybus keeps a driver alive, so a script ends when its work ends.
   */
  private readonly keepAlive?: KeepAlive;

  constructor(readonly options: CoreWorkerOptions) {
    this.address = replyQueue(options.procId);
    this.clock = options.clock ?? systemClock;
    // Live records stay with the pending tasks; the table keeps the finished ones.
    this.taskTable = new TaskTable(() => this.clock.now(), { records: () => this.tasks.records(), get: (id) => this.tasks.get(id as TaskId)?.rec });
    this.blobs = new BlobExchange({
      address: this.address,
      clock: this.clock,
      messageLimit: () => messageLimit(options.transport),
      sealed: () => options.transport.authenticated === true,
      send: (queue, msg, onError, transient) => this.messenger.send(queue, msg, undefined, onError && ((err) => onError(err)), transient ? TRANSIENT_PUBLISH : undefined),
    });
    this.messenger = new Messenger(options.transport, {
      address: this.address,
      newRequestId: () => this.ids.next<RequestId>(),
      taskUndeliverable: (taskId, reason) => this.failIfPending(taskId, reason),
      outgoing: (msg) => this.blobs.externalize(msg),
    });
    this.objects = new ObjectManager(this.address, this.messenger, this.ids, (id) => {
      // No handle to an actor this process created is left anywhere: the actor may go.
      const actor = actorOfRefKey(id);
      if (actor) this.messenger.sendToBroker({ t: 'actor-out-of-scope', actor, owner: this.address });
    });
    this.streams = new StreamTable(this.messenger, this.objects, (id) => this.cancelTask(id, false));
    this.tasks = new PendingTasks(this.objects, this.streams, { onStrayResult: (id, retire) => this.madeSubmitter?.onStrayResult(id, retire), onTaskResult: (...a) => this.submitter.onTaskResult(...a) }, this.taskTable);
    const { objects, tasks, taskTable: table } = this;
    const submitter = (): TaskSubmitter => this.submitter;
    this.submission = new TaskSubmission({
      objects,
      tasks,
      get submitter() {
        return submitter();
      },
      table,
      noLog: options.logToDriver === false,
      poke: () => this.keepAlive?.poke(),
    });
    this.replies = new ReplyRouter(this.address, (msg) => this.messenger.answer(msg));
    if (options.blockedNotices) this.blocking = new BlockedWaits(this.clock, options.blockedNotices, currentTask, isRunningHere);
    if (!options.isDriver) this.handleCollector = new HandleCollector(this.clock, (key) => this.objects.store.has(key));
    routeCoreReplies(this);
    const { procId, nodeId, isDriver } = options;
    this.state = new StateResponder(options.transport, { kind: isDriver ? 'driver' : 'worker', id: procId, ...(nodeId ? { nodeId } : {}), pid: process.pid });
    answerStateQueries(this.state, { table: this.taskTable, objects: this.objects.store, address: this.address, procId, ...(nodeId ? { nodeId } : {}), isDriver, startedAt: this.clock.now() });
    if (options.isDriver) {
      // Tasks that can never be scheduled (infeasible, warned about) do not hold the process: a
      // script that does not wait for them ends; one waiting in get/wait is held by that wait.
      this.keepAlive = new KeepAlive(() => (this.tasks.size > 0 && this.tasks.size > (this.madeSubmitter?.infeasibleQueued() ?? 0)) || this.messenger.openRequests > 0, this.clock);
    }
  }

  /**
   * Leases and pushes of the normal tasks this process submits: made (and its modules loaded)
   * by the first one, or the first lease message. An actor's worker seldom submits any.
   */
  get submitter(): TaskSubmitter {
    if (!this.madeSubmitter) {
      const { TaskSubmitter: Submitter } = require('./task-submitter') as typeof import('./task-submitter');
      this.madeSubmitter = new Submitter({
        address: this.address,
        ...(this.options.nodeId ? { nodeId: this.options.nodeId } : {}),
        clock: this.clock,
        outbox: this.messenger,
        newRequestId: () => this.ids.next<RequestId>(),
        failTask: (taskId, err) => this.tasks.failTask(taskId, err),
        table: this.taskTable,
      });
    }
    return this.madeSubmitter;
  }

  /** Keep a driver's process alive until `p` settles (a wait that no task or request covers). */
  hold<T>(p: Promise<T>): Promise<T> {
    return this.keepAlive ? this.keepAlive.hold(p) : p;
  }

  /** Output of work this process submitted: a driver prints it, a worker passes it on. */
  onLogLines(msg: LogLinesMsg): void {
    if (this.logForward) return this.logForward(msg);
    if (this.options.isDriver && this.options.logToDriver !== false) (this.printer ??= newLogPrinter(this.clock)).print(msg);
  }

  get transport(): Transport {
    return this.options.transport;
  }

  /** Declare the reply queue, start consuming, become the process's ref resolver. */
  async start(): Promise<void> {
    this.objects.install();
    await this.transport.assertQueue(this.address, { autoDelete: false });
    const answering = this.state.start().catch((err: unknown) => logger.debug(`raybus: not answering state queries: ${(err as Error).message}`));
    this.ownerDiedSub = await this.messenger.subscribe(OWNER_DIED_TOPIC, 'owner-died', (notice) => {
      this.objects.onOwnerDied(notice.owner);
      this.blobs.onHolderDied(notice.owner);
    });
    await answering;
    this.subscription = await this.transport.consume(this.address, this.replies.onDelivery, { prefetch: 0 });
  }

  /** Stop consuming and fail everything still pending. */
  async stop(reason = 'raybus is shutting down'): Promise<void> {
    if (this.messenger.isClosed) return;
    this.keepAlive?.stop();
    this.messenger.close(reason);
    this.blobs.stop(reason);
    this.madeSubmitter?.shutdown();
    this.printer?.flush();
    await this.state.stop();
    const err = encodeError(new RaySystemError(reason));
    this.objects.store.failPending(() => ({ e: err }));
    await this.subscription?.cancel().catch(() => undefined);
    await this.ownerDiedSub?.cancel().catch(() => undefined);
    await this.transport.deleteQueue(this.address).catch(() => undefined);
    this.objects.uninstall();
  }

  get isClosed(): boolean {
    return this.messenger.isClosed;
  }

  /** A new unique id (hex) of the kind the caller needs. */
  newId<T extends TaskId | ObjectId | ActorId | RequestId | PlacementGroupId>(): T {
    return this.ids.next<T>();
  }

  /** Route reply-queue messages tagged `tag` to `handler` (e.g. `pg-ready`, stream control). */
  registerReplyHandler<T extends ReplyTag>(tag: T, handler: ReplyHandler<T>): void {
    this.replies.register(tag, handler);
  }

  // ---------------------------------------------------------------- messaging (messenger.ts)

  /** Send a typed message (see Messenger.send). */
  send<K extends QueueKind>(queue: QueueName<K>, msg: QueueMessages[K], taskId?: TaskId, onError?: SendErrorHandler<QueueMessages[K]>, options?: PublishOptions): void {
    // An actor call leaves for the actor's mailbox (the handle sends it once its arguments are ready).
    if (taskId !== undefined && (msg as { t: string }).t === 'call') this.taskTable.submitted(this.tasks.get(taskId)?.rec);
    this.messenger.send(queue, msg, taskId, onError, options);
  }

  sendToBroker(msg: BrokerMsg): void {
    if (msg.t === 'create-actor') {
      recordActorCreation(this.taskTable, msg.spec, slot.taskContext.getStore()?.taskId);
      if (this.options.logToDriver === false) msg.spec.ctx = { ...msg.spec.ctx, nolog: true };
    }
    this.messenger.sendToBroker(msg);
  }

  /** Write out what the transport batches now (see Messenger.flush). */
  flushOutgoing(): void {
    this.messenger.flush();
  }

  /** Send a request whose answer comes back to our reply queue tagged with `req`. */
  request<T extends ReplyMsg, K extends QueueKind = QueueKind>(queue: QueueName<K>, build: (req: RequestId, reply: ReplyQueue) => QueueMessages[K]): Promise<T> {
    const p = this.messenger.request<T, K>(queue, build);
    this.keepAlive?.poke();
    return p;
  }

  /** Wait for an answer tagged `req` (the request was sent by other means). */
  awaitRequest<T extends ReplyMsg>(req: RequestId): Promise<T> {
    const p = this.messenger.awaitRequest<T>(req);
    this.keepAlive?.poke();
    return p;
  }

  /** Declare a queue once per process (actor mailboxes). */
  ensureQueue(queue: string): Promise<void> {
    return this.messenger.ensureQueue(queue);
  }

  // ---------------------------------------------------------------- objects (object-manager.ts)

  get store(): ObjectManager['store'] {
    return this.objects.store;
  }

  /** Encode a value for another process: checks it, counts the refs inside it as borrowed. */
  encodeArg(value: unknown, path: string): WireArg {
    return this.objects.encodeArg(value, path);
  }

  /** Take the refs inside received argument bytes; returns the ids to unpin afterwards. */
  receiveArgs(args: WireArg[]): ObjectId[] {
    return this.objects.receiveArgs(args);
  }

  /**
   * Pull the arguments that travelled as blobs (before they are decoded); rejects when one is
   * lost. Undefined when none did.
   */
  fetchArgs(args: WireArg[]): Promise<void> | undefined {
    return this.blobs.localizeArgs(args);
  }

  /** Create a ref owned by this process (a task return or a put). */
  ownedRef<T>(id: ObjectId): ObjectRef<T> {
    return this.objects.ownedRef<T>(id);
  }

  /** `ray.put`: store a value owned by this process. */
  put<T>(value: T): ObjectRef<T> {
    return this.objects.put(value);
  }

  /**
   * Count an actor handle made here (created, or received from `owner`) until it is
   * collected: the actor lives while a handle to it does (see ObjectStore).
   */
  trackActorHandle(handle: object, actor: ActorId, owner: ReplyQueue): void {
    const key = actorRefKey(actor);
    this.objects.store.track(handle, key, owner, true);
    this.handleCollector?.note(key);
  }

  /** Stop counting a handle tracked with `trackActorHandle` (as if it was collected). */
  untrackActorHandle(handle: object, actor: ActorId): void {
    this.objects.store.untrack(handle, actorRefKey(actor));
  }

  /** `ray.get` for one ref or an array; rejects on the first error found. */
  get(refs: ObjectRef<unknown> | ObjectRef<unknown>[], timeoutMs?: number): Promise<unknown> {
    return this.hold(getValues(this.objects, this.clock, refs, timeoutMs, this.blocking?.enter));
  }

  /** `ray.wait`: [ready, notReady] in input order (generators too). */
  wait<W extends ObjectRef<unknown> | ObjectRefGenerator<unknown>>(refs: W[], numReturns: number, timeoutMs?: number): Promise<[W[], W[]]> {
    return this.hold(waitFor(this.objects, this.clock, refs, numReturns, timeoutMs, this.blocking?.enter));
  }

  /** A task or call ended here: a wait it left open no longer keeps its CPU lent out. */
  taskEnded(taskId: TaskId): void {
    this.blocking?.taskEnded(taskId);
    this.handleCollector?.taskEnded();
  }

  // ---------------------------------------------------------------- tasks (pending-tasks.ts)

  /** Is this task or call still waiting for its results? */
  isPending(taskId: TaskId): boolean {
    return this.tasks.isPending(taskId);
  }

  /** An actor call is pending (it is its own task-table record, tracked from now). */
  registerPending(task: PendingTask): void {
    if (task.rec) this.taskTable.track(task.rec);
    this.tasks.register(task);
    this.keepAlive?.poke();
  }

  /** Record that the running task `parent` submitted `child`. */
  addChild(parent: TaskId | undefined, child: TaskId): void {
    this.tasks.addChild(parent, child);
  }

  /** The running task `parent` finished here: forget what it submitted. */
  forgetChildren(parent: TaskId): void {
    this.tasks.forgetChildren(parent);
  }

  /** The pending task that produces `objectId` (a return or a stream's completion), if any. */
  pendingTaskOf(objectId: ObjectId): PendingTask | undefined {
    return this.tasks.pendingTaskOf(objectId);
  }

  /** Fail every return of a pending task with `err` and forget it. */
  failTask(taskId: TaskId, err: WireError): void {
    this.tasks.failTask(taskId, err);
  }

  private failIfPending(taskId: TaskId, reason: string): boolean {
    if (!this.tasks.isPending(taskId)) return false;
    this.tasks.failTask(taskId, encodeError(new RaySystemError(reason)));
    return true;
  }

  /**
   * `ray.cancel`: a queued task never runs, a running one sees its AbortSignal fire (with
   * `force`, its worker is killed); its refs reject with TaskCancelledError, never retried.
   */
  cancelTask(taskId: TaskId, force: boolean, recursive = true): void {
    const t = this.tasks.get(taskId);
    if (!t) return;
    this.streams.cancel(taskId);
    if (!t.actorCall) this.submitter.cancel(taskId, force, recursive, t.submitted);
    // An actor call may still sit in the mailbox: its host drops it (or aborts it) on this notice.
    else this.messenger.broadcast(CANCEL_TOPIC, { task: taskId });
    this.tasks.failTask(taskId, encodeError(new TaskCancelledError(taskId)));
  }

  /** `cancel-task` reached this process: abort the task here, and its children unless not recursive. */
  onCancelTask(msg: CancelTaskMsg): void {
    cancelLocal(msg.task, new TaskCancelledError(msg.task));
    if (msg.recursive === false) return;
    const children = this.tasks.childrenOf(msg.task);
    if (children) for (const child of children) this.cancelTask(child, false);
  }

  /**
   * Open the owner side of a generator task: its single return id is the completion ref, and
   * items arrive on the stream. The generator is released when collected (lifts backpressure).
   */
  openStream(taskId: TaskId, backpressure: number): { generator: ObjectRefGenerator<unknown>; returnIds: ObjectId[] } {
    return this.streams.open(taskId, backpressure);
  }

  /** Submit a normal task (resolution of its arguments first; task-submission.ts). */
  submitTask(task: NormalTask, args: unknown[]): void {
    this.submission.submit(task, args);
  }
}

/** A driver's printer of its workers' output, loaded by the first line: workers print none. */
function newLogPrinter(clock: Clock): LogPrinter {
  const { LogPrinter: Printer } = require('../observability/log-printer') as typeof import('../observability/log-printer');
  return new Printer({ clock });
}
