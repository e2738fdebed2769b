/**
 * What the dashboard shows, as one JSON object (a snapshot), built from the state API's answers
 * of one poll: pure functions, so the pages and the metrics read the same numbers.
 */
import type { ActorItem, ActorSummary, NodeItem, PlacementGroupItem, TaskItem, TaskState, TaskSummary, WorkerItem } from '../protocol/state';
import type { ClusterState } from '../protocol/wire';
import type { ClusterMetrics } from '../observability/process-metrics';
import type { QueueInspection } from '../transport/transport';

/** One queue as the transport pane shows it. */
export interface QueueRow extends QueueInspection {
  /** The queue's name on the bus (without the cluster's prefix). */
  readonly name: string;
  /** broker, node, worker, mailbox. */
  readonly kind: string;
  /** The actor, node or worker it belongs to. */
  readonly owner?: string;
}

/** One resource, used and total over the alive nodes. */
export interface ResourceRow {
  readonly name: string;
  readonly used: number;
  readonly total: number;
}

/** One function (or actor method) and its tasks by state, with its latest failures. */
export interface FunctionRow {
  readonly name: string;
  readonly type: string;
  readonly counts: Partial<Record<TaskState, number>>;
  readonly total: number;
  readonly recentErrors: Array<{ taskId: string; errorType?: string; errorMessage?: string; endTimeMs?: number }>;
}

/** An actor with its mailbox depth. */
export type ActorRow = ActorItem & { mailbox?: number };

/** Everything one poll saw. */
export interface DashboardSnapshot {
  /** When the poll ended (ms since the epoch). */
  readonly at: number;
  readonly address: string;
  readonly transportKind: string;
  readonly overview: {
    readonly nodes: { alive: number; draining: number; dead: number };
    readonly resources: ResourceRow[];
    readonly tasksByState: Partial<Record<TaskState, number>>;
    readonly actorsByState: Record<string, number>;
    readonly pending: Array<{ kind: string; description: string; demand: Record<string, number>; infeasible: boolean }>;
    readonly oldestWaiting?: { taskId: string; name: string; state: TaskState; sinceMs: number };
    readonly runningLeases: number;
    /** Finished tasks their owners no longer keep. */
    readonly dropped: number;
  };
  readonly functions: FunctionRow[];
  readonly actors: ActorRow[];
  readonly actorSummary: ActorSummary['summary'];
  readonly nodes: NodeItem[];
  readonly workers: WorkerItem[];
  readonly placementGroups: PlacementGroupItem[];
  readonly transport: {
    readonly queues: QueueRow[];
    /** The transport cannot inspect queues. */
    readonly uninspectable?: boolean;
    readonly traffic: ClusterMetrics['transport'];
    readonly processes: number;
    /** Messages refused by the cluster's processes, by reason (unauthenticated, malformed). */
    readonly refused: Record<string, number>;
  };
  readonly durations: ClusterMetrics['durations'];
  /** Parts of the poll that failed (the rest is shown). */
  readonly errors: string[];
}

/** What one poll gathered (each part may be missing when its query failed). */
export interface PollResults {
  readonly state?: ClusterState;
  readonly actors?: ActorItem[];
  readonly actorSummary?: ActorSummary;
  readonly nodes?: NodeItem[];
  readonly workers?: WorkerItem[];
  readonly placementGroups?: PlacementGroupItem[];
  readonly summary?: TaskSummary;
  /** Tasks not yet finished or failed (for the oldest waiting one). */
  readonly liveTasks?: TaskItem[];
  readonly failedTasks?: TaskItem[];
  readonly metrics?: ClusterMetrics;
  readonly queues?: QueueRow[];
  /** Refusals of the dashboard's own connection. */
  readonly ownRefusals?: Record<string, number>;
}

const WAITING: ReadonlySet<TaskState> = new Set(['PENDING_ARGS_AVAIL', 'PENDING_NODE_ASSIGNMENT', 'SUBMITTED_TO_WORKER']);
/** Failures listed per function. */
const RECENT_ERRORS = 5;

/** The snapshot of one poll; parts missing from `r` are taken from `previous`. */
export function buildSnapshot(r: PollResults, ctx: { at: number; address: string; transportKind: string; errors: string[]; uninspectable?: boolean }, previous?: DashboardSnapshot): DashboardSnapshot {
  const state = r.state;
  const nodes = state?.nodes ?? [];
  const resources = state ? resourceRows(state) : (previous?.overview.resources ?? []);
  const functions = r.summary ? functionRows(r.summary, r.failedTasks ?? []) : (previous?.functions ?? []);
  const tasksByState: Partial<Record<TaskState, number>> = {};
  for (const f of functions) for (const [s, n] of Object.entries(f.counts)) tasksByState[s as TaskState] = (tasksByState[s as TaskState] ?? 0) + (n ?? 0);
  const actorsByState: Record<string, number> = {};
  if (r.actorSummary) for (const c of Object.values(r.actorSummary.summary)) for (const [s, n] of Object.entries(c.stateCounts)) actorsByState[s] = (actorsByState[s] ?? 0) + (n ?? 0);
  const mailbox = new Map((r.queues ?? []).filter((q) => q.kind === 'mailbox').map((q) => [q.owner, q.messages]));
  const actors: ActorRow[] = r.actors ? r.actors.map((a) => (mailbox.has(a.actorId) ? { ...a, mailbox: mailbox.get(a.actorId)! } : a)) : (previous?.actors ?? []);
  const refused: Record<string, number> = { ...(r.ownRefusals ?? {}) };
  for (const n of nodes) {
    for (const [reason, k] of Object.entries(n.refused ?? {})) refused[reason] = (refused[reason] ?? 0) + k;
    if (n.malformed) refused.malformed = (refused.malformed ?? 0) + n.malformed;
  }
  if (state?.leader.malformed) refused.malformed = (refused.malformed ?? 0) + state.leader.malformed;
  const oldest = oldestWaiting(r.liveTasks ?? [], ctx.at);
  return {
    at: ctx.at,
    address: ctx.address,
    transportKind: ctx.transportKind,
    overview: {
      nodes: state
        ? { alive: nodes.filter((n) => n.alive && !n.draining).length, draining: nodes.filter((n) => n.draining).length, dead: nodes.filter((n) => !n.alive && !n.draining).length }
        : (previous?.overview.nodes ?? { alive: 0, draining: 0, dead: 0 }),
      resources,
      tasksByState: r.summary ? tasksByState : (previous?.overview.tasksByState ?? {}),
      actorsByState: r.actorSummary ? actorsByState : (previous?.overview.actorsByState ?? {}),
      pending: state ? state.pending.map((p) => ({ kind: p.kind, description: p.description, demand: p.demand, infeasible: p.infeasible })) : (previous?.overview.pending ?? []),
      ...(oldest ? { oldestWaiting: oldest } : {}),
      runningLeases: state ? state.leases.filter((l) => !l.actorId).length : (previous?.overview.runningLeases ?? 0),
      dropped: r.summary?.dropped ?? previous?.overview.dropped ?? 0,
    },
    functions,
    actors,
    actorSummary: r.actorSummary?.summary ?? previous?.actorSummary ?? {},
    nodes: r.nodes ?? previous?.nodes ?? [],
    workers: r.workers ?? previous?.workers ?? [],
    placementGroups: r.placementGroups ?? previous?.placementGroups ?? [],
    transport: {
      queues: r.queues ?? previous?.transport.queues ?? [],
      ...(ctx.uninspectable ? { uninspectable: true } : {}),
      traffic: r.metrics?.transport ?? previous?.transport.traffic ?? { sent: 0, sentBytes: 0, received: 0, receivedBytes: 0 },
      processes: r.metrics?.processes ?? previous?.transport.processes ?? 0,
      refused,
    },
    durations: r.metrics?.durations ?? previous?.durations ?? { counts: [], sum: 0, count: 0 },
    errors: ctx.errors,
  };
}

/** Used and total of each resource over the alive nodes. */
function resourceRows(state: ClusterState): ResourceRow[] {
  const total: Record<string, number> = {};
  const free: Record<string, number> = {};
  for (const n of state.nodes) {
    if (!n.alive || n.draining) continue;
    for (const [k, v] of Object.entries(n.resources)) total[k] = (total[k] ?? 0) + v;
    for (const [k, v] of Object.entries(n.available)) free[k] = (free[k] ?? 0) + v;
  }
  return Object.keys(total)
    .sort()
    .map((name) => ({ name, total: round(total[name]!), used: round(total[name]! - (free[name] ?? 0)) }));
}

/** Functions by name with their counts and latest failures (newest first). */
function functionRows(summary: TaskSummary, failed: readonly TaskItem[]): FunctionRow[] {
  const errors = new Map<string, TaskItem[]>();
  for (const t of failed) {
    const list = errors.get(t.name) ?? [];
    list.push(t);
    errors.set(t.name, list);
  }
  return Object.values(summary.summary)
    .map((e) => {
      const total = Object.values(e.stateCounts).reduce<number>((a, n) => a + (n ?? 0), 0);
      const recent = (errors.get(e.funcOrClassName) ?? [])
        .sort((a, b) => (b.endTimeMs ?? 0) - (a.endTimeMs ?? 0))
        .slice(0, RECENT_ERRORS)
        .map((t) => ({
          taskId: t.taskId,
          ...(t.errorType !== undefined ? { errorType: t.errorType } : {}),
          ...(t.errorMessage !== undefined ? { errorMessage: t.errorMessage.slice(0, 500) } : {}),
          ...(t.endTimeMs !== undefined ? { endTimeMs: t.endTimeMs } : {}),
        }));
      return { name: e.funcOrClassName, type: e.type, counts: e.stateCounts, total, recentErrors: recent };
    })
    .sort((a, b) => b.total - a.total || (a.name < b.name ? -1 : 1));
}

/** The task that has waited longest (not yet running), if any. */
export function oldestWaiting(live: readonly TaskItem[], now: number): DashboardSnapshot['overview']['oldestWaiting'] {
  let best: TaskItem | undefined;
  for (const t of live) {
    if (!WAITING.has(t.state) || t.creationTimeMs === undefined) continue;
    if (!best || t.creationTimeMs < best.creationTimeMs!) best = t;
  }
  return best ? { taskId: best.taskId, name: best.name, state: best.state, sinceMs: Math.max(0, now - best.creationTimeMs!) } : undefined;
}

function round(x: number): number {
  return Math.round(x * 10_000) / 10_000;
}
