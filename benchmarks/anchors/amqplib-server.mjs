// Server side of the amqplib request/reply anchor, in its own process (as a raybus node
// would be): consume requests with prefetch 1000, reply to `replyTo` with the correlation id,
// ack each. Stops when its parent disconnects.
import amqp from 'amqplib';

const [url, queue] = process.argv.slice(2);
const conn = await amqp.connect(url, { noDelay: true });
const ch = await conn.createChannel();
await ch.assertQueue(queue, { durable: false, autoDelete: true });
await ch.prefetch(1000);
await ch.consume(queue, (msg) => {
  if (!msg) return;
  ch.sendToQueue(msg.properties.replyTo, msg.content, { correlationId: msg.properties.correlationId });
  ch.ack(msg);
});
process.send('ready');
process.on('disconnect', () => {
  conn.close().finally(() => process.exit(0));
  setTimeout(() => process.exit(0), 2000).unref();
});
