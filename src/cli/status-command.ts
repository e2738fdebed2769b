/**
 * `raybus status`: ask the broker leader for the live cluster state and print it (or JSON with
 * `--json`): nodes, resources, actors by state, running leases and waiting work.
 */
import type { ClusterState, Resources } from '../protocol/wire';
import { openClusterTransport } from '../runtimes/open-transport';
import { parseClusterAddress } from '../transport/cluster-address';
import type { Transport } from '../transport/transport';
import { clusterState } from '../broker/broker-query';
import type { ParsedArgs } from './args';
import { fmt, round } from './format';

/** How long to wait for the broker leader (ms); RAYBUS_QUERY_TIMEOUT_MS overrides. */
const queryTimeoutMs = (): number => Number(process.env.RAYBUS_QUERY_TIMEOUT_MS) || 10_000;

export async function withCluster<T>(args: ParsedArgs, fn: (t: Transport) => Promise<T>): Promise<T> {
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

function formatStatus(state: ClusterState, display: string): string {
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

