/**
 * What a worker process runs, for observability: the calls executing now (the state API turns
 * an actor call the owner only knows as sent into RUNNING), where each call's output goes
 * (its log destination), and a bounded timeline of finished executions. The executor calls
 * `begin` and `end` around every task and actor call; nothing here sends anything.
 */
import type { ReplyQueue, TaskId } from '../protocol/ids';
import type { TimelineEvent } from '../protocol/state';
import { MONOTONIC_ORIGIN_MS, monotonicMs } from '../util/clock';
import { ByteColumn, ColumnRing, IdColumn, NumberColumn, RefColumn } from './columns';

/** Executions a worker remembers for the timeline (RAYBUS_TIMELINE_EVENTS). */
const DEFAULT_TIMELINE_EVENTS = 10_000;

/** Where a call's output goes, and with what name. */
export interface LogDestination {
  /** The function, or the actor's class. */
  readonly name: string;
  /** The owner of the work (the actor's owner for an actor): its driver prints the lines. */
  readonly owner: ReplyQueue;
  /** The driver turned forwarding off. */
  readonly nolog?: boolean;
}

/** One execution in progress. */
export interface Execution {
  readonly taskId: TaskId;
  readonly name: string;
  readonly actorCall: boolean;
  readonly log: LogDestination;
  /** monotonicMs() at start. */
  readonly t0: number;
}

/** Finished executions as columns of a ring (columns.ts): nothing per call for the collector. */
class Timeline {
  private readonly taskId = new IdColumn();
  private readonly name = new RefColumn<string>();
  private readonly start = new NumberColumn();
  private readonly dur = new NumberColumn();
  private readonly failed = new ByteColumn();
  private readonly ring: ColumnRing;

  constructor(capacity: number) {
    this.ring = new ColumnRing(capacity, [this.taskId, this.start, this.dur, this.failed]);
  }

  get size(): number {
    return this.ring.size;
  }

  push(taskId: string, name: string, startUs: number, durUs: number, failed: boolean): void {
    const row = this.ring.next();
    this.taskId.set(row, taskId);
    this.name.values[row] = name;
    this.start.values[row] = startUs;
    this.dur.values[row] = durUs;
    this.failed.values[row] = failed ? 1 : 0;
  }

  /** The newest `limit` rows, oldest first. */
  *events(limit: number, identity: { readonly nodeId: string; readonly workerId: string; readonly pid: number }): IterableIterator<TimelineEvent> {
    let skip = this.ring.size - limit;
    for (const row of this.ring.rows()) {
      if (skip-- > 0) continue;
      const e: TimelineEvent = { taskId: this.taskId.get(row), name: this.name.values[row]!, ...identity, startUs: this.start.values[row]!, durUs: this.dur.values[row]! };
      if (this.failed.values[row]) e.failed = true;
      yield e;
    }
  }
}

/** A worker's executions (see the file comment). */
export class ExecutionLog {
  private readonly current = new Map<TaskId, Execution>();
  private readonly events: Timeline;
  /** Output outside any call goes here (the actor's owner, or the last task's). */
  fallback: LogDestination | undefined;

  constructor(
    private readonly identity: { readonly nodeId: string; readonly workerId: string; readonly pid: number },
    capacity = Number(process.env.RAYBUS_TIMELINE_EVENTS) || DEFAULT_TIMELINE_EVENTS,
  ) {
    this.events = new Timeline(capacity);
  }

  begin(taskId: TaskId, name: string, actorCall: boolean, log: LogDestination): Execution {
    const e: Execution = { taskId, name, actorCall, log, t0: monotonicMs() };
    this.current.set(taskId, e);
    return e;
  }

  /** Where output goes when no call's context says (a message handler): a running call's, or the fallback. */
  anyDestination(): LogDestination | undefined {
    const first = this.current.values().next();
    return first.done ? this.fallback : first.value.log;
  }

  end(e: Execution, failed: boolean): void {
    this.current.delete(e.taskId);
    if (!e.actorCall) this.fallback = e.log;
    const t1 = monotonicMs();
    this.events.push(e.taskId, e.name, Math.round((MONOTONIC_ORIGIN_MS + e.t0) * 1000), Math.round((t1 - e.t0) * 1000), failed);
  }

  /** Where output written while `taskId` runs goes. */
  destination(taskId: TaskId | undefined): LogDestination | undefined {
    return (taskId !== undefined ? this.current.get(taskId)?.log : undefined) ?? this.fallback;
  }

  /** Actor calls executing now, with their names. */
  runningCalls(): Array<[TaskId, string]> {
    const out: Array<[TaskId, string]> = [];
    for (const e of this.current.values()) if (e.actorCall) out.push([e.taskId, e.name]);
    return out;
  }

  /** The executions remembered, oldest first (at most `limit`, the newest). */
  timeline(limit: number): TimelineEvent[] {
    const { nodeId, workerId, pid } = this.identity;
    return [...this.events.events(limit, { nodeId, workerId, pid })];
  }
}
