// Anchor for the RabbitMQ figures: raw amqplib request/reply on the same broker, tuned as a
// careful user would tune it (noDelay: true, so Nagle's algorithm does not hold small frames;
// prefetch 1000 on the server). The server runs in a child process; this process is the
// client, with an exclusive reply queue and a correlation id per request.
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import amqp from 'amqplib';
import { settle, stopChild, startChild, timeRequestReply } from '../harness.mjs';

/**
 * Run the amqplib anchor: one request in flight, then 1,000 in flight.
 *
 * @param {string} url  amqp:// address of the broker
 * @returns {Promise<{ results: object[], serverVersion?: string }>}
 */
export async function runAmqplibAnchor(url) {
  const queue = `raybus-bench-rpc-${process.pid}`;
  // The server process; ready once it consumes.
  const server = await startChild(fileURLToPath(new URL('./amqplib-server.mjs', import.meta.url)), [url, queue], 'amqplib server');
  const conn = await amqp.connect(url, { noDelay: true });
  try {
    const props = conn.connection.serverProperties ?? {};
    const serverVersion = props.version ? `${props.product ?? 'AMQP server'} ${props.version}` : undefined;
    const ch = await conn.createChannel();
    const { queue: replyTo } = await ch.assertQueue('', { exclusive: true, autoDelete: true });
    const pending = new Map();
    await ch.consume(
      replyTo,
      (msg) => {
        if (!msg) return;
        const id = msg.properties.correlationId;
        const resolve = pending.get(id);
        pending.delete(id);
        resolve?.(msg.content);
      },
      { noAck: true },
    );
    let next = 0;
    let drained = null; // a promise while the channel's write buffer is full
    const payload = Buffer.from('ok');
    const call = async () => {
      if (drained) await drained;
      const id = String(next++);
      const reply = new Promise((resolve) => pending.set(id, resolve));
      if (!ch.sendToQueue(queue, payload, { correlationId: id, replyTo })) {
        drained ??= once(ch, 'drain').then(() => {
          drained = null;
        });
      }
      return reply;
    };
    const results = await timeRequestReply('amqplib request/reply', 'amqplib', call);
    await ch.close();
    return { results, serverVersion };
  } finally {
    await conn.close().catch(() => undefined);
    await stopChild(server);
    await settle();
  }
}
