// Anchors for the broker figures: Moleculer request/reply (broker.call) over its AMQP
// transporter on RabbitMQ (tuned as the amqplib anchor: noDelay, prefetch 1000) or its NATS
// transporter on NATS. The service runs in a child process; this process is the caller.
import { fileURLToPath } from 'node:url';
import { ServiceBroker } from 'moleculer';
import { moleculerOptions } from './moleculer-options.mjs';
import { settle, withTimeout, stopChild, startChild, timeRequestReply } from '../harness.mjs';


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
  const child = await startChild(fileURLToPath(new URL('./moleculer-node.mjs', import.meta.url)), [url, namespace], `${label} node`, 20_000);
  const broker = new ServiceBroker(moleculerOptions(url, namespace, `bench-client-${process.pid}`));
  try {
    await withTimeout(broker.start(), 20_000, 'Moleculer broker start');
    await withTimeout(broker.waitForServices('bench'), 20_000, 'Moleculer service discovery');
    const call = () => broker.call('bench.echo', { x: 0 });
    return await timeRequestReply(`${label} call`, key, call);
  } finally {
    await withTimeout(broker.stop(), 10_000, 'Moleculer broker stop').catch(() => undefined);
    await stopChild(child);
    await settle();
  }
}
