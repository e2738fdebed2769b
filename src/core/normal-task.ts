/**
 * A normal task as its owner keeps it from `.remote()` to its result: one object that is at
 * once what the submitter schedules (SubmittedTask), the entry among the owner's pending tasks
 * (PendingTask) and its row in the task table (TaskRecord, the state API).
 *
 * An owner can hold a million of them queued, and the collector marks every object of every one
 * of them, so a task holds only what is its own: its ids, arguments, attempt, lease and state.
 * What all the tasks of one call site share (function, options, context, scheduling key) is one
 * TaskKind, made once per run of alike submissions (remote.ts), and read through accessors.
 */
import { returnId, type LeaseId, type ObjectId, type TaskId } from '../protocol/ids';
import { NRET_DYNAMIC, type Resources, type TaskContextInfo, type WireArg, type WireStrategy } from '../protocol/wire';
import type { CodeDescriptor } from '../serialization/code-shipping';
import { OwnTaskRecord } from './own-task-record';
import type { PendingTask } from './pending-tasks';
import type { SubmittedTask } from './submit-policy';

/** What every task of one call site shares, as `.remote()` resolved it. */
export interface TaskKind {
  readonly fn: CodeDescriptor;
  readonly nret: number;
  readonly demand: Resources;
  readonly strategy: WireStrategy;
  readonly key: string;
  readonly maxRetries: number;
  /** maxCalls of the function (0 = unlimited). */
  readonly maxCalls: number;
  readonly retryExceptions: boolean | string[];
  readonly ctx: Omit<TaskContextInfo, 'attempt'>;
  /** Generator backpressure (items ahead of the consumer). */
  readonly bp: number | undefined;
  /** The task that submitted it, when a task did. */
  readonly parentTaskId: TaskId | undefined;
}

/** A normal task (see the file comment). */
export class NormalTask extends OwnTaskRecord implements SubmittedTask, PendingTask {
  args: WireArg[] | undefined = undefined;
  lease: LeaseId | undefined = undefined;
  cancelled: boolean | undefined = undefined;

  /**
   * @param ownReturnIds its return ids, or `undefined` for the usual single return (its id is
   *   made again when the result comes: one array and its store less per queued task)
   * @param kind what it shares with alike tasks; replaced only by one alike but for its context
   *   (task-submission.ts)
   */
  constructor(
    readonly taskId: TaskId,
    private readonly ownReturnIds: ObjectId[] | undefined,
    public kind: TaskKind,
  ) {
    super();
  }

  get returnIds(): ObjectId[] {
    return this.ownReturnIds ?? [returnId(this.taskId, 0)];
  }

  get fn(): CodeDescriptor {
    return this.kind.fn;
  }
  get nret(): number {
    return this.kind.nret;
  }
  get demand(): Resources {
    return this.kind.demand;
  }
  get strategy(): WireStrategy {
    return this.kind.strategy;
  }
  get key(): string {
    return this.kind.key;
  }
  get maxRetries(): number {
    return this.kind.maxRetries;
  }
  get maxCalls(): number {
    return this.kind.maxCalls;
  }
  get retryExceptions(): boolean | string[] {
    return this.kind.retryExceptions;
  }
  get ctx(): Omit<TaskContextInfo, 'attempt'> {
    return this.kind.ctx;
  }
  get bp(): number | undefined {
    return this.kind.bp;
  }

  // As a pending task: a normal task's result goes to the submitter first.
  get functionName(): string {
    return this.kind.fn.name;
  }
  get dynamic(): boolean {
    return this.kind.nret === NRET_DYNAMIC;
  }
  get submitted(): SubmittedTask {
    return this;
  }
  get rec(): NormalTask {
    return this;
  }

  // As the task table's record.
  get name(): string {
    return this.kind.fn.name;
  }
  get type(): 'NORMAL_TASK' {
    return 'NORMAL_TASK';
  }
  get jobId(): string {
    return this.kind.ctx.jobId;
  }
  get actorId(): undefined {
    return undefined;
  }
  get parentTaskId(): TaskId | undefined {
    return this.kind.parentTaskId;
  }
  get resources(): Resources {
    return this.kind.demand;
  }
  get placementGroupId(): string | undefined {
    const s = this.kind.strategy;
    return s.kind === 'PLACEMENT_GROUP' ? s.pg : undefined;
  }

}
