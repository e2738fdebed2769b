// Quick loop over the four headline embedded figures, and sync tasks an event-loop turn apart
// (for iterating on the hot path).
//   node benchmarks/quick.mjs [address]
// On a broker, QUICK_SECURITY=none|key|encrypt runs the cluster without a cluster key, with
// one (the default: every message authenticated), or with one and encryption.
// QUICK_METRICS=1 runs with the dashboard on and /metrics scraped every QUICK_SCRAPE_MS
// (default 1000; 0: never), what a Prometheus watching the cluster costs the hot path;
// compare with a run without it. On a broker, each loop also prints the CPU per call of each
// process role: driver, node, worker, and the broker server's own (beam.smp, nats-server).
import { readFileSync, readdirSync } from 'node:fs';
import ray from 'raybus';
import { smallValue, Actor } from './raybus-remote-code.mjs';
import { benchBroker } from './bench-vhost.mjs';
import { deleteClusterStreams, deleteNewLeaseBuckets, streamNames } from './nats-cluster.mjs';
import { cpuByProcess, cpuPerOp } from './process-cpu.mjs';

// On RabbitMQ without a vhost in the address: a vhost of its own, deleted at the end
// (bench-vhost.mjs); on NATS, whatever streams of the cluster a run cut short left are deleted
// at the end.
const amqpVhost = process.argv[2]?.startsWith('amqp') ? benchBroker(process.argv[2]) : undefined;
const broker = amqpVhost?.url ?? process.argv[2];
const only = process.env.QUICK_ONLY ? new RegExp(process.env.QUICK_ONLY) : /./;
const secs = Number(process.env.QUICK_SECONDS ?? 3);
// On a broker: one `raybus start` node (2 CPUs) of raybus/testing's Cluster; CPU figures then
// count the driver only (the node and its workers are not this process's children).
const { Cluster } = await import('raybus/testing');
const security = process.env.QUICK_SECURITY ?? 'key';
if (!['none', 'key', 'encrypt'].includes(security)) throw new Error(`QUICK_SECURITY must be none, key or encrypt, got ${security}`);
// The lease buckets before it: the cluster's nodes make one in the name space clusters share.
const bucketsBefore = broker?.startsWith('nats') ? await streamNames(broker) : [];
const cluster = broker
  ? await Cluster.start({ address: broker, nodes: [{ numCpus: 2 }], ...(security === 'none' ? { clusterKey: null } : {}), ...(security === 'encrypt' ? { encrypt: true } : {}) })
  : undefined;
if (broker) console.log(`security: ${security}`);
const metrics = process.env.QUICK_METRICS === '1';
const info = await ray.init({ ...(cluster ? { address: cluster.address } : {}), ...(metrics ? { dashboard: { port: 0 } } : {}) });
let scrapes = 0;
const scrapeMs = Number(process.env.QUICK_SCRAPE_MS ?? 1000);
// One scrape first, as a Prometheus watching a running cluster has done (loads and warms it).
if (metrics) await (await fetch(`${info.dashboardUrl}/metrics`)).text();
const scraper =
  metrics && scrapeMs > 0
    ? setInterval(() => {
        fetch(`${info.dashboardUrl}/metrics`).then((r) => r.text()).then(() => (scrapes += 1), () => undefined);
      }, scrapeMs)
    : undefined;
if (metrics) console.log(`metrics: on (${info.dashboardUrl}/metrics scraped every ${scrapeMs} ms)`);
const small = ray.remote(smallValue);
const A = ray.remote(Actor);
const a = A.remote();
await ray.get(a.small_value.remote());
await ray.get(small.remote());
/** CPU seconds used so far by this process and its children (Linux /proc), driver and workers apart. */
function cpu() {
  const tick = 100;
  const stat = (pid) => {
    try {
      const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const parts = f.slice(f.lastIndexOf(')') + 2).split(' ');
      return { ppid: Number(parts[1]), t: (Number(parts[11]) + Number(parts[12])) / tick, sys: Number(parts[12]) / tick };
    } catch {
      return undefined;
    }
  };
  let workers = 0;
  let workersSys = 0;
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    const s = stat(d);
    if (s && s.ppid === process.pid) {
      workers += s.t;
      workersSys += s.sys;
    }
  }
  const self = stat(process.pid);
  return { driver: self.t, driverSys: self.sys, workers, workersSys };
}
async function measure(name, body, per) {
  if (!only.test(name)) return;
  const t0 = performance.now();
  let n = 0;
  while (performance.now() - t0 < 500) { await body(); }
  const t1 = performance.now();
  const c0 = cpu();
  const p0 = broker ? cpuByProcess() : undefined;
  while (performance.now() - t1 < secs * 1000) { await body(); n += per; }
  const s = (performance.now() - t1) / 1000;
  const c1 = cpu();
  const us = (x) => ((x * 1e6) / n).toFixed(0);
  console.log(`${name}: ${Math.round(n / s)}/s; CPU µs per call: driver ${us(c1.driver - c0.driver)} (sys ${us(c1.driverSys - c0.driverSys)}), workers ${us(c1.workers - c0.workers)} (sys ${us(c1.workersSys - c0.workersSys)})`);
  // On a broker, by process role: the node, its workers and the broker server (beam.smp, nats-server) apart.
  if (p0) console.log(`  by process, µs per call: ${cpuPerOp(p0, cpuByProcess(), n, 'µs', 6)}`);
}
const batch = (f) => { const r = new Array(1000); for (let i = 0; i < 1000; i++) r[i] = f(); return r; };
await measure('tasks sync', () => ray.get(small.remote()), 1);
// One task after another with an event-loop turn between them (a request handler, a loop that
// awaits I/O): the owner keeps its idle lease over the gap instead of returning it and asking
// for a new one per task.
const turn = () => new Promise((r) => setImmediate(r));
await measure('tasks sync, a turn apart', () => ray.get(small.remote()).then(turn), 1);
await measure('tasks async', () => ray.get(batch(() => small.remote())), 1000);
await measure('actor sync', () => ray.get(a.small_value.remote()), 1);
await measure('actor async', () => ray.get(batch(() => a.small_value.remote())), 1000);
clearInterval(scraper);
if (metrics) console.log(`metrics: ${scrapes} scrapes`);
await ray.shutdown();
await cluster?.shutdown();
amqpVhost?.release();
// On NATS, what the cluster's shutdown did not delete (nothing, unless it failed).
if (cluster && broker.startsWith('nats')) {
  await deleteClusterStreams(broker, cluster.address);
  await deleteNewLeaseBuckets(broker, bucketsBefore);
}
