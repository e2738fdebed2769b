// Quick request/reply loop on NATS: raybus's NATS transport (publish → consume → publish the
// reply → consume, two transports, durable JetStream queues as raybus declares its work
// queues) next to raw @nats-io core request/reply, in the same run, same process, same server.
// Each figure: one loop of NATS_QUICK_SECONDS (default 10), one request in flight ("sync")
// and 1,000 in flight. Needs the build (npm run build) and a nats-server with JetStream.
//   node benchmarks/nats-transport-quick.mjs [nats://127.0.0.1:4222]
import { createRequire } from 'node:module';
import { randomBytes } from 'node:crypto';

const require = createRequire(import.meta.url);
const url = process.argv[2] ?? process.env.RAYBUS_TEST_NATS_URL ?? 'nats://127.0.0.1:4222';
const seconds = Math.min(30, Number(process.env.NATS_QUICK_SECONDS ?? 10));
const storage = process.env.NATS_QUICK_STORAGE === 'memory' ? 'memory' : 'file';
const IN_FLIGHT = 1000;
const PAYLOAD = 64;

let adapter;
try {
  adapter = require('../dist/cjs/adapters/nats/index.js');
} catch {
  console.error('raybus: run `npm run build` first (this loads dist/cjs/adapters/nats)');
  process.exit(2);
}
const { connect } = require('@nats-io/transport-node');
const { jetstreamManager } = require('@nats-io/jetstream');

/** Run `send(id)` with `inFlight` outstanding until `seconds` pass; `done(id)` is called by the reply side. */
function loop(inFlight, send) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const end = t0 + seconds * 1000;
    let completed = 0;
    let outstanding = 0;
    let stopped = false;
    let nextId = 0;
    const fire = () => {
      outstanding += 1;
      send(nextId++).then(onDone, (err) => {
        stopped = true;
        reject(err);
      });
    };
    const onDone = () => {
      outstanding -= 1;
      completed += 1;
      if (stopped) return;
      if (performance.now() < end) fire();
      else if (outstanding === 0) {
        stopped = true;
        resolve(completed / ((performance.now() - t0) / 1000));
      }
    };
    for (let i = 0; i < inFlight; i++) fire();
  });
}

async function raybusTransport() {
  const namespace = `rbbench${randomBytes(3).toString('hex')}`;
  const server = adapter.createNatsTransport(url, { namespace, connectionName: 'raybus-bench-server' });
  const client = adapter.createNatsTransport(url, { namespace, connectionName: 'raybus-bench-client' });
  await server.connect();
  await client.connect();
  const requests = 'raybus.bench.requests';
  const replies = 'raybus.bench.replies';
  const durable = storage === 'file';
  await server.assertQueue(requests, { durable });
  await client.assertQueue(replies, { durable });
  await server.consume(requests, (d) => {
    server.publish(replies, d.body).then(() => d.ack(), () => d.nack(true));
  }, { prefetch: IN_FLIGHT });
  const waiting = new Map();
  await client.consume(replies, (d) => {
    d.ack();
    const id = new DataView(d.body.buffer, d.body.byteOffset, 4).getUint32(0);
    const w = waiting.get(id);
    waiting.delete(id);
    w?.();
  }, { prefetch: IN_FLIGHT });
  const send = (id) =>
    new Promise((resolve, reject) => {
      const body = new Uint8Array(PAYLOAD);
      new DataView(body.buffer).setUint32(0, id);
      waiting.set(id, resolve);
      client.publish(requests, body).catch(reject);
    });
  const cleanup = async () => {
    await client.close();
    await server.close();
    const nc = await connect({ servers: url });
    const jsm = await jetstreamManager(nc);
    for await (const name of jsm.streams.names()) if (name.startsWith(`${namespace}_`)) await jsm.streams.delete(name);
    await nc.close();
  };
  return { send, cleanup };
}

async function rawCore() {
  const server = await connect({ servers: url, name: 'raw-bench-server', noAsyncTraces: true });
  const client = await connect({ servers: url, name: 'raw-bench-client', noAsyncTraces: true });
  const subject = `raw.bench.${randomBytes(4).toString('hex')}`;
  server.subscribe(subject, { callback: (_err, m) => m.respond(m.data) });
  await server.flush();
  const body = new Uint8Array(PAYLOAD);
  const send = () => client.request(subject, body, { timeout: 10_000 });
  return {
    send,
    cleanup: async () => {
      await client.close();
      await server.close();
    },
  };
}

const results = [];
for (const [name, make] of [
  ['raw @nats-io core request/reply', rawCore],
  [`raybus NATS transport (JetStream, ${storage} storage)`, raybusTransport],
]) {
  const bench = await make();
  try {
    // Warm up with a few hundred round trips, then one loop per figure.
    for (let i = 0; i < 300; i++) await bench.send(1_000_000 + i);
    for (const inFlight of [1, IN_FLIGHT]) {
      const rate = await loop(inFlight, bench.send);
      results.push({ name, inFlight, rate });
      console.log(`${name.padEnd(48)} ${inFlight === 1 ? 'sync' : `${inFlight} in flight`}`.padEnd(66) + `${Math.round(rate).toLocaleString('en-US').padStart(9)} round trips/s`);
    }
  } finally {
    await bench.cleanup();
  }
}
process.exit(0);
