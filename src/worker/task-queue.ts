/**
 * A worker's queue of leased tasks. The owner may push several tasks on one lease (see
 * pipelineDepth in core/submit-policy.ts); they run here one at a time, in push order, as
 * Ray's normal tasks do. A task cancelled while it waits never runs, nor does one whose cancel
 * came first (a task and its cancel travel on different queues). When the running task
 * waits (it awaits something) for longer than GIVE_BACK_AFTER_MS, the tasks queued behind
 * it go back to their owner, so no task is held behind a blocked one.
 */
import type { LeaseId, ReplyQueue, TaskId } from '../protocol/ids';
import type { CoreWorker } from '../core/core-worker';
import type { TaskMsg } from '../protocol/messages/worker';
import type { CodeDescriptor, CodeOrigin } from '../serialization/code-shipping';
import type { Delivery } from '../transport/transport';
import { originOf } from './delivery-check';
import { setQueuedTaskCanceller } from '../core/running-tasks';
import { encodeError } from '../serialization/error-codec';
import { TaskCancelledError } from '../errors/ray-errors';
import { systemClock, type Clock, type Timer } from '../util/clock';
import { addBounded } from '../util/bounded-set';

/** How long the running task may wait before the tasks queued behind it are given back. */
export const GIVE_BACK_AFTER_MS = 20;
/** A run this long lets the worker read its messages before the next task starts. */
const LONG_RUN_MS = 2;
/** Cancels remembered for tasks not (yet) here: the oldest is forgotten past this many. */
const MAX_CANCELLED = 10_000;

interface Queued {
  readonly msg: TaskMsg;
  readonly d: Delivery;
}

export class WorkerTaskQueue {
  private readonly waiting: Queued[] = [];
  /** Tasks cancelled while they waited here, or before they arrived (bounded). */
  private readonly cancelled = new Set<TaskId>();
  private running = false;
  /** The task running now. */
  private current: TaskMsg | undefined;
  /** The running task has waited long: what arrives now goes straight back. */
  private givingBack = false;
  private timer: Timer | undefined;
  /** When the running task started (the clock's ms). */
  private started = 0;
  /** Code descriptors received whole, by id. */
  private readonly code = new Map<string, CodeDescriptor>();

  /**
   * @param run runs one task; `ack` acknowledges its delivery (called at the latest when it
   *   settles); `origin` says whether the delivery was authenticated (for loading its code).
   * @param clock the clock of the give-back timer and of run durations.
   */
  constructor(
    private readonly core: CoreWorker,
    private readonly run: (msg: TaskMsg, ack: () => void, origin: CodeOrigin) => Promise<void>,
    private readonly clock: Clock = systemClock,
  ) {
    // A task is pushed on this worker's task queue and its cancel sent to its reply queue: on
    // a broker the cancel may come first. It is remembered (as Ray's owner retries a cancel
    // its executor did not yet know) and the task is dropped when it arrives. A cancel for a
    // task that already ran is never matched: a cancelled task is never pushed again.
    setQueuedTaskCanceller((taskId) => {
      addBounded(this.cancelled, taskId, MAX_CANCELLED);
      return this.waiting.some((q) => q.msg.task === taskId);
    });
  }

  push(msg: TaskMsg, d: Delivery): void {
    // An owner sends a function's code whole once per worker, then only its id and name.
    if (msg.fn.source !== undefined || msg.fn.module !== undefined) this.code.set(msg.fn.id, msg.fn);
    else {
      const known = this.code.get(msg.fn.id);
      if (known) msg.fn = known;
    }
    this.waiting.push({ msg, d });
    if (this.running && !this.givingBack) this.watchRunning();
    if (this.givingBack) this.giveBack();
    else this.pump();
  }

  /**
   * A task waits behind the running one: it goes back once the running task has run
   * GIVE_BACK_AFTER_MS (at once if it already has). The timer is set only then, not for every
   * task: a worker taking one task at a time sets none.
   */
  private watchRunning(): void {
    if (this.timer) return;
    const left = GIVE_BACK_AFTER_MS - (this.clock.now() - this.started);
    if (left <= 0) {
      this.givingBack = true;
      return;
    }
    this.timer = this.clock.setTimeout(() => {
      this.timer = undefined;
      this.givingBack = true;
      this.giveBack();
    }, left);
  }

  private pump(): void {
    while (!this.running && this.waiting.length > 0) {
      const { msg, d } = this.waiting.shift()!;
      if (this.dropIfCancelled(msg, d)) continue;
      this.running = true;
      this.current = msg;
      // Results of earlier tasks go out before this one runs (the owner counts only the
      // first task in flight as started when a worker dies).
      this.core.flushOutgoing();
      let acked = false;
      const ack = (): void => {
        if (!acked) d.ack();
        acked = true;
      };
      const started = (this.started = this.clock.now());
      if (this.waiting.length > 0) this.watchRunning();
      void this.run(msg, ack, originOf(d)).finally(() => {
        ack();
        if (this.timer) this.clock.clear(this.timer);
        this.timer = undefined;
        this.running = false;
        this.current = undefined;
        this.givingBack = false;
        const ms = this.clock.now() - started;
        // After a long run, read what arrived meanwhile (cancels) before starting the next:
        // the second setImmediate runs after the event loop's next I/O poll.
        if (ms > LONG_RUN_MS) setImmediate(() => setImmediate(() => this.pump()));
        else this.pump();
      });
    }
  }

  /**
   * A task cancelled while it waited here never runs: answer it as cancelled (the owner has
   * already failed it; the answer frees its slot on the lease) and take it off the queue.
   */
  private dropIfCancelled(msg: TaskMsg, d: Delivery): boolean {
    if (!this.cancelled.delete(msg.task)) return false;
    this.core.send(msg.owner, { t: 'result', task: msg.task, rets: [{ e: encodeError(new TaskCancelledError(msg.task)) }] });
    d.ack();
    return true;
  }

  /**
   * The running task on `lease` waits in `get`/`wait` and its CPU is lent out: what waits
   * behind it goes back, and its owner pushes nothing more to this lease until it ends.
   */
  onBlocked(lease: LeaseId): void {
    const cur = this.current;
    if (!cur || cur.lease !== lease) return;
    this.givingBack = true;
    this.giveBack(cur);
  }

  /** Hand every waiting task back to its owner (grouped per lease, in order). */
  private giveBack(blocked?: TaskMsg): void {
    if (this.waiting.length === 0 && !blocked) return;
    const byLease = new Map<LeaseId, { owner: ReplyQueue; tasks: TaskId[] }>();
    if (blocked) byLease.set(blocked.lease, { owner: blocked.owner, tasks: [] });
    for (const { msg, d } of this.waiting.splice(0)) {
      if (this.dropIfCancelled(msg, d)) continue;
      d.ack();
      let group = byLease.get(msg.lease);
      if (!group) byLease.set(msg.lease, (group = { owner: msg.owner, tasks: [] }));
      group.tasks.push(msg.task);
    }
    for (const [lease, { owner, tasks }] of byLease) this.core.send(owner, { t: 'tasks-returned', lease, tasks, ...(lease === blocked?.lease ? { blocked: true } : {}) });
  }
}
