// Anchor for the RabbitMQ figures: raw amqplib request/reply on the same broker, tuned as a
// careful user would tune it (noDelay: true, so Nagle's algorithm does not hold small frames;
// prefetch 1000 on the server). The server runs in a child process; this process is the
// client, with an exclusive reply queue and a correlation id per request.
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import amqp from 'amqplib';
import { timeit, settle, logResult, withTimeout, stopChild } from '../harness.mjs';

/** Start the server process; resolves once it consumes. */
async function startServer(url, queue) {
  const child = fork(fileURLToPath(new URL('./amqplib-server.mjs', import.meta.url)), [url, queue], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const ready = new Promise((resolve, reject) => {
    child.once('message', resolve);
    child.once('exit', (code) => reject(new Error(`amqplib server exited (code ${code})`)));
  });
  await withTimeout(ready, 15_000, 'amqplib server');
  return child;
}


/**
 * Run the amqplib anchor: one request in flight, then 1,000 in flight.
 *
 * @param {string} url  amqp:// address of the broker
 * @returns {Promise<{ results: object[], serverVersion?: string }>}
 */
export async function runAmqplibAnchor(url) {
  const queue = `raybus-bench-rpc-${process.pid}`;
  const server = await startServer(url, queue);
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
    const sync = await timeit('amqplib request/reply sync', call);
    const async = await timeit(
      'amqplib request/reply async',
      () => {
        const ps = new Array(1000);
        for (let i = 0; i < 1000; i++) ps[i] = call();
        return Promise.all(ps);
      },
      { multiplier: 1000 },
    );
    const results = [
      { ...sync, key: 'amqplib_sync', kind: 'sync' },
      { ...async, key: 'amqplib_async', kind: 'async' },
    ];
    for (const r of results) logResult('[anchor] ', r);
    await ch.close();
    return { results, serverVersion };
  } finally {
    await conn.close().catch(() => undefined);
    await stopChild(server);
    await settle();
  }
}
