// TypeScript on the nodes of a cluster: nodes started without a loader cannot import this
// module, and the task fails with an error naming the cause and the fix (not a syntax error);
// nodes started with `import: ['tsx']` (`raybus start --import tsx`) run it.
import { createHash } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import ray from 'raybus';
import { Cluster } from 'raybus/testing';

export const digest = ray.remote((s: string): string => createHash('sha256').update(s).digest('hex').slice(0, 8));

/** Start a one-node cluster on the broker, run `digest` there, stop it all. */
async function onCluster(broker: string, imports: string[]): Promise<string | Error> {
  const cluster = await Cluster.start({ address: broker, nodes: [{ numCpus: 1 }], import: imports });
  try {
    await ray.init({ address: cluster.address });
    return await ray.get(digest.remote('a'), { timeoutMs: 60_000 }).then(
      (v) => v,
      (e: unknown) => e as Error,
    );
  } finally {
    await ray.shutdown();
    await cluster.shutdown();
  }
}

async function main(): Promise<void> {
  const broker = process.env.CLUSTER_LOADER_BROKER;
  if (!broker) throw new Error('CLUSTER_LOADER_BROKER is not set');
  const failed = await onCluster(broker, []);
  if (!(failed instanceof Error)) throw new Error('the task ran on a node without a TypeScript loader');
  for (const part of ['cluster-loader.ts', 'no loader for .ts files', 'raybus start --import tsx']) {
    if (!failed.message.includes(part)) throw new Error(`the error does not mention '${part}': ${failed.message}`);
  }
  console.log('without a loader: the error names the cause');
  const ran = await onCluster(broker, ['tsx']);
  if (ran !== 'ca978112') throw new Error(`with import: ['tsx'] the task gave ${String(ran)}`);
  console.log("with import: ['tsx']: ran");
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) await main();
