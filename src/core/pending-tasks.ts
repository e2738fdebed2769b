/**
 * The tasks and actor calls this process submitted and still waits for, by task id: their
 * results are stored as their return objects (or end their stream), a failure fails every
 * return, and the tasks each running task submitted are remembered for recursive cancel.
 */
import { taskOfObject, type ObjectId, type TaskId } from '../protocol/ids';
import { ObjectRefGenerator } from '../refs/object-ref-generator';
import type { ObjectRef } from '../refs/object-ref';
import { encodeError, type WireError } from '../serialization/error-codec';
import { RaySystemError } from '../errors/ray-errors';
import type { WireArg, WireOutcome } from '../protocol/wire';
import type { ResultMsg } from '../protocol/messages/reply';
import type { SubmittedTask } from './task-submitter';
import { firstError } from './submit-policy';
import type { OwnRecord, TaskRecord, TaskTable } from '../observability/task-table';

/** A task or actor call whose results this process is waiting for. */
export interface PendingTask {
  readonly taskId: TaskId;
  readonly returnIds: ObjectId[];
  readonly functionName: string;
  /** A normal task: its result goes to the submitter first (retries, lease bookkeeping). */
  readonly submitted?: SubmittedTask;
  /** Called with the result message; return true to keep waiting (a retry was submitted). */
  onResult?(rets: WireOutcome[], retire?: boolean, us?: number): boolean;
  onDone?(): void;
  /** A 'dynamic' generator task: its single return is the generator of its items. */
  readonly dynamic?: boolean;
  /** An actor method call (not a normal task). */
  readonly actorCall?: boolean;
  /** The actor called. */
  readonly actorId?: string;
  /** Its row in the owner's task table (the state API): the task itself (normal-task.ts, actor-handle.ts). */
  readonly rec?: OwnRecord;
  /** An actor call's maxTaskRetries (-1: forever): how often it may run again after its actor died. */
  readonly retries?: number;
  /** Runs of an actor call cut short by its actor's death so far (counted here, by its owner). */
  interrupted?: number;
}

/** Where results go (the object manager). */
export interface ResultObjects {
  receiveOutcome(id: ObjectId, out: WireOutcome): void;
  releaseOutcomeRefs(out: WireOutcome): void;
  fulfil(id: ObjectId, out: WireOutcome): void;
  encodeArg(value: unknown, path: string): WireArg;
}

/** The owner side of a generator task, as its result ends it. */
export interface EndingStream {
  end(error?: WireOutcome): void;
  allRefs(): ObjectRef<unknown>[];
}

/** The open streams of generator tasks. */
export interface ResultStreams {
  take(taskId: TaskId): EndingStream | undefined;
  fail(taskId: TaskId, out: WireOutcome): void;
}

/** The submitter's say on results of normal tasks. */
export interface ResultSubmitter {
  /** Returns true when the task was retried (its refs keep waiting). */
  onTaskResult(task: SubmittedTask, rets: WireOutcome[], retire: boolean, us?: number): boolean;
  /** The result of a task no longer pending (cancelled) came back. */
  onStrayResult(taskId: TaskId, retire: boolean): void;
}

/** The pending-task table of one process. */
export class PendingTasks {
  private readonly pending = new Map<TaskId, PendingTask>();
  /** Tasks and actor calls submitted from inside each running task (for recursive cancel). */
  private readonly children = new Map<TaskId, Set<TaskId>>();

  constructor(
    private readonly objects: ResultObjects,
    private readonly streams: ResultStreams,
    private readonly submitter: ResultSubmitter,
    private readonly table?: TaskTable,
  ) {}

  register(task: PendingTask): void {
    this.pending.set(task.taskId, task);
  }

  /** Is this task or call still waiting for its results? */
  isPending(taskId: TaskId): boolean {
    return this.pending.has(taskId);
  }

  get(taskId: TaskId): PendingTask | undefined {
    return this.pending.get(taskId);
  }

  /** The pending task that produces `objectId` (a return or a stream's completion), if any. */
  pendingTaskOf(objectId: ObjectId): PendingTask | undefined {
    return this.pending.get(taskOfObject(objectId));
  }

  get size(): number {
    return this.pending.size;
  }

  /** The task-table records of what is pending (the state API). */
  *records(): IterableIterator<TaskRecord | undefined> {
    for (const t of this.pending.values()) yield t.rec;
  }

  /** Record that the running task `parent` submitted `child`. */
  addChild(parent: TaskId | undefined, child: TaskId): void {
    if (!parent) return;
    let set = this.children.get(parent);
    if (!set) this.children.set(parent, (set = new Set()));
    set.add(child);
  }

  /** The tasks `parent` submitted while it ran here. */
  childrenOf(parent: TaskId): ReadonlySet<TaskId> | undefined {
    return this.children.get(parent);
  }

  /** `parent` finished running here: forget what it submitted. */
  forgetChildren(parent: TaskId): void {
    this.children.delete(parent);
  }

  /** Fail every return of a pending task with `err` and forget it. */
  failTask(taskId: TaskId, err: WireError): void {
    const t = this.pending.get(taskId);
    if (!t) return;
    this.pending.delete(taskId);
    this.table?.finish(t.rec, err);
    const out = { e: err };
    this.streams.fail(taskId, out);
    for (const id of t.returnIds) this.objects.fulfil(id, out);
    t.onDone?.();
  }

  /** A task's or call's result arrived. */
  onResult(msg: ResultMsg): void {
    const taskId = msg.task;
    const rets = Array.isArray(msg.rets) ? msg.rets : [];
    const retire = msg.retire === true;
    const t = this.pending.get(taskId);
    if (!t) {
      // Already failed here (cancelled): the worker is done with it all the same.
      this.submitter.onStrayResult(taskId, retire);
      for (const r of rets) this.objects.releaseOutcomeRefs(r);
      return;
    }
    if (t.submitted ? this.submitter.onTaskResult(t.submitted, rets, retire, msg.us) : t.onResult?.(rets, retire, msg.us)) return;
    this.pending.delete(taskId);
    this.table?.finish(t.rec, firstError(rets), msg.us);
    const stream = this.streams.take(taskId);
    if (stream) {
      // A producer streams its own failure as the last item (and says how many it sent); an
      // error answered by anyone else (a dead actor's mailbox) is appended here.
      const first = rets[0];
      stream.end(msg.n === undefined && first && 'e' in first ? first : undefined);
      if (t.dynamic) {
        const out = this.objects.encodeArg(new ObjectRefGenerator({ refs: stream.allRefs() }), 'dynamic generator');
        this.objects.receiveOutcome(t.returnIds[0]!, out);
        t.onDone?.();
        return;
      }
    }
    const ids = t.returnIds;
    for (let i = 0; i < ids.length; i++) this.objects.receiveOutcome(ids[i]!, rets[i] ?? rets[0] ?? missingReturn());
    t.onDone?.();
  }
}

function missingReturn(): WireOutcome {
  return { e: encodeError(new RaySystemError('missing return value')) };
}
