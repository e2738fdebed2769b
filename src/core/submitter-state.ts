/**
 * What the task submitter keeps per lease and per scheduling key, and how it reads them.
 */
import type { LeaseId, NodeId, QueueName, RequestId, TaskId, WorkerId } from '../protocol/ids';
import type { QueueKind, QueueMessages } from '../protocol/queues';
import type { Resources, WireStrategy } from '../protocol/wire';
import type { SubmittedTask } from './submit-policy';
import type { Deque } from '../util/deque';
import type { Timer } from '../util/clock';
import type { SendErrorHandler } from './messenger';

/** How the submitter sends (the messenger). */
export interface SubmitterOutbox {
  send<K extends QueueKind>(queue: QueueName<K>, msg: QueueMessages[K], taskId?: TaskId, onError?: SendErrorHandler<QueueMessages[K]>): void;
}

/** One worker leased to this owner. */
export interface Lease {
  readonly id: LeaseId;
  readonly worker: WorkerId;
  /** The worker's queue (named once: a push per task sends to it). */
  readonly queue: QueueName<'worker'>;
  readonly node: NodeId;
  readonly key: string;
  readonly inflight: Set<SubmittedTask>;
  /** Bytes of the arguments of the tasks in flight (PIPELINE_MAX_BYTES), kept by addInflight and removeInflight. */
  inflightBytes: number;
  /** Its running task waits in `get`/`wait`: nothing more is pushed until that task ends. */
  blocked?: SubmittedTask;
  /** When it was last left with nothing to run (undefined while it has work): kept idle until LEASE_IDLE_MS later. */
  idleSince?: number;
}

/** Tasks of one scheduling key (resources, strategy, runtime env) and the leases serving it. */
export interface KeyState {
  readonly key: string;
  readonly demand: Resources;
  readonly strategy: WireStrategy;
  /** Tasks waiting for a lease, in submission order (a deque: a million may wait). */
  readonly queue: Deque<SubmittedTask>;
  readonly leases: Map<LeaseId, Lease>;
  readonly requests: Set<RequestId>;
  returnScheduled: boolean;
  /** Returns the leases kept idle once their time is up (lease-keeper.ts). */
  idleTimer: Timer | undefined;
  /** The broker found its lease requests infeasible (until one is granted, or they are withdrawn). */
  infeasible?: boolean;
}

/**
 * The task a lease's worker is running (or about to): it runs what it is pushed one at a
 * time in push order and writes each result before the next starts, so it is the first in
 * flight; the others have not started.
 */
export function runningTask(lease: Lease): SubmittedTask | undefined {
  return lease.inflight.values().next().value;
}

/** The task `taskId` among those in flight on `lease`. */
export function findTask(lease: Lease, taskId: TaskId): SubmittedTask | undefined {
  for (const task of lease.inflight) if (task.taskId === taskId) return task;
  return undefined;
}

/** How a key's lease requests describe their work to the broker (for infeasibility warnings). */
export function describe(ks: KeyState): string {
  return ks.strategy.kind === 'DEFAULT' ? '' : `strategy ${ks.strategy.kind}`;
}

/** Take the cancelled tasks off the front of a key's queue (cancel only marks them). */
export function dropCancelled(ks: KeyState): void {
  while (ks.queue.peek()?.cancelled) ks.queue.shift();
}

/** `task` goes in flight on `lease`, its arguments' bytes counted. */
export function addInflight(lease: Lease, task: SubmittedTask, bytes: number): void {
  lease.inflight.add(task);
  task.pushedBytes = bytes;
  lease.inflightBytes += bytes;
}

/** `task` is no longer in flight on `lease`. */
export function removeInflight(lease: Lease, task: SubmittedTask): void {
  if (!lease.inflight.delete(task)) return;
  lease.inflightBytes -= task.pushedBytes ?? 0;
  task.pushedBytes = undefined;
}

/** Nothing is in flight on `lease` any more. */
export function clearInflight(lease: Lease): void {
  for (const task of lease.inflight) task.pushedBytes = undefined;
  lease.inflight.clear();
  lease.inflightBytes = 0;
}
