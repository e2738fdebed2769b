/**
 * The submitter's policies, apart from its lease bookkeeping: how deep to pipeline a key's
 * tasks on one worker (by how long its calls run), which code a worker already has, and
 * which failures are retried.
 */
import type { LeaseId, ObjectId, TaskId, WorkerId } from '../protocol/ids';
import type { CodeDescriptor } from '../serialization/code-shipping';
import type { WireError } from '../serialization/error-codec';
import type { Resources, TaskContextInfo, WireArg, WireStrategy } from '../protocol/wire';
import type { TaskRecord } from '../observability/task-table';

/**
 * Tasks in flight on one worker. Ray keeps one (max_tasks_in_flight_per_worker = 1), so that
 * every lease granted takes a share and CPU work runs in parallel; that also makes every task
 * one full owner → worker → owner round trip. raybus keeps one until it knows how long the
 * function's calls run, and pipelines on a worker only while they run under PIPELINE_FAST_US
 * on average, as many as make about PIPELINE_BUDGET_US of work (at most PIPELINE_MAX): short
 * calls then travel in batches (on a broker, hundreds of trivial calls to a message), no
 * worker holds more than a few milliseconds of work that another could have taken, and long
 * calls still spread one per worker. A worker whose running task waits (an await) gives the
 * ones queued behind it back (tasks-returned), so pipelining never holds work behind a blocked
 * task.
 */
export const PIPELINE_MAX = 512;
/**
 * Bytes of arguments the tasks in flight on one worker may add up to, past the first: a deep
 * pipeline of tasks with large arguments would hold that much in the node and the worker.
 */
export const PIPELINE_MAX_BYTES = 16 * 1024 * 1024;
/** Calls that run this long (µs) on average, or longer, go one per worker. */
export const PIPELINE_FAST_US = 1000;
/** About how much work (µs) the tasks in flight on one worker may add up to. */
const PIPELINE_BUDGET_US = 20_000;
/** What a worker spends on a task besides running it (µs: receiving, answering), counted in the budget. */
const TASK_OVERHEAD_US = 20;

/** Tasks in flight on one worker for calls that run `us` on average. */
export function pipelineDepth(us: number): number {
  if (!(us < PIPELINE_FAST_US)) return 1;
  return Math.max(1, Math.min(PIPELINE_MAX, Math.floor(PIPELINE_BUDGET_US / (Math.max(0, us) + TASK_OVERHEAD_US))));
}
/** Weight of the newest call in the running average of a key's call duration. */
const DURATION_EWMA_WEIGHT = 0.2;
/** Scheduling keys whose call durations are remembered (first seen, first forgotten). */
const MAX_REMEMBERED_KEYS = 1024;
/** Workers whose received code this owner remembers (oldest forgotten first: sent whole again). */
const MAX_REMEMBERED_WORKERS = 1024;

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
  /** Cancelled: queued, it is dropped when it reaches the front; running, its result is ignored and it is never retried. */
  cancelled?: boolean;
  /**
   * A normal task is at once its row in the owner's task table (the state API) and its own
   * entry among its owner's pending tasks (pending-tasks.ts): its function's name, whether it
   * is a 'dynamic' generator, and itself (core/normal-task.ts).
   */
  readonly rec?: TaskRecord;
  readonly functionName?: string;
  readonly dynamic?: boolean;
  readonly submitted?: SubmittedTask;
  /** While in flight on a lease: the bytes its arguments count there (submitter-state.ts addInflight). */
  pushedBytes?: number;
}

/** Bytes of a task's arguments as they travel in its push (inline values; a blob's bytes travel apart). */
export function argBytes(task: SubmittedTask): number {
  const args = task.args;
  let n = 0;
  // Indexed: a for-of over the frozen empty array of a task without arguments allocates an
  // iterator result per step (twice per task: roomFor and push).
  if (args) for (let i = 0; i < args.length; i++) n += args[i]!.d.byteLength;
  return n;
}

/** Running average of how long each key's calls run (µs), kept across bursts of work. */
export class CallDurations {
  private readonly durations = new Map<string, number>();

  /** How many tasks like `task` of `key` may be in flight on one worker. */
  depth(key: string, task: SubmittedTask): number {
    // Generators and maxCalls tasks go one at a time (a retiring worker takes nothing more).
    const us = this.durations.get(key);
    if (task.maxCalls || task.nret < 0 || us === undefined) return 1;
    return pipelineDepth(us);
  }

  /** Fold one call's duration into its key's average (`atLeast`: raise it to at least `us`). */
  note(key: string, us: number, atLeast = false): void {
    const old = this.durations.get(key);
    const next = old === undefined ? us : atLeast ? Math.max(old, us) : old + DURATION_EWMA_WEIGHT * (us - old);
    if (old === undefined && this.durations.size >= MAX_REMEMBERED_KEYS) this.durations.delete(this.durations.keys().next().value!);
    this.durations.set(key, next);
  }
}

/** Which code descriptors each worker was sent whole (by code id). */
export class SentCode {
  private readonly sent = new Map<WorkerId, Set<string>>();

  /**
   * The code descriptor to send `worker`: the whole of it the first time, then only its id
   * and name (the worker keeps descriptors it received, worker/task-queue.ts), so the source
   * of a function is not encoded and decoded again with every task.
   */
  describeFor(worker: WorkerId, fn: CodeDescriptor): CodeDescriptor {
    let sent = this.sent.get(worker);
    if (!sent) {
      if (this.sent.size >= MAX_REMEMBERED_WORKERS) this.sent.delete(this.sent.keys().next().value!);
      this.sent.set(worker, (sent = new Set()));
    }
    if (sent.has(fn.id)) return shortForm(fn);
    sent.add(fn.id);
    return fn;
  }
}

/** The id, name and kind of each descriptor: one frozen object, so messages write it from its cached bytes. */
const shortForms = new WeakMap<CodeDescriptor, CodeDescriptor>();

function shortForm(fn: CodeDescriptor): CodeDescriptor {
  let short = shortForms.get(fn);
  if (!short) shortForms.set(fn, (short = Object.freeze({ id: fn.id, name: fn.name, kind: fn.kind })));
  return short;
}

/** May this task run again (`maxRetries` -1 = forever)? Never once cancelled. */
export function canRetry(task: SubmittedTask): boolean {
  return !task.cancelled && (task.maxRetries === -1 || task.attempt < task.maxRetries);
}

/**
 * Does `retryExceptions` cover this error? `true`: any application error (RayTaskError);
 * a list: the names of the error or of any error along its cause chain.
 */
export function retryable(setting: boolean | string[], err: WireError): boolean {
  if (setting === true) return err.rayClass === 'RayTaskError';
  if (setting === false || !Array.isArray(setting)) return false;
  const names = new Set<string>();
  for (let e: WireError | undefined = err; e; e = e.cause) names.add(e.name);
  return setting.some((n) => names.has(n));
}

/** The first error among a result's outcomes, if any. */
export function firstError(rets: ReadonlyArray<{ e: WireError } | object>): WireError | undefined {
  for (let i = 0; i < rets.length; i++) {
    const r = rets[i]!;
    if ('e' in r) return r.e;
  }
  return undefined;
}
