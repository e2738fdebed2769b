/**
 * Owner-side task submission by worker leases, as Ray's direct task submitter: tasks with the
 * same scheduling key (resources, strategy, runtime env) share leases granted by the resource
 * broker; each lease is one worker that this owner pushes tasks to directly, pipelined. A lease
 * whose key has no queued work left is kept idle for a short while (LEASE_IDLE_MS) for the
 * key's next task, as Ray's owner reuses a lease while it has work: one task after another
 * with a gap between them (a request handler, a loop awaiting I/O) then pays no lease request
 * and return each. It goes back once that time passes without work, or at once when the
 * broker says that work of some owner waits for resources (`leases-wanted`) (lease-keeper.ts).
 */
import type { TaskId, LeaseId, NodeId, RequestId, ReplyQueue } from '../protocol/ids';
import { encodeError, type WireError } from '../serialization/error-codec';
import { WorkerCrashedError } from '../errors/ray-errors';
import { BROKER_QUEUE, nodeQueue, replyQueue, workerQueue } from '../protocol/queues';
import type { LeaseFailedMsg, LeaseGrantedMsg, LeaseLostMsg } from '../protocol/messages/reply';
import type { TaskContextInfo, WireOutcome } from '../protocol/wire';
import type { TaskMsg, WorkerMsg } from '../protocol/messages/worker';
import type { BrokerMsg } from '../protocol/messages/broker';
import type { Clock } from '../util/clock';
import { Deque } from '../util/deque';
import type { TaskTable } from '../observability/task-table';
import { CallDurations, PIPELINE_FAST_US, PIPELINE_MAX_BYTES, SentCode, argBytes, canRetry, firstError, retryable, type SubmittedTask } from './submit-policy';

export { PIPELINE_MAX, PIPELINE_MAX_BYTES, pipelineDepth, type SubmittedTask } from './submit-policy';
import { addInflight, clearInflight, describe, dropCancelled, findTask, removeInflight, runningTask, type KeyState, type Lease, type SubmitterOutbox } from './submitter-state';
import { LEASE_REQUEST_RETRY_MS, LeaseKeeper } from './lease-keeper';

/** Lease requests outstanding at once per scheduling key. */
const MAX_PENDING_LEASE_REQUESTS = 4;

/** What the submitter needs of the rest of the runtime. */
export interface SubmitterPort {
  /** The owner's reply queue (results and lease answers come back here). */
  readonly address: ReplyQueue;
  /** The node this process runs on: the DEFAULT strategy prefers it. */
  readonly nodeId?: NodeId;
  /** Times the retries of lease requests and pushes that could not be sent. */
  readonly clock: Clock;
  readonly outbox: SubmitterOutbox;
  newRequestId(): RequestId;
  /** Fail every return of a task (it can never run, or its worker died for the last time). */
  failTask(taskId: TaskId, err: WireError): void;
  /** The owner's task table: each task's state as it moves (the state API reads it). */
  readonly table?: TaskTable;
}

/** Submits the normal tasks of one process on worker leases (see the file comment). */
export class TaskSubmitter {
  private readonly keys = new Map<string, KeyState>();
  private readonly leases = new Map<string, Lease>();
  private readonly requests = new Map<string, KeyState>();
  private readonly durations = new CallDurations();
  private readonly sentCode = new SentCode();
  private stopped = false;
  private readonly outbox: SubmitterOutbox;
  /** See setHomeNode. */
  private home?: NodeId;
  /** Keeps idle leases for their key's next task and returns them (lease-keeper.ts). */
  private readonly keeper: LeaseKeeper;

  constructor(private readonly port: SubmitterPort) {
    this.outbox = port.outbox;
    const { keys, leases, requests } = this;
    this.keeper = new LeaseKeeper({ clock: port.clock, outbox: port.outbox, keys, leases, requests, stopped: () => this.stopped });
  }

  /** A driver on no node: DEFAULT packs its tasks on `node` (as Ray does on a driver's node). */
  setHomeNode(node: NodeId | undefined): void {
    this.home = node;
  }

  /** Queue a task whose arguments are ready. */
  enqueue(task: SubmittedTask): void {
    if (this.stopped || task.cancelled) return;
    let ks = this.keys.get(task.key);
    if (!ks) {
      ks = { key: task.key, demand: task.demand, strategy: task.strategy, queue: new Deque(), leases: new Map(), requests: new Set(), returnScheduled: false, idleTimer: undefined };
      this.keys.set(task.key, ks);
    }
    ks.queue.push(task);
    this.port.table?.queued(task.rec);
    this.pump(ks);
  }

  private pump(ks: KeyState): void {
    dropCancelled(ks);
    for (const lease of ks.leases.values()) {
      if (lease.blocked) continue;
      while (ks.queue.length > 0 && this.roomFor(lease, ks.key, ks.queue.peek()!)) {
        this.push(lease, ks.queue.shift()!);
        dropCancelled(ks);
      }
    }
    const wanted = Math.min(ks.queue.length, MAX_PENDING_LEASE_REQUESTS);
    // Every task of a key has the same runtime env (the env key is part of the scheduling key).
    const env = ks.queue.peek()?.ctx.env;
    while (ks.requests.size < wanted) {
      const req = this.port.newRequestId();
      ks.requests.add(req);
      this.requests.set(req, ks);
      this.requestLease(ks, req, env);
    }
    if (ks.queue.length === 0) this.keeper.scheduleReturn(ks);
  }

  /**
   * May `next` go in flight on `lease`: always when nothing is, else while the key's pipeline
   * depth and PIPELINE_MAX_BYTES of arguments allow.
   */
  private roomFor(lease: Lease, key: string, next: SubmittedTask): boolean {
    const n = lease.inflight.size;
    if (n === 0) return true;
    return n < this.durations.depth(key, next) && lease.inflightBytes + argBytes(next) <= PIPELINE_MAX_BYTES;
  }

  /**
   * Ask the broker for a lease. If the request cannot be sent (the bus pushes back, or is
   * reconnecting), forget it and ask again shortly: a lost request must never leave tasks
   * waiting forever.
   */
  private requestLease(ks: KeyState, req: RequestId, env: TaskContextInfo['env']): void {
    const pref = this.port.nodeId ?? this.home;
    this.outbox.send(
      BROKER_QUEUE,
      {
        t: 'request-lease',
        req,
        owner: this.port.address,
        demand: ks.demand,
        strategy: ks.strategy,
        desc: describe(ks),
        ...(pref ? { pref } : {}),
        ...(env ? { env } : {}),
      },
      undefined,
      this.leaseRequestFailed,
    );
  }

  private readonly leaseRequestFailed = (_err: Error, msg: BrokerMsg): void => {
    if (msg.t !== 'request-lease') return;
    const ks = this.requests.get(msg.req);
    if (!ks) return;
    this.requests.delete(msg.req);
    ks.requests.delete(msg.req);
    if (!this.stopped) this.retryLater(ks);
  };

  private retryLater(ks: KeyState): void {
    this.port.clock.setTimeout(() => this.pump(ks), LEASE_REQUEST_RETRY_MS);
  }

  /** The last context pushed, and what it was made of: a run of tasks of one function shares it. */
  private lastCtx: { readonly base: SubmittedTask['ctx']; readonly attempt: number; readonly demand: SubmittedTask['demand']; readonly ctx: TaskContextInfo } | undefined;

  /** A task's context as its worker gets it: with its attempt and its resources (only read once made). */
  private pushedCtx(task: SubmittedTask): TaskContextInfo {
    const last = this.lastCtx;
    if (last?.base === task.ctx && last.attempt === task.attempt && last.demand === task.demand) return last.ctx;
    const ctx = Object.freeze({ ...task.ctx, attempt: task.attempt, res: task.demand });
    this.lastCtx = { base: task.ctx, attempt: task.attempt, demand: task.demand, ctx };
    return ctx;
  }

  private push(lease: Lease, task: SubmittedTask): void {
    lease.idleSince = undefined;
    task.lease = lease.id;
    this.port.table?.pushed(task.rec, lease.node, lease.worker, lease.inflight.size === 0);
    addInflight(lease, task, argBytes(task));
    const ctx = this.pushedCtx(task);
    const msg: TaskMsg = {
      t: 'task',
      task: task.taskId,
      fn: this.sentCode.describeFor(lease.worker, task.fn),
      args: task.args ?? [],
      nret: task.nret,
      owner: this.port.address,
      ctx,
      lease: lease.id,
    };
    if (task.bp !== undefined && task.bp > 0) msg.bp = task.bp;
    if (task.maxCalls) msg.mc = task.maxCalls;
    this.outbox.send(lease.queue, msg, undefined, this.pushFailed);
  }

  /**
   * A push was not delivered (the bus pushed back, or the worker is gone): queue the task
   * again and retry shortly; a worker that died is reported (lease-lost) and its lease
   * dropped meanwhile.
   */
  private readonly pushFailed = (_err: Error, msg: WorkerMsg): void => {
    if (msg.t !== 'task') return;
    const lease = this.leases.get(msg.lease);
    const task = lease && findTask(lease, msg.task);
    if (!lease || !task) return;
    this.leave(lease, task);
    if (task.cancelled) return;
    const ks = this.keys.get(lease.key);
    if (!ks) return this.enqueue(task);
    ks.queue.unshift(task);
    this.port.table?.queued(task.rec);
    this.retryLater(ks);
  };

  /** `task` is off `lease`: the one now first in flight there runs (a worker runs them in push order). */
  private leave(lease: Lease, task: SubmittedTask): void {
    removeInflight(lease, task);
    if (lease.blocked === task) lease.blocked = undefined;
    this.port.table?.running(runningTask(lease)?.rec);
  }

  /** Work of some owner waits for resources (`leases-wanted`): give back every idle lease now. */
  returnIdleLeases(): void {
    this.keeper.returnIdleLeases();
  }

  /** The broker found a lease request infeasible: its key's queued tasks wait visibly. */
  onLeaseInfeasible(req: RequestId): void {
    const ks = this.requests.get(req);
    if (ks) ks.infeasible = true;
  }

  /** Queued tasks of keys the broker found infeasible (they alone do not keep a driver alive). */
  infeasibleQueued(): number {
    let n = 0;
    for (const ks of this.keys.values()) if (ks.infeasible) n += ks.queue.length;
    return n;
  }

  onLeaseMessage(msg: LeaseGrantedMsg | LeaseFailedMsg | LeaseLostMsg): void {
    if (msg.t === 'lease-lost') return this.onLeaseLost(msg);
    if (msg.t === 'lease-failed' && !this.requests.has(msg.req)) return;
    const ks = this.requests.get(msg.req);
    if (ks) ks.infeasible = false;
    this.requests.delete(msg.req);
    ks?.requests.delete(msg.req);
    if (msg.t === 'lease-failed') {
      if (!ks) return;
      // The work can never be scheduled (e.g. hard affinity to a dead node): fail what is queued.
      for (const task of ks.queue.drain()) if (!task.cancelled) this.port.failTask(task.taskId, msg.err);
      return;
    }
    if (!ks || this.stopped) {
      this.outbox.send(BROKER_QUEUE, { t: 'return-lease', lease: msg.lease });
      return;
    }
    const lease: Lease = { id: msg.lease, worker: msg.worker, queue: workerQueue(msg.worker), node: msg.node, key: ks.key, inflight: new Set(), inflightBytes: 0 };
    if (!this.keys.has(ks.key)) this.keys.set(ks.key, ks);
    ks.leases.set(lease.id, lease);
    this.leases.set(lease.id, lease);
    this.pump(ks);
  }

  /**
   * The worker of a lease died: its in-flight tasks are retried or fail. A worker runs what
   * it is pushed one at a time in push order, so only the first in flight had started; the
   * others never ran and are queued again without spending a retry.
   */
  private onLeaseLost(msg: LeaseLostMsg): void {
    const lease = this.leases.get(msg.lease);
    if (!lease) return;
    this.leases.delete(lease.id);
    const ks = this.keys.get(lease.key);
    ks?.leases.delete(lease.id);
    const requeue: SubmittedTask[] = [];
    const running = runningTask(lease);
    for (const task of lease.inflight) {
      if (task.cancelled) continue;
      if (task !== running && !msg.fatal) requeue.push(task);
      else if (!msg.fatal && canRetry(task)) {
        task.attempt += 1;
        requeue.push(task);
      } else {
        this.port.failTask(
          task.taskId,
          encodeError(new WorkerCrashedError(`The worker running task ${task.fn.name} (${task.taskId}) died unexpectedly: ${msg.reason}`)),
        );
      }
    }
    clearInflight(lease);
    for (const task of requeue) this.port.table?.queued(task.rec, task.attempt);
    if (ks) {
      ks.queue.unshiftAll(requeue);
      this.pump(ks);
    } else for (const task of requeue) this.enqueue(task);
  }

  /**
   * The worker of a lease will not start these soon (the task it runs is waiting): queue
   * them again, in order, and stop pipelining this key (its calls do not all run short).
   * `blocked`: it waits in `get`/`wait` (its CPU lent out): push nothing more until it ends.
   */
  onTasksReturned(leaseId: LeaseId, taskIds: string[], blocked = false): void {
    const lease = this.leases.get(leaseId);
    if (!lease) return;
    if (blocked) lease.blocked = runningTask(lease);
    const ks = this.keys.get(lease.key);
    const back: SubmittedTask[] = [];
    for (const id of taskIds) {
      for (const task of lease.inflight) {
        if (task.taskId !== id) continue;
        removeInflight(lease, task);
        if (!task.cancelled) back.push(task);
        break;
      }
    }
    if (!ks) {
      for (const task of back) this.enqueue(task);
      return;
    }
    this.durations.note(ks.key, PIPELINE_FAST_US, true);
    for (const task of back) this.port.table?.queued(task.rec);
    ks.queue.unshiftAll(back);
    this.pump(ks);
  }

  /** The result of a task the owner already failed (cancelled) came back: free its slot. */
  onStrayResult(taskId: TaskId, retire: boolean): void {
    for (const lease of this.leases.values()) {
      for (const task of lease.inflight) {
        if (task.taskId !== taskId) continue;
        this.leave(lease, task);
        if (retire) this.keeper.returnLease(lease);
        const ks = this.keys.get(lease.key);
        if (ks) this.pump(ks);
        return;
      }
    }
  }

  /** A result arrived: decide on an application-level retry. Returns true if retried. */
  onTaskResult(task: SubmittedTask, rets: WireOutcome[], retire = false, us?: number): boolean {
    const lease = task.lease ? this.leases.get(task.lease) : undefined;
    if (lease) this.leave(lease, task);
    if (us !== undefined) this.durations.note(task.key, us);
    if (lease && retire) {
      // The worker reached maxCalls and is exiting: give the lease back, push it nothing more.
      this.keeper.returnLease(lease);
    }
    const failed = firstError(rets);
    if (failed && canRetry(task) && retryable(task.retryExceptions, failed)) {
      task.attempt += 1;
      this.port.table?.queued(task.rec, task.attempt);
      const ks = this.keys.get(task.key);
      if (ks) {
        ks.queue.unshift(task);
        this.pump(ks);
      } else this.enqueue(task);
      return true;
    }
    const ks = lease ? this.keys.get(lease.key) : undefined;
    if (ks) this.pump(ks);
    return false;
  }

  /**
   * Cancel a task this process submitted. A queued task is dropped (marked: it leaves the
   * queue when it reaches the front, so cancelling many queued tasks costs O(1) each); a
   * running one is told to abort (and with `force` its worker is killed). Either way it is
   * never retried. `task`: the submitted task, when the caller has it (else found by id).
   */
  cancel(taskId: TaskId, force: boolean, recursive = true, task?: SubmittedTask): 'queued' | 'running' | 'unknown' {
    if (task && task.lease === undefined) {
      // Never pushed: queued (dropped when it reaches the front), or its arguments still
      // resolving (then it is never queued).
      task.cancelled = true;
      return 'queued';
    }
    // Pushed once: in flight on a lease (found by id: a retry or a requeue may be another
    // object), or back in a queue.
    for (const ks of this.keys.values()) {
      if (ks.queue.removeFirst((t) => t.taskId === taskId)) return 'queued';
      for (const l of ks.leases.values()) {
        for (const t of l.inflight) {
          if (t.taskId !== taskId) continue;
          // It stays in flight (its worker answers for it when it returns, dies, or drops it
          // unstarted) but is never retried. Only the first in flight runs: killing the worker
          // for a task queued behind it would kill the one running.
          t.cancelled = true;
          this.outbox.send(replyQueue(l.worker), { t: 'cancel-task', task: taskId, recursive });
          if (force && t === runningTask(l)) this.outbox.send(nodeQueue(l.node), { t: 'kill-worker', lease: l.id });
          return 'running';
        }
      }
    }
    return 'unknown';
  }

  /**
   * A new broker leader took over: forget lease requests the old one held (their answers are
   * ignored), ask again where tasks wait, and return the leases still held (id, node) so
   * the new leader can rebuild its ledger.
   */
  resync(): Array<[LeaseId, NodeId]> {
    // Leases kept idle are not carried over a leader change or a reconnect: the new leader may
    // not know them, or their node may be gone with the old leader, and work pushed to such a
    // lease would wait for its loss to be noticed. They go back; new work asks for fresh ones.
    this.keeper.returnIdleLeases();
    for (const ks of this.keys.values()) {
      for (const req of ks.requests) this.requests.delete(req);
      ks.requests.clear();
      ks.infeasible = false;
    }
    for (const ks of [...this.keys.values()]) this.pump(ks);
    return [...this.leases.values()].map((l): [LeaseId, NodeId] => [l.id, l.node]);
  }

  shutdown(): void {
    this.keeper.shutdown();
    this.stopped = true;
    this.keys.clear();
    this.leases.clear();
    this.requests.clear();
  }
}

