// Large values per transport: a 100 MB `ray.put` read by a task (the worker pulls it from the
// driver), a 100 MB argument and a 100 MB return value, in MB/s — values far above a bus's
// message limit travel as blobs pulled in chunks (docs/ARCHITECTURE.md, "Values larger than a
// message"). Next to them, raw clients moving the same bytes: a pipe to a child process, one
// 100 MB AMQP message (amqplib), and 100 MB as chunks of one NATS message each, 4 in flight
// (@nats-io core request/reply, as raybus pulls them).
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { timeit, logResult, withTimeout } from './harness.mjs';

const MB = 1024 * 1024;
const SIZE_MB = 100;
/**
 * One op moves 100 MB: two untimed ops, then three single-op rounds (each op takes 40–400 ms),
 * raybus's and the raw clients' alike. The first values through a process also pay for its
 * heap's growth, which the untimed ops take.
 */
const OPTS = { multiplier: SIZE_MB, unit: 'MB/s', warmupMs: 0, warmupCalls: 2, rounds: 3, roundMs: 1, maxCallsPerRound: 1, deadlineMs: 300_000 };

/**
 * The setting README.md gives for workers that move large values (glibc, Linux): allocations
 * under 1 GiB come from malloc's heap instead of fresh mappings, and up to 256 MB freed at its
 * top stays mapped, so the next large value lands in memory already touched. Not raybus's
 * default: it keeps ~0.7 MB more in an idle worker, and a worker keeps its largest values'
 * memory once they are freed.
 */
export const KEEP_FREED_TUNABLES = 'glibc.malloc.mmap_threshold=1073741824:glibc.malloc.trim_threshold=268435456';

const filled = (n) => {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i += 4096) b[i] = i & 0xff;
  return b;
};

/**
 * The large-value rows of raybus on whatever `ray` is initialized on; with `keepFreed`, the
 * same rows again on workers started with KEEP_FREED_TUNABLES (a runtime env of their own).
 */
export async function runLargeValues(ray, label, { keepFreed = false } = {}) {
  const value = filled(SIZE_MB * MB);
  const ref = ray.put(value);
  const rows = [];
  const row = async (name, body) => {
    const r = { ...(await timeit(name, body, OPTS)), key: name.replace(/\W+/g, '_') };
    logResult(`[${label}] `, r);
    rows.push(r);
  };
  const rowsOn = async (options, suffix) => {
    const length = ray.remote(options)((b) => b.length);
    const make = ray.remote(options)((n) => Buffer.alloc(n, 7));
    await withTimeout(ray.get([length.remote(1), make.remote(1)]), 60_000, 'a first task');
    await row(`100 MB put, read by a task${suffix}`, () => ray.get(length.remote(ref)));
    await row(`100 MB argument${suffix}`, () => ray.get(length.remote(value)));
    await row(`100 MB return value${suffix}`, () => ray.get(make.remote(SIZE_MB * MB)));
  };
  await rowsOn({}, '');
  if (keepFreed) await rowsOn({ runtimeEnv: { envVars: { GLIBC_TUNABLES: KEEP_FREED_TUNABLES } } }, ', workers keeping freed memory');
  return rows;
}

/**
 * 100 MB through a pipe to a child process: one that counts the bytes and drops them (the
 * anchor of the targets), and one that keeps each value, copying its bytes into a buffer of its
 * own as they arrive, as any receiver of a value must (the buffer is new memory each time, whose
 * first touch costs page faults: on this kind of VM about 70 ms per 100 MB, more than the whole
 * round of the first).
 */
async function rawPipe(keep) {
  const counting = `let n = 0; process.stdin.on('data', (d) => { n += d.length; while (n >= ${SIZE_MB * MB}) { n -= ${SIZE_MB * MB}; process.stdout.write('k'); } });`;
  const keeping = `let v, n = 0; process.stdin.on('data', (d) => { for (let at = 0; at < d.length; ) { v ??= Buffer.allocUnsafe(${SIZE_MB * MB}); const k = Math.min(d.length - at, v.length - n); d.copy(v, n, at, at + k); n += k; at += k; if (n === v.length) { globalThis.kept = v; v = undefined; n = 0; process.stdout.write('k'); } } });`;
  const child = spawn(process.execPath, ['-e', keep ? keeping : counting], { stdio: ['pipe', 'pipe', 'inherit'] });
  const value = filled(SIZE_MB * MB);
  try {
    return await timeit(keep ? 'raw pipe to a child process that keeps each 100 MB value' : 'raw pipe to a child process, 100 MB', async () => {
      const ack = once(child.stdout, 'data');
      child.stdin.write(value);
      await ack;
    }, OPTS);
  } finally {
    child.kill();
  }
}

/** One 100 MB message through RabbitMQ (amqplib, transient queue, no confirms). */
async function rawAmqp(url) {
  const { default: amqp } = await import('amqplib');
  const a = await amqp.connect(url, { noDelay: true });
  const b = await amqp.connect(url, { noDelay: true });
  try {
    const pub = await a.createChannel();
    const sub = await b.createChannel();
    const { queue } = await sub.assertQueue('', { exclusive: true, autoDelete: true });
    let arrived;
    await sub.consume(queue, (m) => arrived?.(m.content.length), { noAck: true });
    const value = filled(SIZE_MB * MB);
    return await timeit('amqplib, one 100 MB message', () => {
      const got = new Promise((resolve) => (arrived = resolve));
      pub.sendToQueue(queue, value);
      return got;
    }, OPTS);
  } finally {
    await a.close().catch(() => undefined);
    await b.close().catch(() => undefined);
  }
}

/** 100 MB as request/reply chunks of one NATS message each, 4 in flight. */
async function rawNats(url) {
  const { connect } = await import('@nats-io/transport-node');
  const server = await connect({ servers: url });
  const client = await connect({ servers: url });
  try {
    const subject = `raybus-bench.bytes.${process.pid}`;
    const ok = new Uint8Array(1);
    server.subscribe(subject, { callback: (_e, m) => m.respond(ok) });
    await server.flush();
    const chunk = Math.max(1024, (client.info?.max_payload ?? MB) - 4096);
    const value = filled(SIZE_MB * MB);
    return await timeit(`@nats-io, 100 MB in ${Math.round(chunk / 1024)} KiB chunks, 4 in flight`, async () => {
      let off = 0;
      const next = async () => {
        while (off < value.length) {
          const start = off;
          off += chunk;
          await client.request(subject, value.subarray(start, Math.min(value.length, start + chunk)), { timeout: 30_000 });
        }
      };
      await Promise.all([next(), next(), next(), next()]);
    }, OPTS);
  } finally {
    await client.close();
    await server.close();
  }
}

/** The raw anchors: the pipe always, amqplib and NATS where their addresses are given. */
export async function runLargeValueAnchors({ amqpUrl, natsUrl } = {}) {
  const results = [];
  const run = async (fn) => {
    try {
      const r = await fn();
      logResult('[anchor] ', r);
      results.push(r);
    } catch (err) {
      console.log(`  [anchor] large values: ${err instanceof Error ? err.message : String(err)}`);
    }
  };
  await run(() => rawPipe(false));
  await run(() => rawPipe(true));
  if (amqpUrl) await run(() => rawAmqp(amqpUrl));
  if (natsUrl) await run(() => rawNats(natsUrl));
  return results;
}
