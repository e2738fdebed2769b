// Anchor for the RabbitMQ figures: Moleculer request/reply (broker.call) over its AMQP
// transporter, tuned the same way as the amqplib anchor (noDelay, prefetch 1000). The
// service runs in a child process; this process is the caller.
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { ServiceBroker } from 'moleculer';
import { moleculerOptions } from './moleculer-options.mjs';
import { timeit, settle, logResult, withTimeout } from '../harness.mjs';

async function stopChild(child) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  if (child.connected) child.disconnect();
  await Promise.race([exited, new Promise((r) => setTimeout(r, 4000).unref())]);
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
}

/**
 * Run the Moleculer anchor: one call in flight, then 1,000 in flight.
 *
 * @param {string} url  amqp:// address of the broker
 * @returns {Promise<object[]>} the two results
 */
export async function runMoleculerAnchor(url) {
  const namespace = `raybus-bench-${process.pid}`;
  const child = fork(fileURLToPath(new URL('./moleculer-node.mjs', import.meta.url)), [url, namespace], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const broker = new ServiceBroker(moleculerOptions(url, namespace, `bench-client-${process.pid}`));
  try {
    await withTimeout(
      new Promise((resolve, reject) => {
        child.once('message', resolve);
        child.once('exit', (code) => reject(new Error(`Moleculer node exited (code ${code})`)));
      }),
      20_000,
      'Moleculer node',
    );
    await withTimeout(broker.start(), 20_000, 'Moleculer broker start');
    await withTimeout(broker.waitForServices('bench'), 20_000, 'Moleculer service discovery');
    const call = () => broker.call('bench.echo', { x: 0 });
    const sync = await timeit('Moleculer AMQP call sync', call);
    const async = await timeit(
      'Moleculer AMQP call async',
      () => {
        const ps = new Array(1000);
        for (let i = 0; i < 1000; i++) ps[i] = call();
        return Promise.all(ps);
      },
      { multiplier: 1000 },
    );
    const results = [
      { ...sync, key: 'moleculer_sync', kind: 'sync' },
      { ...async, key: 'moleculer_async', kind: 'async' },
    ];
    for (const r of results) logResult('[anchor] ', r);
    return results;
  } finally {
    await withTimeout(broker.stop(), 10_000, 'Moleculer broker stop').catch(() => undefined);
    await stopChild(child);
    await settle();
  }
}
