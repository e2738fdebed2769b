/**
 * A normal task that waits in `get` or `wait` gives its CPU back while it waits, and takes it
 * back before it goes on (Ray's NotifyWorkerBlocked / NotifyWorkerUnblocked; Ray's "Nested
 * Remote Functions" docs: "Ray will release CPU resources when being blocked. This prevents
 * deadlock cases where the nested tasks are waiting for the CPU resources held by the parent
 * task."). Only tasks on a lease do: a driver holds no lease, and an actor keeps its
 * resources (Ray's WorkerContext::ShouldReleaseResourcesOnBlockingCalls).
 *
 * Waits are counted per running task; the notice goes out once the task has waited
 * BLOCKED_NOTICE_AFTER_MS (a `get` answered within a few ms costs no round trip), and the
 * task goes on at once when its wait ends (the "unblocked" notice does not wait for an answer).
 */
import type { ActorId, LeaseId, TaskId } from '../protocol/ids';
import type { Clock, Timer } from '../util/clock';

/** What the running task's context says about it (runtime-state.ts TaskContext). */
export interface WaitingTask {
  readonly taskId: TaskId;
  readonly actorId: ActorId | null;
  readonly lease?: LeaseId;
}

/** How long a task waits in `get`/`wait` before its CPU is given back. */
export const BLOCKED_NOTICE_AFTER_MS = 20;

/** Where the notices go (the worker's node, which tells the broker). */
export interface BlockedNotices {
  blocked(lease: LeaseId, task: TaskId): void;
  unblocked(lease: LeaseId, task: TaskId): void;
}

/** Called when a wait begins; returns the function that ends it (undefined: nothing to track). */
export type BlockHook = () => (() => void) | undefined;

interface TaskWaits {
  readonly lease: LeaseId;
  count: number;
  timer?: Timer;
  notified: boolean;
}

/** The blocked waits of the tasks running in one worker process. */
export class BlockedWaits {
  private readonly tasks = new Map<TaskId, TaskWaits>();

  constructor(
    private readonly clock: Clock,
    private readonly notices: BlockedNotices,
    private readonly currentTask: () => WaitingTask | undefined,
    /** Is this task still running here (a wait left behind by an ended task counts for nothing)? */
    private readonly isRunning: (taskId: TaskId) => boolean,
  ) {}

  /** A `get`/`wait` of the running task starts waiting (see {@link BlockHook}). */
  readonly enter: BlockHook = () => {
    const ctx = this.currentTask();
    if (!ctx?.lease || ctx.actorId || !this.isRunning(ctx.taskId)) return undefined;
    const taskId = ctx.taskId;
    let w = this.tasks.get(taskId);
    if (!w) this.tasks.set(taskId, (w = { lease: ctx.lease, count: 0, notified: false }));
    const waits = w;
    waits.count += 1;
    if (waits.count === 1 && !waits.notified) {
      waits.timer = this.clock.setTimeout(() => {
        waits.timer = undefined;
        if (this.tasks.get(taskId) !== waits || waits.count === 0) return;
        waits.notified = true;
        this.notices.blocked(waits.lease, taskId);
      }, BLOCKED_NOTICE_AFTER_MS);
    }
    let done = false;
    return () => {
      if (done) return;
      done = true;
      if (this.tasks.get(taskId) !== waits) return;
      waits.count -= 1;
      if (waits.count === 0) this.resume(taskId, waits);
    };
  };

  /** The task ended (a wait it left behind no longer holds anything). */
  taskEnded(taskId: TaskId): void {
    const waits = this.tasks.get(taskId);
    if (waits) this.resume(taskId, waits);
  }

  private resume(taskId: TaskId, waits: TaskWaits): void {
    this.tasks.delete(taskId);
    this.clock.clear(waits.timer);
    waits.timer = undefined;
    if (waits.notified) this.notices.unblocked(waits.lease, taskId);
  }
}
