/**
 * What an owner (every driver and worker) knows of the tasks it submitted, for the state API:
 * one small record per task, mutated in place as the task moves (Ray's task states), kept
 * while it lives (with the owner's pending tasks) and, once finished, written into a bounded
 * ring of columns (100 000 per owner by default, RAYBUS_MAX_FINISHED_TASKS) whose evictions are
 * counted as `dropped`. Durations of finished tasks are counted into fixed buckets (the
 * `raybus_task_duration_seconds` histogram: a few comparisons per task). Nothing here sends a
 * message: the table is read when a state query arrives.
 */
import type { Resources, WireError } from '../protocol/wire';
import { TASK_DURATION_BUCKETS_S, TASK_STATES, type DurationCounts, type TaskItem, type TaskState, type TaskSummaryEntry, type TaskType } from '../protocol/state';
import { ByteColumn, ColumnRing, IdColumn, NumberColumn, RefColumn } from './columns';

/** Default capacity of the ring of finished tasks, per owner (Ray keeps as many task events). */
const DEFAULT_MAX_FINISHED_TASKS = 100_000;

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

/** A record its owner makes itself (a normal task is its own record, core/normal-task.ts). */
export interface OwnRecord extends TaskRecord {
  created: number;
}

/** What a new record starts with. */
export type NewTask = Omit<TaskRecord, 'state' | 'attempt' | 'created'> & { state?: TaskState };

/**
 * A record with the fields a queued task has in place from the start (state and attempt
 * change while it waits): added later, they would go to a separate property store, one more
 * object per queued task. Those of a task that runs (node, worker, times, error) are added
 * then, to the few that are running.
 */
function newRecord(task: NewTask, state: TaskState, created: number): OwnRecord {
  return {
    taskId: task.taskId,
    name: task.name,
    type: task.type,
    jobId: task.jobId,
    actorId: task.actorId,
    parentTaskId: task.parentTaskId,
    resources: task.resources,
    placementGroupId: task.placementGroupId,
    state,
    attempt: 0,
    created,
  };
}

const FINAL: ReadonlySet<TaskState> = new Set(['FINISHED', 'FAILED']);

/** True once a task finished or failed. */
function isFinal(state: TaskState): boolean {
  return FINAL.has(state);
}

/** Where the live records are, when their owner keeps them anyway (its pending tasks). */
export interface LiveRecords {
  records(): Iterable<TaskRecord | undefined>;
  get(taskId: string): TaskRecord | undefined;
}

const TYPES: readonly TaskType[] = ['NORMAL_TASK', 'ACTOR_TASK', 'ACTOR_CREATION_TASK'];
const STATE_INDEX = new Map(TASK_STATES.map((s, i) => [s, i]));
const TYPE_INDEX = new Map(TYPES.map((t, i) => [t, i]));

/** Finished tasks as columns of a ring (columns.ts): nothing per task for the collector. */
class FinishedTasks {
  private readonly id = new IdColumn();
  private readonly state = new ByteColumn();
  private readonly type = new ByteColumn();
  private readonly attempt = new NumberColumn();
  private readonly created = new NumberColumn();
  private readonly started = new NumberColumn();
  private readonly ended = new NumberColumn();
  private readonly name = new RefColumn<string>();
  private readonly jobId = new RefColumn<string>();
  private readonly actorId = new RefColumn<string>();
  private readonly parentTaskId = new RefColumn<string>();
  private readonly nodeId = new RefColumn<string>();
  private readonly workerId = new RefColumn<string>();
  private readonly errorType = new RefColumn<string>();
  private readonly errorMessage = new RefColumn<string>();
  private readonly resources = new RefColumn<Resources>();
  private readonly placementGroupId = new RefColumn<string>();
  private readonly ring: ColumnRing;

  constructor(capacity: number) {
    this.ring = new ColumnRing(capacity, [this.id, this.state, this.type, this.attempt, this.created, this.started, this.ended]);
  }

  get dropped(): number {
    return this.ring.dropped;
  }

  push(r: TaskRecord): void {
    const row = this.ring.next();
    this.id.set(row, r.taskId);
    this.state.values[row] = STATE_INDEX.get(r.state)!;
    this.type.values[row] = TYPE_INDEX.get(r.type)!;
    this.attempt.values[row] = r.attempt;
    this.created.values[row] = r.created;
    this.started.values[row] = r.started ?? NaN;
    this.ended.values[row] = r.ended ?? NaN;
    this.name.values[row] = r.name;
    this.jobId.values[row] = r.jobId;
    this.actorId.values[row] = r.actorId;
    this.parentTaskId.values[row] = r.parentTaskId;
    this.nodeId.values[row] = r.nodeId;
    this.workerId.values[row] = r.workerId;
    this.errorType.values[row] = r.errorType;
    this.errorMessage.values[row] = r.errorMessage;
    this.resources.values[row] = r.resources;
    this.placementGroupId.values[row] = r.placementGroupId;
  }

  *records(): IterableIterator<TaskRecord> {
    for (const row of this.ring.rows()) yield this.record(row);
  }

  /** Add the counts by name and state to `out` (creation tasks left out), reading the columns: no record per row. */
  summarizeInto(out: Record<string, TaskSummaryEntry>): void {
    const n = this.ring.size;
    const creation = TYPE_INDEX.get('ACTOR_CREATION_TASK')!;
    const names = this.name.values;
    const states = this.state.values;
    const types = this.type.values;
    let last: string | undefined;
    let entry: TaskSummaryEntry | undefined;
    for (let row = 0; row < n; row++) {
      const type = types[row]!;
      if (type === creation) continue;
      const name = names[row]!;
      if (name !== last || !entry) {
        entry = out[name] ??= { funcOrClassName: name, type: TYPES[type]!, stateCounts: {} };
        last = name;
      }
      const state = TASK_STATES[states[row]!]!;
      entry.stateCounts[state] = (entry.stateCounts[state] ?? 0) + 1;
    }
  }

  private record(row: number): TaskRecord {
    const started = this.started.values[row]!;
    const ended = this.ended.values[row]!;
    const r: Writable<TaskRecord> = {
      taskId: this.id.get(row),
      name: this.name.values[row]!,
      type: TYPES[this.type.values[row]!]!,
      jobId: this.jobId.values[row]!,
      state: TASK_STATES[this.state.values[row]!]!,
      attempt: this.attempt.values[row]!,
      created: this.created.values[row]!,
    };
    if (!Number.isNaN(started)) r.started = started;
    if (!Number.isNaN(ended)) r.ended = ended;
    const optional = { actorId: this.actorId, parentTaskId: this.parentTaskId, nodeId: this.nodeId, workerId: this.workerId, errorType: this.errorType, errorMessage: this.errorMessage, placementGroupId: this.placementGroupId };
    for (const [key, col] of Object.entries(optional)) {
      const v = col.values[row];
      if (v !== undefined) r[key as keyof typeof optional] = v;
    }
    const res = this.resources.values[row];
    if (res !== undefined) r.resources = res;
    return r;
  }
}

type Writable<T> = { -readonly [K in keyof T]: T[K] };

/** The tasks one owner submitted: live ones (its own map, or the owner's), finished ones in a ring. */
export class TaskTable {
  private readonly live: LiveRecords;
  private readonly own?: Map<string, TaskRecord>;
  private readonly finished: FinishedTasks;
  private readonly durationCounts: number[] = new Array<number>(TASK_DURATION_BUCKETS_S.length + 1).fill(0);
  private durationSum = 0;
  private durationCount = 0;

  /**
   * @param live where the live records are (the owner's pending tasks); absent: kept here
   * @param capacity finished tasks kept (RAYBUS_MAX_FINISHED_TASKS, default 100 000)
   */
  constructor(
    private readonly now: () => number,
    live?: LiveRecords,
    capacity = Number(process.env.RAYBUS_MAX_FINISHED_TASKS) || DEFAULT_MAX_FINISHED_TASKS,
  ) {
    this.finished = new FinishedTasks(capacity);
    if (live) this.live = live;
    else {
      const own = (this.own = new Map());
      this.live = { records: () => own.values(), get: (id) => own.get(id) };
    }
  }

  /** Finished tasks evicted from the ring. */
  get dropped(): number {
    return this.finished.dropped;
  }

  /** A task given by its fields: the table makes its record (owners make their own, `track`). */
  add(task: NewTask): TaskRecord {
    const rec = this.track(newRecord(task, 'PENDING_ARGS_AVAIL', 0));
    if (task.state) rec.state = task.state;
    return rec;
  }

  /** A record its owner made (a normal task, an actor call): tracked from now, in the first state of a task. */
  track<R extends OwnRecord>(rec: R): R {
    rec.state = 'PENDING_ARGS_AVAIL';
    rec.created = this.now();
    this.own?.set(rec.taskId, rec);
    return rec;
  }

  /**
   * A record whose end the owner never learns (an actor's creation: the broker knows when
   * it is alive): kept in the ring from the start, so it is bounded like finished ones.
   */
  addUntracked(task: NewTask): void {
    this.finished.push(newRecord(task, task.state ?? 'PENDING_NODE_ASSIGNMENT', this.now()));
  }

  get(taskId: string): TaskRecord | undefined {
    const live = this.live.get(taskId);
    if (live) return live;
    for (const r of this.finished.records()) if (r.taskId === taskId) return r;
    return undefined;
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
    this.countDuration((end - rec.started) / 1000);
    if (error) {
      rec.state = 'FAILED';
      rec.errorType = error.rayClass ?? error.name;
      rec.errorMessage = error.cause && error.rayClass === 'RayTaskError' ? `${error.cause.name}: ${error.cause.message}` : error.message;
    } else rec.state = 'FINISHED';
    this.own?.delete(rec.taskId);
    this.finished.push(rec);
  }

  private countDuration(seconds: number): void {
    const s = seconds > 0 ? seconds : 0;
    let i = 0;
    while (i < TASK_DURATION_BUCKETS_S.length && s > TASK_DURATION_BUCKETS_S[i]!) i++;
    this.durationCounts[i]! += 1;
    this.durationSum += s;
    this.durationCount += 1;
  }

  /** Durations of the tasks that finished or failed here, by bucket (TASK_DURATION_BUCKETS_S). */
  durations(): DurationCounts {
    return { counts: [...this.durationCounts], sum: this.durationSum, count: this.durationCount };
  }

  /** Every record: live ones, then finished ones (oldest first). */
  *records(): IterableIterator<TaskRecord> {
    for (const r of this.live.records()) if (r) yield r;
    yield* this.finished.records();
  }

  /** Counts by function and state (creation tasks are counted by the broker's actors). */
  summary(): Record<string, TaskSummaryEntry> {
    const out: Record<string, TaskSummaryEntry> = {};
    for (const r of this.live.records()) {
      if (!r || r.type === 'ACTOR_CREATION_TASK') continue;
      const e = (out[r.name] ??= { funcOrClassName: r.name, type: r.type, stateCounts: {} });
      e.stateCounts[r.state] = (e.stateCounts[r.state] ?? 0) + 1;
    }
    this.finished.summarizeInto(out);
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
