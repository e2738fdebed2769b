/**
 * A node's workers as the state API lists them (`listWorkers`): live ones from the worker
 * table, and the most recent dead ones (how they ended), kept in a small ring.
 */
import type { NodeId } from '../protocol/ids';
import type { WorkerItem } from '../protocol/state';
import { Ring } from '../observability/ring';
import type { WorkerAssignment } from './worker-process.machine';

/** What a row is made of (a NodeWorker of node-worker.ts). */
export interface WorkerView {
  readonly id: string;
  readonly envKey: string;
  readonly startedAt: number;
  readonly exitReason?: string;
  readonly dead: boolean;
  readonly state: string;
  readonly assignment: WorkerAssignment | undefined;
  readonly handle?: { readonly pid: number | undefined };
}

/** Dead workers a node remembers. */
const DEAD_WORKERS_KEPT = 1000;

/** The row of worker `w` of node `nodeId`. */
export function workerItem(w: WorkerView, nodeId: NodeId): WorkerItem {
  const a = w.dead ? undefined : w.assignment;
  const item: WorkerItem = {
    workerId: w.id,
    workerType: 'WORKER',
    isAlive: !w.dead,
    nodeId,
    state: w.dead ? 'dead' : w.state,
    runtimeEnvKey: w.envKey || 'default',
    startTimeMs: w.startedAt,
  };
  if (w.handle?.pid !== undefined) item.pid = w.handle.pid;
  if (a?.kind === 'actor') item.actorId = a.actor;
  if (a) item.leaseId = a.lease;
  return item;
}

/** The workers of a node that ended, newest kept. */
export class DeadWorkers {
  private readonly ring = new Ring<WorkerItem>(DEAD_WORKERS_KEPT);

  /** `w` is gone (at `now`). */
  add(w: WorkerView, nodeId: NodeId, now: number): void {
    const item = workerItem(w, nodeId);
    item.isAlive = false;
    item.state = 'dead';
    item.endTimeMs = now;
    if (w.exitReason) item.exitDetail = w.exitReason;
    this.ring.push(item);
  }

  items(): IterableIterator<WorkerItem> {
    return this.ring[Symbol.iterator]();
  }
}
