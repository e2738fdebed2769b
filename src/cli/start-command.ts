/**
 * `raybus start`: run a node until SIGINT/SIGTERM. The first signal drains the node (no new
 * work, running work finishes, leases go back, then it leaves the cluster) and exits 0; a
 * second signal stops it at once.
 */
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseClusterAddress } from '../transport/cluster-address';
import { NodeProcess } from '../runtimes/node-runtime';
import { formatResources } from '../scheduling/ledger/resource-set';
import type { ParsedArgs } from './args';
import { checkClusterSecurity } from '../runtimes/cluster-security';
import { dynamicImport } from '../serialization/dynamic-code';


function importModule(spec: string): Promise<unknown> {
  return dynamicImport(path.isAbsolute(spec) ? pathToFileURL(spec).href : spec);
}

export async function runStart(args: ParsedArgs): Promise<number> {
  const log = (line: string): void => void process.stdout.write(`raybus start: ${line}\n`);
  // Refuses to start without a key on a network bus (unless --insecure): one clear line.
  const warning = checkClusterSecurity(args.address, args);
  if (warning) log(warning.replace(/^raybus: /, 'warning: '));
  if (args.keyFileShared) log('warning: the cluster key file is readable by other users of this machine (chmod 600 it)');
  if (args.clusterKey) log(`every message is authenticated with the cluster key${args.encrypt ? ' and encrypted' : ''}`);
  // Signals before the node is up stop the start.
  let signalled: NodeJS.Signals | undefined;
  const early = (sig: NodeJS.Signals): void => {
    signalled = sig;
  };
  process.on('SIGINT', early).on('SIGTERM', early);
  // Modules first (a transport adapter registers its scheme with registerTransport here).
  for (const spec of args.imports) await importModule(spec);
  const node = await NodeProcess.start({
    address: args.address,
    ...(args.numCpus !== undefined ? { numCpus: args.numCpus } : {}),
    ...(args.numGpus !== undefined ? { numGpus: args.numGpus } : {}),
    ...(args.memory !== undefined ? { memory: args.memory } : {}),
    ...(args.resources ? { resources: args.resources } : {}),
    ...(args.acceleratorType ? { acceleratorType: args.acceleratorType } : {}),
    ...(args.labels ? { labels: args.labels } : {}),
    imports: args.imports,
    ...(args.clusterKey ? { clusterKey: args.clusterKey } : {}),
    ...(args.encrypt ? { encrypt: true } : {}),
    ...(args.insecure ? { insecure: true } : {}),
    ...(args.caFile ? { caFile: args.caFile } : {}),
    log,
  });
  process.off('SIGINT', early).off('SIGTERM', early);
  log(`node ${node.nodeId} is up at ${parseClusterAddress(args.address).display} with ${formatResources(node.resources)}${args.imports.length ? `; workers import ${args.imports.join(', ')}` : ''}`);
  log(`pid ${process.pid}; stop with Ctrl+C or SIGTERM (drains running work)`);
  return new Promise<number>((resolve) => {
    let draining = false;
    const onSignal = (sig: NodeJS.Signals): void => {
      if (draining) {
        log(`${sig} again: stopping now (running work fails over to other nodes)`);
        void node.stop().then(() => resolve(1));
        return;
      }
      draining = true;
      log(`${sig}: draining — taking no new work, waiting for running work to finish`);
      node.drain(args.drainTimeoutMs, log).then(
        () => {
          log('drained; node stopped');
          resolve(0);
        },
        (err: unknown) => {
          process.stderr.write(`raybus start: error while draining: ${(err as Error).message}\n`);
          void node.stop().then(() => resolve(1));
        },
      );
    };
    process.on('SIGINT', onSignal).on('SIGTERM', onSignal);
    // Started by a raybus/testing Cluster (IPC channel): stop when that process goes away.
    if (process.connected) {
      process.once('disconnect', () => {
        log('parent process gone: stopping');
        void node.stop().then(() => resolve(0));
      });
    }
    if (signalled) onSignal(signalled);
  });
}
