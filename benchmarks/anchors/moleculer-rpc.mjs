// Anchors for the broker figures: Moleculer request/reply (broker.call) over its AMQP
// transporter on RabbitMQ (tuned as the amqplib anchor: noDelay, prefetch 1000) or its NATS
// transporter on NATS. The service runs in a child process; this process is the caller.
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ServiceBroker } from 'moleculer';
import { moleculerOptions } from './moleculer-options.mjs';
import { timeit, settle, logResult, withTimeout, stopChild } from '../harness.mjs';


/**
 * Run a Moleculer anchor: one call in flight, then 1,000 in flight.
 *
 * @param {string} url  amqp:// or nats:// address of the broker
 * @returns {Promise<object[]>} the two results (keys moleculer_sync / _async, or
 *   moleculer_nats_sync / _async on NATS)
 */
export async function runMoleculerAnchor(url) {
  const nats = url.startsWith('nats:');
  const label = nats ? 'Moleculer NATS' : 'Moleculer AMQP';
  const key = nats ? 'moleculer_nats' : 'moleculer';
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
    const sync = await timeit(`${label} call sync`, call);
    const async = await timeit(
      `${label} call async`,
      () => {
        const ps = new Array(1000);
        for (let i = 0; i < 1000; i++) ps[i] = call();
        return Promise.all(ps);
      },
      { multiplier: 1000 },
    );
    const results = [
      { ...sync, key: `${key}_sync`, kind: 'sync' },
      { ...async, key: `${key}_async`, kind: 'async' },
    ];
    for (const r of results) logResult('[anchor] ', r);
    return results;
  } finally {
    await withTimeout(broker.stop(), 10_000, 'Moleculer broker stop').catch(() => undefined);
    await stopChild(child);
    await settle();
  }
}
