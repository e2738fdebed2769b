/**
 * The querier's side of a state query: the slices every holder answered, merged into one page.
 * Rows are paged by key (`rowKey`); a holder that had more rows than it sent bounds the page
 * (no row past the smallest such holder's last key may be shown, or a page would skip rows),
 * and `nextCursor` says where the next page starts.
 *
 * Tasks are known best by their owners, but not entirely: an owner does not know when the
 * actor it called starts the call, nor the pid of a worker. The processes that run work say
 * what they run now (`running`) and who they are (`from`); the merge fills those in, and the
 * filters an owner could not judge (`ownerCannotJudge`) are applied here, after the merge.
 */
import type { StateAnswerMsg, StateSource } from '../protocol/messages/state';
import type { ActorItem, ListKind, StateFilter, StateItems, TaskItem, TaskSummary, TaskSummaryEntry } from '../protocol/state';
import { matches, rowKey, withoutDetail } from './state-query';

/** What the state API returns for a list. */
export interface ListResult<T> {
  items: T[];
  /** Give this as `cursor` for the next page; null when this was the last. */
  nextCursor: string | null;
  /** Finished tasks their owners' bounded buffers no longer hold (tasks only). */
  dropped: number;
  /** Rows that matched, in all pages. */
  total: number;
}

/** The answers to one query, as they arrived. */
export type Answers = readonly StateAnswerMsg[];

const PROVISIONAL = new Set(['state', 'nodeId', 'workerId', 'workerPid']);

/**
 * Filters an owner cannot judge for one of its tasks: where an actor call or creation runs
 * (and whether it runs yet) is learned from the processes that run them; no owner knows a pid.
 */
export function ownerCannotJudge(row: Record<string, unknown>, column: string): boolean {
  if (column === 'workerPid') return true;
  return row.type !== 'NORMAL_TASK' && PROVISIONAL.has(column) && row.state !== 'FINISHED' && row.state !== 'FAILED';
}

/** Who runs what, from the answers: pids by worker, and the actor calls running now. */
function runners(answers: Answers): { pids: Map<string, StateSource>; running: Map<string, StateSource> } {
  const pids = new Map<string, StateSource>();
  const running = new Map<string, StateSource>();
  for (const a of answers) {
    if (a.from.kind === 'worker' || a.from.kind === 'driver') pids.set(a.from.id, a.from);
    for (const [task] of a.running ?? []) running.set(task, a.from);
  }
  return { pids, running };
}

/**
 * Fill in what owners could not know: RUNNING actor calls with their worker, workers' pids,
 * and actor creations from the broker's actors (`actors`, by id).
 */
export function completeTasks(rows: TaskItem[], answers: Answers, actors?: ReadonlyMap<string, ActorItem>): void {
  const { pids, running } = runners(answers);
  for (const row of rows) {
    const runner = running.get(row.taskId);
    if (runner && row.state === 'SUBMITTED_TO_WORKER') {
      row.state = 'RUNNING';
      row.workerId = runner.id;
      if (runner.nodeId) row.nodeId = runner.nodeId;
    }
    const actor = row.actorId !== undefined ? actors?.get(row.actorId) : undefined;
    if (actor && row.type === 'ACTOR_CREATION_TASK') creationFromActor(row, actor);
    else if (actor && row.workerId === undefined) {
      // A call its owner saw go out: it ran (or runs) where the actor lives.
      if (actor.nodeId) row.nodeId = actor.nodeId;
      if (actor.workerId) row.workerId = actor.workerId;
      if (actor.pid !== undefined) row.workerPid = actor.pid;
    }
    if (row.workerId !== undefined && row.workerPid === undefined) {
      const pid = pids.get(row.workerId)?.pid;
      if (pid !== undefined) row.workerPid = pid;
    }
  }
}

/** An actor's creation task, as the actor's state tells it. */
function creationFromActor(row: TaskItem, actor: ActorItem): void {
  if (actor.nodeId) row.nodeId = actor.nodeId;
  if (actor.workerId) row.workerId = actor.workerId;
  if (actor.pid !== undefined) row.workerPid = actor.pid;
  if (actor.state === 'PENDING_CREATION') return;
  const failed = actor.state === 'DEAD' && ['CREATION_TASK_FAILED', 'UNSCHEDULABLE', 'NAME_TAKEN'].includes(actor.deathCause?.reason ?? '');
  row.state = failed ? 'FAILED' : 'FINISHED';
  if (failed) {
    row.errorType = 'RayActorError';
    row.errorMessage = actor.deathCause?.message ?? '';
  }
}

/**
 * The actors whose state the merge needs from the broker: those of creation tasks (how they
 * went) and of calls whose worker no running process claimed (where they ran).
 */
export function actorsToResolve(rows: Iterable<TaskItem>, answers: Answers): string[] {
  const { running } = runners(answers);
  const ids = new Set<string>();
  for (const r of rows) {
    if (r.actorId === undefined) continue;
    if (r.type === 'ACTOR_CREATION_TASK' ? r.state !== 'FINISHED' && r.state !== 'FAILED' : r.workerId === undefined && !running.has(r.taskId)) ids.add(r.actorId);
  }
  return [...ids];
}

/** Every row the answers carry, each row once (by key). */
export function candidates<K extends ListKind>(kind: K, answers: Answers): Array<StateItems[K]> {
  const byKey = new Map<string, StateItems[K]>();
  for (const a of answers) for (const item of a.items) byKey.set(rowKey(kind, item), item as unknown as StateItems[K]);
  return [...byKey.values()];
}

/**
 * One page from the merged answers: rows sorted by key, re-filtered (`filters`, all of them),
 * none past the smallest last key of a holder that had more, at most `limit`.
 */
export function mergePage<K extends ListKind>(
  kind: K,
  rows: Array<StateItems[K]>,
  answers: Answers,
  q: { readonly filters: readonly StateFilter[]; readonly limit: number; readonly detail: boolean; readonly cursor?: string },
): ListResult<StateItems[K]> {
  const keyed = rows.map((row) => ({ key: rowKey(kind, row), row }));
  keyed.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  let frontier: string | undefined;
  for (const a of answers) {
    if (!a.more || a.items.length === 0) continue;
    const last = rowKey(kind, a.items[a.items.length - 1]!);
    if (frontier === undefined || last < frontier) frontier = last;
  }
  const items: Array<StateItems[K]> = [];
  let lastConsidered: string | undefined;
  let cut = false;
  for (const { key, row } of keyed) {
    if (frontier !== undefined && key > frontier) {
      cut = true;
      break;
    }
    if (!matches(row as unknown as Record<string, unknown>, q.filters)) {
      lastConsidered = key;
      continue;
    }
    if (items.length === q.limit) {
      cut = true;
      break;
    }
    items.push(q.detail ? row : withoutDetail(kind, row));
    lastConsidered = key;
  }
  const more = cut || frontier !== undefined;
  let dropped = 0;
  let total = 0;
  for (const a of answers) {
    dropped += a.dropped ?? 0;
    total += a.total;
  }
  // Every matching row is here (first page, nobody had more): count them exactly, since a
  // holder counts rows it could not judge.
  if (q.cursor === undefined && frontier === undefined) total = keyed.filter(({ row }) => matches(row as unknown as Record<string, unknown>, q.filters)).length;
  return { items, nextCursor: more && lastConsidered !== undefined ? lastConsidered : more ? (frontier ?? null) : null, dropped, total };
}

/** Merge the owners' task counts; actor calls running now move from SUBMITTED_TO_WORKER to RUNNING. */
export function mergeTaskSummary(answers: Answers, creations: Record<string, Partial<Record<string, number>>>): TaskSummary {
  const summary: Record<string, TaskSummaryEntry> = {};
  let dropped = 0;
  for (const a of answers) {
    dropped += a.dropped ?? 0;
    for (const [name, entry] of Object.entries(a.summary ?? {})) {
      const into = (summary[name] ??= { funcOrClassName: name, type: entry.type, stateCounts: {} });
      for (const [state, n] of Object.entries(entry.stateCounts)) add(into.stateCounts, state, n ?? 0);
    }
  }
  for (const a of answers) {
    for (const [, name] of a.running ?? []) {
      const counts = summary[name]?.stateCounts;
      if (!counts || !counts.SUBMITTED_TO_WORKER) continue;
      counts.SUBMITTED_TO_WORKER -= 1;
      if (counts.SUBMITTED_TO_WORKER === 0) delete counts.SUBMITTED_TO_WORKER;
      add(counts, 'RUNNING', 1);
    }
  }
  let totalActorScheduled = 0;
  for (const [cls, counts] of Object.entries(creations)) {
    const name = `${cls}.__init__`;
    const into = (summary[name] ??= { funcOrClassName: name, type: 'ACTOR_CREATION_TASK', stateCounts: {} });
    for (const [state, n] of Object.entries(counts)) {
      add(into.stateCounts, state, n ?? 0);
      totalActorScheduled += n ?? 0;
    }
  }
  let totalTasks = 0;
  let totalActorTasks = 0;
  for (const e of Object.values(summary)) {
    const n = Object.values(e.stateCounts).reduce((s, x) => s + (x ?? 0), 0);
    if (e.type === 'NORMAL_TASK') totalTasks += n;
    else if (e.type === 'ACTOR_TASK') totalActorTasks += n;
  }
  return { summary, totalTasks, totalActorTasks, totalActorScheduled, summaryBy: 'func_name', dropped };
}

function add(counts: Partial<Record<string, number>>, state: string, n: number): void {
  counts[state] = (counts[state] ?? 0) + n;
}

/** Key of the per-class actor counts that counts actors whose creation failed. */
export const CREATION_FAILED = 'creationFailed';

/**
 * The creation tasks' states from the actors' (by class, as the broker counts them): pending
 * while the actor is, failed when its constructor (or its placement) failed, else finished.
 */
export function creationCounts(actorCounts: Record<string, Record<string, number>>): Record<string, Partial<Record<string, number>>> {
  const out: Record<string, Partial<Record<string, number>>> = {};
  for (const [cls, states] of Object.entries(actorCounts)) {
    const c: Partial<Record<string, number>> = {};
    const failed = states[CREATION_FAILED] ?? 0;
    for (const [state, n] of Object.entries(states)) {
      if (state === CREATION_FAILED) continue;
      add(c, state === 'PENDING_CREATION' ? 'PENDING_NODE_ASSIGNMENT' : 'FINISHED', n);
    }
    if (failed > 0) {
      c.FINISHED = (c.FINISHED ?? 0) - failed;
      if (c.FINISHED <= 0) delete c.FINISHED;
      add(c, 'FAILED', failed);
    }
    out[cls] = c;
  }
  return out;
}
