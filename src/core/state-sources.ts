/**
 * What every CoreWorker answers to state queries: the tasks it submitted (its task table),
 * their counts by function and durations (metrics), the objects it holds, and — a driver — itself as a worker of type
 * DRIVER. Read from tables the core keeps anyway, when a query arrives.
 */
import type { NodeId } from '../protocol/ids';
import type { ObjectItem, WorkerItem } from '../protocol/state';
import type { ObjectEntryView } from '../refs/object-store';
import type { StateResponder } from '../observability/state-responder';
import type * as StateQuery from '../observability/state-query';
import type * as StateMerge from '../observability/state-merge';
import { taskItem, type TaskTable } from '../observability/task-table';
import type * as ProcessMetrics from '../observability/process-metrics';

/** What the answers are made from. */
export interface StateSourceDeps {
  readonly table: TaskTable;
  readonly objects: { entriesView(): IterableIterator<ObjectEntryView> };
  readonly address: string;
  readonly procId: string;
  readonly nodeId?: NodeId;
  readonly isDriver: boolean;
  /** When this process started (ms since the epoch). */
  readonly startedAt: number;
}

/**
 * Selecting and merging, loaded by the first query: a process's state answers are rarely
 * asked for (an actor's worker may never be), and these modules are ~18 KB of its start.
 */
function selectSlice(...args: Parameters<typeof StateQuery.selectSlice>): ReturnType<typeof StateQuery.selectSlice> {
  return (require('../observability/state-query') as typeof StateQuery).selectSlice(...args);
}
function ownerCannotJudge(...args: Parameters<typeof StateMerge.ownerCannotJudge>): ReturnType<typeof StateMerge.ownerCannotJudge> {
  return (require('../observability/state-merge') as typeof StateMerge).ownerCannotJudge(...args);
}

/** Register the core's answers on `responder`. */
export function answerStateQueries(responder: StateResponder, deps: StateSourceDeps): void {
  const { table } = deps;
  responder.on('tasks', (q) => {
    const slice = selectSlice('tasks', mapIter(table.records(), taskItem), q, ownerCannotJudge);
    if (slice.total === 0 && table.dropped === 0) return undefined;
    return { ...slice, dropped: table.dropped };
  });
  responder.on('task-summary', () => {
    const summary = table.summary();
    if (Object.keys(summary).length === 0 && table.dropped === 0) return undefined;
    return { summary, dropped: table.dropped };
  });
  responder.on('metrics', () => ({ metrics: (require('../observability/process-metrics') as typeof ProcessMetrics).processMetrics(table.durations()) }));
  responder.on('objects', (q) => {
    const slice = selectSlice('objects', mapIter(deps.objects.entriesView(), (e) => objectItem(e, deps)), q);
    return slice.total === 0 ? undefined : slice;
  });
  if (deps.isDriver) {
    responder.on('workers', (q) => {
      const self: WorkerItem = { workerId: deps.procId, workerType: 'DRIVER', isAlive: true, pid: process.pid, startTimeMs: deps.startedAt };
      if (deps.nodeId) self.nodeId = deps.nodeId;
      const slice = selectSlice('workers', [self], q);
      return slice.total === 0 ? undefined : slice;
    });
  }
}

function objectItem(e: ObjectEntryView, deps: StateSourceDeps): ObjectItem {
  const item: ObjectItem = {
    objectId: e.id,
    objectSize: e.size,
    taskStatus: e.status,
    referenceType: e.local > 0 ? 'LOCAL_REFERENCE' : e.pins > 0 ? 'USED_BY_PENDING_TASK' : 'PINNED_IN_MEMORY',
    owned: e.owned,
    type: deps.isDriver ? 'DRIVER' : 'WORKER',
    pid: process.pid,
    ownerAddress: e.owner ?? deps.address,
    localRefCount: e.local,
    borrowers: e.borrowers,
    pins: e.pins,
  };
  if (deps.nodeId) item.nodeId = deps.nodeId;
  return item;
}

function* mapIter<A, B>(it: Iterable<A>, f: (a: A) => B): IterableIterator<B> {
  for (const a of it) yield f(a);
}
