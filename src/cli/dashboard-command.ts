/**
 * `raybus dashboard --address … [--port 8265] [--host 127.0.0.1] [--token T]`: serve the
 * dashboard (and /metrics) for the cluster at the address until SIGINT/SIGTERM. Refuses to
 * start when no broker leader answers, and — bound beyond loopback — without a token or key.
 */
import { openClusterTransport } from '../runtimes/open-transport';
import { RefusalLog } from '../runtimes/refusal-log';
import { parseClusterAddress } from '../transport/cluster-address';
import { StateClient } from '../observability/state-client';
import { startDashboard } from '../dashboard/dashboard-server';
import type { ParsedArgs } from './args';

export async function runDashboard(args: ParsedArgs): Promise<number> {
  const refusals = new RefusalLog();
  const t = openClusterTransport(args.address, {
    connectionName: 'raybus dashboard',
    connectAttempts: 3,
    connectTimeoutMs: 5000,
    refusals,
    ...(args.clusterKey ? { clusterKey: args.clusterKey } : {}),
    ...(args.encrypt ? { encrypt: true } : {}),
    ...(args.insecure ? { insecure: true } : {}),
    ...(args.caFile ? { caFile: args.caFile } : {}),
  });
  await t.connect();
  try {
    process.stderr.write(`raybus dashboard: asking the cluster at ${parseClusterAddress(args.address).display}\n`);
    await new StateClient(t).clusterState();
    const dashboard = await startDashboard({
      transport: t,
      address: parseClusterAddress(args.address).display,
      ...(args.port !== undefined ? { port: args.port } : {}),
      ...(args.host ? { host: args.host } : {}),
      ...(args.token ? { token: args.token } : {}),
      ...(args.clusterKey ? { clusterKey: args.clusterKey } : {}),
      refusals: () => refusals.snapshot(),
    });
    const auth = dashboard.requiresToken ? (args.token ? ' (requests must carry the token)' : ' (requests must carry the cluster key as token)') : '';
    process.stdout.write(`raybus dashboard: serving ${dashboard.url}${auth}; metrics at ${dashboard.url}/metrics. Ctrl+C stops it.\n`);
    await new Promise<void>((resolve) => {
      process.once('SIGINT', resolve).once('SIGTERM', resolve);
    });
    process.stderr.write('raybus dashboard: stopping\n');
    await dashboard.close();
    return 0;
  } finally {
    await t.close().catch(() => undefined);
  }
}
