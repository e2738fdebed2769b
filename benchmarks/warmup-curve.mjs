// How one-at-a-time calls speed up as V8 optimizes the code they run: sync tasks (or actor
// calls) in consecutive 2 s windows from a fresh driver and cluster, with each process's CPU
// per call. Why `npm run bench` warms every loop up by operations, not only by time.
//   node benchmarks/warmup-curve.mjs [address] [tasks|actor] [windows=8]   (after npm run build)
import ray from 'raybus';
import { smallValue, Actor } from './raybus-remote-code.mjs';
import { benchBroker } from './bench-vhost.mjs';
import { deleteClusterStreams } from './nats-cluster.mjs';
import { cpuByProcess, cpuPerOp } from './process-cpu.mjs';

const url = process.argv[2];
const what = process.argv[3] ?? 'tasks';
const windows = Number(process.argv[4] ?? 8);
const amqpVhost = url?.startsWith('amqp') ? benchBroker(url) : undefined;
const { Cluster } = await import('raybus/testing');
const cluster = url ? await Cluster.start({ address: amqpVhost?.url ?? url, nodes: [{ numCpus: 2 }] }) : undefined;
await ray.init(cluster ? { address: cluster.address } : {});
const small = ray.remote(smallValue);
const actor = ray.remote(Actor).remote();
const call = what === 'actor' ? () => ray.get(actor.small_value.remote()) : () => ray.get(small.remote());
await call();
for (let w = 0; w < windows; w++) {
  const before = cpuByProcess();
  const t0 = performance.now();
  let n = 0;
  while (performance.now() - t0 < 2000) {
    await call();
    n++;
  }
  console.log(`${2 * w}-${2 * w + 2} s: ${Math.round(n / 2)}/s; CPU per call: ${cpuPerOp(before, cpuByProcess(), n, 'µs')}`);
}
await ray.shutdown();
await cluster?.shutdown();
amqpVhost?.release();
if (url?.startsWith('nats')) await deleteClusterStreams(url, cluster.address);
