/**
 * `raybus status` and `raybus list nodes|actors|tasks|placement-groups`: ask the broker leader
 * for the live cluster state and print it (tables, or JSON with `--json`). "Tasks" are what
 * the broker schedules: worker leases (running work) and requests waiting for resources —
 * owners push the tasks themselves over their leases, as in Ray.
 */
import type { ClusterState, Resources } from '../protocol/wire';
import { openClusterTransport } from '../runtimes/open-transport';
import { parseClusterAddress } from '../transport/cluster-address';
import type { Transport } from '../transport/transport';
import { clusterState } from '../broker/broker-query';
import type { ParsedArgs } from './args';

/** How long to wait for the broker leader (ms); RAYBUS_QUERY_TIMEOUT_MS overrides. */
const queryTimeoutMs = (): number => Number(process.env.RAYBUS_QUERY_TIMEOUT_MS) || 10_000;

async function withCluster<T>(args: ParsedArgs, fn: (t: Transport) => Promise<T>): Promise<T> {
  const t = openClusterTransport(args.address, {
    connectionName: 'raybus cli',
    connectAttempts: 3,
    connectTimeoutMs: 5000,
    ...(args.clusterKey ? { clusterKey: args.clusterKey } : {}),
    ...(args.encrypt ? { encrypt: true } : {}),
    ...(args.insecure ? { insecure: true } : {}),
    ...(args.caFile ? { caFile: args.caFile } : {}),
  });
  await t.connect();
  try {
    return await fn(t);
  } finally {
    await t.close().catch(() => undefined);
  }
}

export async function runStatus(args: ParsedArgs): Promise<number> {
  const state = await withCluster(args, (t) => clusterState(t, queryTimeoutMs()));
  if (args.json) {
    process.stdout.write(`${JSON.stringify(state, null, 2)}\n`);
    return 0;
  }
  process.stdout.write(formatStatus(state, parseClusterAddress(args.address).display));
  return 0;
}

export async function runList(args: ParsedArgs): Promise<number> {
  const state = await withCluster(args, (t) => clusterState(t, queryTimeoutMs()));
  const rows = listRows(state, args.what!);
  if (args.json) {
    process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
    return 0;
  }
  process.stdout.write(table(rows));
  return 0;
}

/** The rows `raybus list <what>` prints. */
export function listRows(state: ClusterState, what: NonNullable<ParsedArgs['what']>): Array<Record<string, unknown>> {
  switch (what) {
    case 'nodes':
      return state.nodes.map((n) => ({
        nodeId: n.nodeId,
        state: n.draining ? 'DRAINING' : n.alive ? 'ALIVE' : 'DEAD',
        resources: fmt(n.resources),
        available: n.alive && !n.draining ? fmt(n.available) : '',
        labels: fmt(n.labels),
      }));
    case 'actors':
      return state.actors.map((a) => ({
        actorId: a.actorId,
        className: a.className,
        name: a.name ?? '',
        namespace: a.namespace,
        state: a.state,
        nodeId: a.nodeId ?? '',
        lifetime: a.detached ? 'detached' : 'non_detached',
        restarts: a.restarts,
      }));
    case 'tasks':
      return [
        ...state.leases
          .filter((l) => !l.actorId)
          .map((l) => ({ id: l.lease, state: 'RUNNING', nodeId: l.nodeId, owner: l.owner ?? '', demand: fmt(l.demand), description: 'worker lease' })),
        ...state.pending
          .filter((p) => p.kind === 'task')
          .map((p) => ({ id: p.id, state: p.infeasible ? 'INFEASIBLE' : 'PENDING_SCHEDULING', nodeId: '', owner: '', demand: fmt(p.demand), description: p.description })),
      ];
    case 'placement-groups':
      return Object.values(state.placementGroups).map((pg) => ({
        placementGroupId: pg.placementGroupId,
        name: pg.name,
        strategy: pg.strategy,
        state: pg.state,
        bundles: Object.values(pg.bundles).map(fmt).join(' | '),
      }));
  }
}

export function formatStatus(state: ClusterState, display: string): string {
  const lines: string[] = [];
  const ago = state.leader.electedAt ? `, elected ${Math.round((Date.now() - state.leader.electedAt) / 1000)} s ago` : '';
  lines.push(`raybus cluster at ${display} (broker leader term ${state.leader.epoch}${ago})`);
  const alive = state.nodes.filter((n) => n.alive && !n.draining);
  const draining = state.nodes.filter((n) => n.draining);
  const dead = state.nodes.filter((n) => !n.alive && !n.draining);
  lines.push('', `Nodes: ${alive.length} alive, ${draining.length} draining, ${dead.length} dead`);
  for (const n of state.nodes) lines.push(`  ${n.nodeId}  ${n.draining ? 'DRAINING' : n.alive ? 'ALIVE' : 'DEAD'}  ${fmt(n.resources)}${refusals(n)}`);
  const total: Resources = {};
  const free: Resources = {};
  for (const n of alive) {
    for (const [k, v] of Object.entries(n.resources)) total[k] = (total[k] ?? 0) + v;
    for (const [k, v] of Object.entries(n.available)) free[k] = (free[k] ?? 0) + v;
  }
  lines.push('', 'Resources (used / total):');
  for (const [k, v] of Object.entries(total)) lines.push(`  ${k.padEnd(24)} ${round(v - (free[k] ?? 0))} / ${round(v)}`);
  const byState = new Map<string, number>();
  for (const a of state.actors) byState.set(a.state, (byState.get(a.state) ?? 0) + 1);
  lines.push('', `Actors: ${state.actors.length}${byState.size ? ` (${[...byState].map(([s, n]) => `${s} ${n}`).join(', ')})` : ''}`);
  const running = state.leases.filter((l) => !l.actorId).length;
  const pendingTasks = state.pending.filter((p) => p.kind === 'task');
  const pendingActors = state.pending.filter((p) => p.kind === 'actor');
  const pendingPgs = state.pending.filter((p) => p.kind === 'placement-group');
  const infeasible = state.pending.filter((p) => p.infeasible);
  lines.push('', `Work: ${running} worker lease${running === 1 ? '' : 's'} running; pending: ${pendingTasks.length} task lease request${pendingTasks.length === 1 ? '' : 's'}, ${pendingActors.length} actor${pendingActors.length === 1 ? '' : 's'}, ${pendingPgs.length} placement group${pendingPgs.length === 1 ? '' : 's'}; ${infeasible.length} infeasible`);
  for (const p of infeasible) lines.push(`  infeasible: ${p.description}`);
  const refused = state.nodes.reduce((n, x) => n + Object.values(x.refused ?? {}).reduce((a, b) => a + b, 0), 0);
  const malformed = state.nodes.reduce((n, x) => n + (x.malformed ?? 0), 0) + (state.leader.malformed ?? 0);
  lines.push('', `Refused messages: ${refused} unauthenticated, ${malformed} malformed${refused + malformed > 0 ? ' (by node above; see their logs)' : ''}`);
  return `${lines.join('\n')}\n`;
}

/** `  refused 12 (bad seal 10, seen before 2), malformed 3` for a node that refused anything. */
function refusals(n: ClusterState['nodes'][number]): string {
  const entries = Object.entries(n.refused ?? {});
  const total = entries.reduce((a, [, v]) => a + v, 0);
  const parts: string[] = [];
  if (total > 0) parts.push(`refused ${total} unauthenticated (${entries.map(([k, v]) => `${k}: ${v}`).join(', ')})`);
  if (n.malformed) parts.push(`${n.malformed} malformed`);
  return parts.length ? `  ${parts.join(', ')}` : '';
}

function fmt(r: Record<string, unknown>): string {
  return Object.entries(r)
    .map(([k, v]) => `${k}=${typeof v === 'number' ? round(v) : String(v)}`)
    .join(', ');
}

function round(n: number): string {
  return Number.isInteger(n) ? String(n) : n.toFixed(2);
}

function table(rows: Array<Record<string, unknown>>): string {
  if (rows.length === 0) return '(none)\n';
  const cols = Object.keys(rows[0]!);
  const widths = cols.map((c) => Math.max(c.length, ...rows.map((r) => String(r[c] ?? '').length)));
  const line = (cells: string[]): string => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  return `${[line(cols.map((c) => c.toUpperCase())), ...rows.map((r) => line(cols.map((c) => String(r[c] ?? ''))))].join('\n')}\n`;
}
