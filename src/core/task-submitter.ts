/**
 * Owner-side task submission by worker leases, as Ray's direct task submitter: tasks with the
 * same scheduling key (resources, strategy, runtime env) share leases granted by the resource
 * broker; each lease is one worker that this owner pushes tasks to directly, pipelined. A lease
 * is returned once its key has no queued work left.
 */
import type { ObjectId, TaskId, LeaseId, NodeId, WorkerId, RequestId } from '../protocol/ids';
import type { CodeDescriptor } from '../serialization/code-shipping';
import { encodeError, type WireError } from '../serialization/error-codec';
import { WorkerCrashedError } from '../errors/ray-errors';
import { BROKER_QUEUE, nodeQueue, replyQueue, workerQueue } from '../protocol/queues';
import type { LeaseFailedMsg, LeaseGrantedMsg, LeaseLostMsg } from '../protocol/messages/reply';
import type { Resources, TaskContextInfo, WireArg, WireOutcome, WireStrategy } from '../protocol/wire';
import type { TaskMsg } from '../protocol/messages/worker';
import type { CoreWorker } from './core-worker';

/**
 * Tasks in flight on one worker. Ray keeps one (max_tasks_in_flight_per_worker = 1), so that
 * every lease granted takes a share and CPU work runs in parallel; that also makes every task
 * one full owner → worker → owner round trip. raybus keeps one until it knows how long the
 * function's calls run, and pipelines up to PIPELINE_MAX on a worker only while they run
 * under PIPELINE_FAST_US on average: short calls then travel in batches, long ones still
 * spread one per worker. A worker whose running task waits (an await) gives the ones queued
 * behind it back (tasks-returned), so pipelining never holds work behind a blocked task.
 */
export const PIPELINE_MAX = 128;
const PIPELINE_FAST_US = 1000;
/** Weight of the newest call in the running average of a key's call duration. */
const DURATION_EWMA_WEIGHT = 0.2;
/** Wait before asking again when a lease request could not be sent. */
const LEASE_REQUEST_RETRY_MS = 100;
/** Lease requests outstanding at once per scheduling key. */
const MAX_PENDING_LEASE_REQUESTS = 4;

/** A task as the submitter tracks it. */
export interface SubmittedTask {
  readonly taskId: TaskId;
  readonly returnIds: ObjectId[];
  readonly fn: CodeDescriptor;
  args?: WireArg[];
  readonly nret: number;
  readonly demand: Resources;
  readonly strategy: WireStrategy;
  readonly key: string;
  readonly maxRetries: number;
  readonly retryExceptions: boolean | string[];
  attempt: number;
  readonly ctx: Omit<TaskContextInfo, 'attempt'>;
  lease?: LeaseId;
  /** Generator backpressure (items ahead of the consumer). */
  readonly bp?: number;
  /** maxCalls of the function (0 = unlimited). */
  readonly maxCalls?: number;
  /** Cancelled while running: its result is ignored and it is never retried. */
  cancelled?: boolean;
}

interface Lease {
  readonly id: LeaseId;
  readonly worker: WorkerId;
  readonly node: NodeId;
  readonly key: string;
  readonly inflight: Set<SubmittedTask>;
}

interface KeyState {
  readonly key: string;
  readonly demand: Resources;
  readonly strategy: WireStrategy;
  readonly queue: SubmittedTask[];
  readonly leases: Map<LeaseId, Lease>;
  readonly requests: Set<RequestId>;
  returnScheduled: boolean;
}

/** Scheduling keys whose call durations are remembered (first seen, first forgotten). */
const MAX_REMEMBERED_KEYS = 1024;
/** Workers whose received code this owner remembers (oldest forgotten first: sent whole again). */
const MAX_REMEMBERED_WORKERS = 1024;

export class TaskSubmitter {
  private readonly keys = new Map<string, KeyState>();
  private readonly leases = new Map<string, Lease>();
  private readonly requests = new Map<string, KeyState>();
  /** Running average of how long each key's calls run (µs), kept across bursts of work. */
  private readonly durations = new Map<string, number>();
  /** Code descriptors sent whole to each worker (by code id). */
  private readonly sentCode = new Map<string, Set<string>>();
  private stopped = false;

  constructor(private readonly core: CoreWorker) {}

  /** Queue a task whose arguments are ready. */
  enqueue(task: SubmittedTask): void {
    if (this.stopped) return;
    let ks = this.keys.get(task.key);
    if (!ks) {
      ks = { key: task.key, demand: task.demand, strategy: task.strategy, queue: [], leases: new Map(), requests: new Set(), returnScheduled: false };
      this.keys.set(task.key, ks);
    }
    ks.queue.push(task);
    this.pump(ks);
  }

  /** How many tasks like `task` may be in flight on one worker of `ks`. */
  private depth(ks: KeyState, task: SubmittedTask): number {
    // Generators and maxCalls tasks go one at a time (a retiring worker takes nothing more).
    const us = this.durations.get(ks.key);
    if (task.maxCalls || task.nret < 0 || us === undefined) return 1;
    return us < PIPELINE_FAST_US ? PIPELINE_MAX : 1;
  }

  private pump(ks: KeyState): void {
    for (const lease of ks.leases.values()) {
      while (ks.queue.length > 0 && lease.inflight.size < this.depth(ks, ks.queue[0]!)) this.push(lease, ks.queue.shift()!);
    }
    const wanted = Math.min(ks.queue.length, MAX_PENDING_LEASE_REQUESTS);
    // Every task of a key has the same runtime env (the env key is part of the scheduling key).
    const env = ks.queue[0]?.ctx.env;
    while (ks.requests.size < wanted) {
      const req = this.core.newId<RequestId>();
      ks.requests.add(req);
      this.requests.set(req, ks);
      this.requestLease(ks, req, env);
    }
    if (ks.queue.length === 0) this.scheduleReturn(ks);
  }

  /**
   * Ask the broker for a lease. If the request cannot be sent (the bus pushes back, or is
   * reconnecting), forget it and ask again shortly: a lost request must never leave tasks
   * waiting forever.
   */
  private requestLease(ks: KeyState, req: RequestId, env: TaskContextInfo['env']): void {
    this.core.send(
      BROKER_QUEUE,
      {
        t: 'request-lease',
        req,
        owner: this.core.address,
        demand: ks.demand,
        strategy: ks.strategy,
        desc: describe(ks),
        ...(this.core.options.nodeId ? { pref: this.core.options.nodeId } : {}),
        ...(env ? { env } : {}),
      },
      undefined,
      () => {
        if (!this.requests.delete(req)) return;
        ks.requests.delete(req);
        if (this.stopped) return;
        setTimeout(() => this.pump(ks), LEASE_REQUEST_RETRY_MS).unref();
      },
    );
  }

  private push(lease: Lease, task: SubmittedTask): void {
    task.lease = lease.id;
    lease.inflight.add(task);
    const ctx = Object.assign({}, task.ctx, { attempt: task.attempt, res: task.demand }) as TaskContextInfo;
    const msg: TaskMsg = {
      t: 'task',
      task: task.taskId,
      fn: this.describeFor(lease.worker, task.fn),
      args: task.args ?? [],
      nret: task.nret,
      owner: this.core.address,
      ctx,
      lease: lease.id,
    };
    if (task.bp !== undefined && task.bp > 0) msg.bp = task.bp;
    if (task.maxCalls) msg.mc = task.maxCalls;
    this.core.send(workerQueue(lease.worker), msg, undefined, () => {
      // Not delivered (the bus pushed back, or the worker is gone): queue it again and retry
      // shortly; a worker that died is reported (lease-lost) and its lease dropped meanwhile.
      if (!lease.inflight.delete(task) || task.cancelled) return;
      const ks = this.keys.get(lease.key);
      if (!ks) return this.enqueue(task);
      ks.queue.unshift(task);
      setTimeout(() => this.pump(ks), LEASE_REQUEST_RETRY_MS).unref();
    });
  }

  /**
   * The code descriptor to send `worker`: the whole of it the first time, then only its id
   * and name (the worker keeps descriptors it received, node/task-queue.ts), so the source
   * of a function is not encoded and decoded again with every task.
   */
  private describeFor(worker: WorkerId, fn: CodeDescriptor): CodeDescriptor {
    let sent = this.sentCode.get(worker);
    if (!sent) {
      if (this.sentCode.size >= MAX_REMEMBERED_WORKERS) this.sentCode.delete(this.sentCode.keys().next().value!);
      this.sentCode.set(worker, (sent = new Set()));
    }
    if (sent.has(fn.id)) return { id: fn.id, name: fn.name, kind: fn.kind };
    sent.add(fn.id);
    return fn;
  }

  /** Return idle leases once the current burst of work has been handed out. */
  private scheduleReturn(ks: KeyState): void {
    if (ks.returnScheduled) return;
    ks.returnScheduled = true;
    setImmediate(() => {
      ks.returnScheduled = false;
      if (ks.queue.length > 0) return;
      for (const lease of [...ks.leases.values()]) if (lease.inflight.size === 0) this.returnLease(lease);
      for (const req of ks.requests) this.core.sendToBroker({ t: 'cancel-lease-request', req });
      for (const req of ks.requests) this.requests.delete(req);
      ks.requests.clear();
      if (ks.leases.size === 0) this.keys.delete(ks.key);
    });
  }

  private returnLease(lease: Lease): void {
    const ks = this.keys.get(lease.key);
    ks?.leases.delete(lease.id);
    this.leases.delete(lease.id);
    this.core.sendToBroker({ t: 'return-lease', lease: lease.id });
  }

  onLeaseMessage(msg: LeaseGrantedMsg | LeaseFailedMsg | LeaseLostMsg): void {
    if (msg.t === 'lease-lost') return this.onLeaseLost(msg);
    if (msg.t === 'lease-failed' && !this.requests.has(msg.req)) return;
    const ks = this.requests.get(msg.req);
    this.requests.delete(msg.req);
    ks?.requests.delete(msg.req);
    if (msg.t === 'lease-failed') {
      if (!ks) return;
      // The work can never be scheduled (e.g. hard affinity to a dead node): fail what is queued.
      for (const task of ks.queue.splice(0)) this.core.failTask(task.taskId, msg.err);
      return;
    }
    if (!ks || this.stopped) {
      this.core.sendToBroker({ t: 'return-lease', lease: msg.lease });
      return;
    }
    const lease: Lease = { id: msg.lease, worker: msg.worker, node: msg.node, key: ks.key, inflight: new Set() };
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
      else if (!msg.fatal && this.canRetry(task)) {
        task.attempt += 1;
        requeue.push(task);
      } else {
        this.core.failTask(
          task.taskId,
          encodeError(new WorkerCrashedError(`The worker running task ${task.fn.name} (${task.taskId}) died unexpectedly: ${msg.reason}`)),
        );
      }
    }
    lease.inflight.clear();
    if (ks) {
      ks.queue.unshift(...requeue);
      this.pump(ks);
    } else for (const task of requeue) this.enqueue(task);
  }

  /**
   * The worker of a lease will not start these soon (the task it runs is waiting): queue
   * them again, in order, and stop pipelining this key (its calls do not all run short).
   */
  onTasksReturned(leaseId: LeaseId, taskIds: string[]): void {
    const lease = this.leases.get(leaseId);
    if (!lease) return;
    const ks = this.keys.get(lease.key);
    const back: SubmittedTask[] = [];
    for (const id of taskIds) {
      for (const task of lease.inflight) {
        if (task.taskId !== id) continue;
        lease.inflight.delete(task);
        if (!task.cancelled) back.push(task);
        break;
      }
    }
    if (!ks) {
      for (const task of back) this.enqueue(task);
      return;
    }
    this.noteDuration(ks.key, PIPELINE_FAST_US, true);
    ks.queue.unshift(...back);
    this.pump(ks);
  }

  /** Fold one call's duration into its key's average (`atLeast`: raise it to at least `us`). */
  private noteDuration(key: string, us: number, atLeast = false): void {
    const old = this.durations.get(key);
    const next = old === undefined ? us : atLeast ? Math.max(old, us) : old + DURATION_EWMA_WEIGHT * (us - old);
    if (old === undefined && this.durations.size >= MAX_REMEMBERED_KEYS) this.durations.delete(this.durations.keys().next().value!);
    this.durations.set(key, next);
  }

  private canRetry(task: SubmittedTask): boolean {
    return !task.cancelled && (task.maxRetries === -1 || task.attempt < task.maxRetries);
  }

  /** The result of a task the owner already failed (cancelled) came back: free its slot. */
  onStrayResult(taskId: TaskId, retire: boolean): void {
    for (const lease of this.leases.values()) {
      for (const task of lease.inflight) {
        if (task.taskId !== taskId) continue;
        lease.inflight.delete(task);
        if (retire) this.returnLease(lease);
        const ks = this.keys.get(lease.key);
        if (ks) this.pump(ks);
        return;
      }
    }
  }

  /** A result arrived: decide on an application-level retry. Returns true if retried. */
  onTaskResult(task: SubmittedTask, rets: WireOutcome[], retire = false, us?: number): boolean {
    const lease = task.lease ? this.leases.get(task.lease) : undefined;
    lease?.inflight.delete(task);
    if (us !== undefined) this.noteDuration(task.key, us);
    if (lease && retire) {
      // The worker reached maxCalls and is exiting: give the lease back, push it nothing more.
      this.returnLease(lease);
    }
    const failed = rets.find((r): r is { e: WireError } => 'e' in r);
    if (failed && this.canRetry(task) && retryable(task.retryExceptions, failed.e)) {
      task.attempt += 1;
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
   * Cancel a task this process submitted. A queued task is dropped; a running one is told to
   * abort (and with `force` its worker is killed). Either way it is never retried.
   */
  cancel(taskId: TaskId, force: boolean, recursive = true): 'queued' | 'running' | 'unknown' {
    for (const ks of this.keys.values()) {
      const i = ks.queue.findIndex((t) => t.taskId === taskId);
      if (i >= 0) {
        ks.queue.splice(i, 1);
        return 'queued';
      }
      for (const lease of ks.leases.values()) {
        for (const task of lease.inflight) {
          if (task.taskId !== taskId) continue;
          // It stays in flight (its worker answers for it when it returns, dies, or drops it
          // unstarted) but is never retried. Only the first in flight runs: killing the worker
          // for a task queued behind it would kill the one running.
          task.cancelled = true;
          this.core.send(replyQueue(lease.worker), { t: 'cancel-task', task: taskId, recursive });
          if (force && task === runningTask(lease)) this.core.send(nodeQueue(lease.node), { t: 'kill-worker', lease: lease.id });
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
    for (const ks of this.keys.values()) {
      for (const req of ks.requests) this.requests.delete(req);
      ks.requests.clear();
    }
    for (const ks of [...this.keys.values()]) this.pump(ks);
    return [...this.leases.values()].map((l): [LeaseId, NodeId] => [l.id, l.node]);
  }

  shutdown(): void {
    this.stopped = true;
    this.keys.clear();
    this.leases.clear();
    this.requests.clear();
  }
}

/**
 * The task a lease's worker is running (or about to): it runs what it is pushed one at a
 * time in push order and writes each result before the next starts, so it is the first in
 * flight; the others have not started.
 */
function runningTask(lease: Lease): SubmittedTask | undefined {
  return lease.inflight.values().next().value;
}

function describe(ks: KeyState): string {
  return ks.strategy.kind === 'DEFAULT' ? '' : `strategy ${ks.strategy.kind}`;
}

/** Does `retryExceptions` cover this error? Matches the cause's name (or the error's). */
function retryable(setting: boolean | string[], err: WireError): boolean {
  if (setting === true) return err.rayClass === 'RayTaskError';
  if (setting === false || !Array.isArray(setting)) return false;
  const names = new Set<string>();
  for (let e: WireError | undefined = err; e; e = e.cause) names.add(e.name);
  return setting.some((n) => names.has(n));
}
