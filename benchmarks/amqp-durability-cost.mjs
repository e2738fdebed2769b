// What RabbitMQ spends per request/reply round trip for each guarantee raybus asks of it,
// measured with raw amqplib (two connections, one round trip at a time): durable queues,
// persistent messages, publisher confirms, mandatory publishes, a manually acknowledged
// reply. Each variant: round trips per second and RabbitMQ's CPU per round trip (its
// scheduler threads' busy waiting included). Queues are this process's own, deleted after.
//   node benchmarks/amqp-durability-cost.mjs [amqp://...]   (Linux: reads /proc)
import amqp from 'amqplib';
import { cpuByProcess } from './process-cpu.mjs';

const url = process.argv[2] ?? 'amqp://guest:guest@127.0.0.1:5672';
const SECONDS = Number(process.env.DURABILITY_SECONDS ?? 3);

/** CPU seconds of the broker's processes so far (beam.smp). */
function brokerCpu() {
  let s = 0;
  for (const p of cpuByProcess().values()) if (p.role === 'beam.smp') s += p.s;
  return s;
}

async function variant(name, { durable, persistent, confirm, mandatory, ackReply }) {
  const server = await amqp.connect(url, { noDelay: true });
  const client = await amqp.connect(url, { noDelay: true });
  const q = `raybus-durability-${process.pid}-${name.replace(/\W+/g, '-')}`;
  const r = `${q}-reply`;
  try {
    const sch = confirm ? await server.createConfirmChannel() : await server.createChannel();
    const cch = confirm ? await client.createConfirmChannel() : await client.createChannel();
    await sch.assertQueue(q, { durable });
    await cch.assertQueue(r, { durable });
    await sch.prefetch(100);
    await cch.prefetch(100);
    const opts = { persistent, mandatory };
    const noop = confirm ? () => undefined : undefined;
    await sch.consume(q, (m) => {
      if (!m) return;
      sch.sendToQueue(r, m.content, opts, noop);
      sch.ack(m);
    });
    let answered = () => undefined;
    await cch.consume(
      r,
      (m) => {
        if (!m) return;
        if (ackReply) cch.ack(m);
        answered();
      },
      { noAck: !ackReply },
    );
    const body = Buffer.alloc(300);
    const call = () =>
      new Promise((resolve) => {
        answered = resolve;
        cch.sendToQueue(q, body, opts, noop);
      });
    let t0 = performance.now();
    while (performance.now() - t0 < 1000) await call();
    const c0 = brokerCpu();
    t0 = performance.now();
    let n = 0;
    while (performance.now() - t0 < SECONDS * 1000) {
      await call();
      n++;
    }
    const cpu = brokerCpu() - c0;
    console.log(`${name.padEnd(44)} ${String(Math.round(n / SECONDS)).padStart(6)}/s   RabbitMQ ${Math.round((cpu * 1e6) / n)} µs per round trip`);
    await sch.deleteQueue(q);
    await cch.deleteQueue(r);
  } finally {
    await server.close().catch(() => undefined);
    await client.close().catch(() => undefined);
  }
}

const none = { durable: false, persistent: false, confirm: false, mandatory: false, ackReply: false };
const raybus = { durable: true, persistent: true, confirm: true, mandatory: true, ackReply: true };
await variant('transient queues (the amqplib anchor)', none);
await variant('durable queues', { ...none, durable: true });
await variant('+ persistent messages', { ...none, durable: true, persistent: true });
await variant('+ publisher confirms', { ...none, durable: true, persistent: true, confirm: true });
await variant('+ mandatory', { ...none, durable: true, persistent: true, confirm: true, mandatory: true });
await variant('+ acked reply (what raybus asks)', raybus);
await variant("raybus's, messages not persistent", { ...raybus, persistent: false });
