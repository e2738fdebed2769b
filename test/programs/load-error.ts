// Nodes started without a TypeScript loader cannot import this module: the task fails with an
// error that names the cause and the fix (`raybus start --import tsx`), not a syntax error.
import { createHash } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import ray from 'raybus';
import { Cluster } from 'raybus/testing';

export const digest = ray.remote((s: string): string => createHash('sha256').update(s).digest('hex').slice(0, 8));

async function main(): Promise<void> {
  const broker = process.env.LOAD_ERROR_BROKER;
  if (!broker) throw new Error('LOAD_ERROR_BROKER is not set');
  // No `import: ['tsx']`: the node processes run plain node.
  const cluster = await Cluster.start({ address: broker, nodes: [{ numCpus: 1 }] });
  try {
    await ray.init({ address: cluster.address });
    const err = await ray.get(digest.remote('a'), { timeoutMs: 60_000 }).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    if (!err) throw new Error('the task ran on a node without a TypeScript loader');
    for (const part of ['load-error.ts', 'no loader for .ts files', 'raybus start --import tsx']) {
      if (!err.message.includes(part)) throw new Error(`the error does not mention '${part}': ${err.message}`);
    }
    console.log('load error names the cause');
  } finally {
    await ray.shutdown();
    await cluster.shutdown();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) await main();
