/**
 * What an owner (every driver and worker) knows of the tasks it submitted, for the state API:
 * one small record per task, mutated in place as the task moves (Ray's task states), kept in a
 * map while it lives and, once finished, in a bounded ring (100 000 per owner by default,
 * RAYBUS_MAX_FINISHED_TASKS) whose evictions are counted as `dropped`. Nothing here sends a
 * message: the table is read when a state query arrives.
 */
import type { Resources, WireError } from '../protocol/wire';
import type { TaskItem, TaskState, TaskSummaryEntry, TaskType } from '../protocol/state';
import { Ring } from './ring';

/** Default capacity of the ring of finished tasks, per owner (Ray keeps as many task events). */
export const DEFAULT_MAX_FINISHED_TASKS = 100_000;

/** One task as its owner tracks it. */
export interface TaskRecord {
  readonly taskId: string;
  readonly name: string;
  readonly type: TaskType;
  readonly jobId: string;
  readonly actorId?: string;
  readonly parentTaskId?: string;
  readonly resources?: Resources;
  readonly placementGroupId?: string;
  state: TaskState;
  attempt: number;
  nodeId?: string;
  workerId?: string;
  readonly created: number;
  started?: number;
  ended?: number;
  errorType?: string;
  errorMessage?: string;
}

/** What a new record starts with. */
export type NewTask = Omit<TaskRecord, 'state' | 'attempt' | 'created'> & { state?: TaskState };

const FINAL: ReadonlySet<TaskState> = new Set(['FINISHED', 'FAILED']);

/** True once a task finished or failed. */
export function isFinal(state: TaskState): boolean {
  return FINAL.has(state);
}

/** The tasks one owner submitted: live ones by id, finished ones in a ring. */
export class TaskTable {
  private readonly live = new Map<string, TaskRecord>();
  private readonly finished: Ring<TaskRecord>;

  constructor(
    private readonly now: () => number,
    capacity = Number(process.env.RAYBUS_MAX_FINISHED_TASKS) || DEFAULT_MAX_FINISHED_TASKS,
  ) {
    this.finished = new Ring(capacity);
  }

  /** Finished tasks evicted from the ring. */
  get dropped(): number {
    return this.finished.dropped;
  }

  /** A task was submitted (its arguments may still be resolving). */
  add(task: NewTask): TaskRecord {
    const rec = task as TaskRecord;
    rec.state = task.state ?? 'PENDING_ARGS_AVAIL';
    rec.attempt = 0;
    (rec as { created: number }).created = this.now();
    this.live.set(rec.taskId, rec);
    return rec;
  }

  /**
   * A record whose end the owner never learns (an actor's creation: the broker knows when
   * it is alive): kept in the ring from the start, so it is bounded like finished ones.
   */
  addUntracked(task: NewTask): TaskRecord {
    const rec = task as TaskRecord;
    rec.state = task.state ?? 'PENDING_NODE_ASSIGNMENT';
    rec.attempt = 0;
    (rec as { created: number }).created = this.now();
    this.finished.push(rec);
    return rec;
  }

  get(taskId: string): TaskRecord | undefined {
    return this.live.get(taskId) ?? [...this.finished].find((r) => r.taskId === taskId);
  }

  /** The task waits in the owner for a worker (queued, or queued again as attempt `attempt`). */
  queued(rec: TaskRecord | undefined, attempt?: number): void {
    if (!rec || isFinal(rec.state)) return;
    rec.state = 'PENDING_NODE_ASSIGNMENT';
    if (attempt !== undefined) rec.attempt = attempt;
  }

  /** Pushed to a worker: running if it is first in line there, else waiting behind others. */
  pushed(rec: TaskRecord | undefined, nodeId: string, workerId: string, first: boolean): void {
    if (!rec || isFinal(rec.state)) return;
    rec.nodeId = nodeId;
    rec.workerId = workerId;
    if (first) this.running(rec);
    else rec.state = 'SUBMITTED_TO_WORKER';
  }

  /** Sent to its worker's or actor's queue. */
  submitted(rec: TaskRecord | undefined): void {
    if (rec && !isFinal(rec.state)) rec.state = 'SUBMITTED_TO_WORKER';
  }

  /** The worker runs it now (as far as the owner can tell). */
  running(rec: TaskRecord | undefined): void {
    if (!rec || isFinal(rec.state) || rec.state === 'RUNNING') return;
    rec.state = 'RUNNING';
    rec.started = this.now();
  }

  /** Finished (`error` absent) or failed. `us`: how long it ran, as its worker measured. */
  finish(rec: TaskRecord | undefined, error?: WireError, us?: number): void {
    if (!rec || isFinal(rec.state)) return;
    const end = this.now();
    rec.ended = end;
    if (us !== undefined) rec.started = end - us / 1000;
    else rec.started ??= end;
    if (error) {
      rec.state = 'FAILED';
      rec.errorType = error.rayClass ?? error.name;
      rec.errorMessage = error.cause && error.rayClass === 'RayTaskError' ? `${error.cause.name}: ${error.cause.message}` : error.message;
    } else rec.state = 'FINISHED';
    if (this.live.delete(rec.taskId)) this.finished.push(rec);
  }

  /** Every record: live ones, then finished ones (oldest first). */
  *records(): IterableIterator<TaskRecord> {
    yield* this.live.values();
    yield* this.finished;
  }

  /** Counts by function and state (creation tasks are counted by the broker's actors). */
  summary(): Record<string, TaskSummaryEntry> {
    const out: Record<string, TaskSummaryEntry> = {};
    for (const r of this.records()) {
      if (r.type === 'ACTOR_CREATION_TASK') continue;
      const e = (out[r.name] ??= { funcOrClassName: r.name, type: r.type, stateCounts: {} });
      e.stateCounts[r.state] = (e.stateCounts[r.state] ?? 0) + 1;
    }
    return out;
  }
}

/** The state API's row for a record. */
export function taskItem(r: TaskRecord): TaskItem {
  const item: TaskItem = {
    taskId: r.taskId,
    attemptNumber: r.attempt,
    name: r.name,
    state: r.state,
    jobId: r.jobId,
    type: r.type,
    funcOrClassName: r.name,
    creationTimeMs: r.created,
  };
  if (r.actorId !== undefined) item.actorId = r.actorId;
  if (r.parentTaskId !== undefined) item.parentTaskId = r.parentTaskId;
  if (r.nodeId !== undefined) item.nodeId = r.nodeId;
  if (r.workerId !== undefined) item.workerId = r.workerId;
  if (r.errorType !== undefined) item.errorType = r.errorType;
  if (r.errorMessage !== undefined) item.errorMessage = r.errorMessage;
  if (r.started !== undefined) item.startTimeMs = Math.round(r.started);
  if (r.ended !== undefined) item.endTimeMs = r.ended;
  if (r.resources !== undefined) item.requiredResources = { ...r.resources };
  if (r.placementGroupId !== undefined) item.placementGroupId = r.placementGroupId;
  return item;
}
