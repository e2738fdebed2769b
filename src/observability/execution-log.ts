/**
 * What a worker process runs, for observability: the calls executing now (the state API turns
 * an actor call the owner only knows as sent into RUNNING), where each call's output goes
 * (its log destination), and a bounded timeline of finished executions. The executor calls
 * `begin` and `end` around every task and actor call; nothing here sends anything.
 */
import type { ReplyQueue, TaskId } from '../protocol/ids';
import type { TimelineEvent } from '../protocol/state';
import { Ring } from './ring';

/** Executions a worker remembers for the timeline (RAYBUS_TIMELINE_EVENTS). */
export const DEFAULT_TIMELINE_EVENTS = 10_000;

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
  /** performance.now() at start. */
  readonly t0: number;
}

/** A worker's executions (see the file comment). */
export class ExecutionLog {
  private readonly current = new Map<TaskId, Execution>();
  private readonly events: Ring<TimelineEvent>;
  /** Output outside any call goes here (the actor's owner, or the last task's). */
  fallback: LogDestination | undefined;

  constructor(
    private readonly identity: { readonly nodeId: string; readonly workerId: string; readonly pid: number },
    capacity = Number(process.env.RAYBUS_TIMELINE_EVENTS) || DEFAULT_TIMELINE_EVENTS,
  ) {
    this.events = new Ring(capacity);
  }

  begin(taskId: TaskId, name: string, actorCall: boolean, log: LogDestination): Execution {
    const e: Execution = { taskId, name, actorCall, log, t0: performance.now() };
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
    const t1 = performance.now();
    const ev: TimelineEvent = {
      taskId: e.taskId,
      name: e.name,
      nodeId: this.identity.nodeId,
      workerId: this.identity.workerId,
      pid: this.identity.pid,
      startUs: Math.round((performance.timeOrigin + e.t0) * 1000),
      durUs: Math.round((t1 - e.t0) * 1000),
    };
    if (failed) ev.failed = true;
    this.events.push(ev);
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
    const all = [...this.events];
    return all.length > limit ? all.slice(all.length - limit) : all;
  }
}
