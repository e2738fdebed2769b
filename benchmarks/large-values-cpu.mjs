// 100 MB values on a fresh one-node cluster of a broker, or on the embedded default, with the
// CPU each process spends per 100 MB (driver, node, worker, broker) and the median time of one:
// what bounds the large-value rows of `npm run bench`.
//   node benchmarks/large-values-cpu.mjs [address|embedded] [arg|ret|put|get]   (after npm run build)
// Default amqp://guest:guest@127.0.0.1:5672 (a vhost of its own, deleted at the end) and arg.
// put: a new `ray.put` read by a task each time; get: one put, read by a task each time (the
// bench's row). LARGE_VALUES_N: how many (default 4).
import ray from 'raybus';
import { benchBroker } from './bench-vhost.mjs';
import { deleteClusterStreams, deleteNewLeaseBuckets, streamNames } from './nats-cluster.mjs';
import { cpuByProcess, cpuPerOp } from './process-cpu.mjs';

const url = process.argv[2] ?? 'amqp://guest:guest@127.0.0.1:5672';
const what = process.argv[3] ?? 'arg';
const MB = 1024 * 1024;
const embedded = url === 'embedded';
const amqpVhost = url.startsWith('amqp') ? benchBroker(url) : undefined;
const { Cluster } = await import('raybus/testing');
// The lease buckets before it: the cluster's nodes make one in the name space clusters share.
const bucketsBefore = url.startsWith('nats') ? await streamNames(url) : [];
const cluster = embedded ? undefined : await Cluster.start({ address: amqpVhost?.url ?? url, nodes: [{ numCpus: 2 }] });
await ray.init(cluster ? { address: cluster.address } : {});
const length = ray.remote((b) => b.length);
const make = ray.remote((n) => Buffer.alloc(n, 7));
const value = Buffer.alloc(100 * MB, 3);
const kept = ray.put(value);
const body = { arg: () => ray.get(length.remote(value)), ret: () => ray.get(make.remote(100 * MB)), put: () => ray.get(length.remote(ray.put(value))), get: () => ray.get(length.remote(kept)) }[what];
if (!body) throw new Error(`arg, ret, put or get, not ${what}`);
await body();
const N = Number(process.env.LARGE_VALUES_N ?? 4);
const before = cpuByProcess();
const times = [];
for (let i = 0; i < N; i++) {
  const t = performance.now();
  await body();
  times.push(performance.now() - t);
}
const s = times.reduce((a, b) => a + b, 0) / 1000;
const median = times.sort((a, b) => a - b)[times.length >> 1];
console.log(`100 MB ${what}: ${((N * 100) / s).toFixed(0)} MB/s, median ${median.toFixed(0)} ms; CPU per 100 MB: ${cpuPerOp(before, cpuByProcess(), N)}`);
await ray.shutdown();
await cluster?.shutdown();
amqpVhost?.release();
if (url.startsWith('nats')) {
  await deleteClusterStreams(url, cluster.address);
  await deleteNewLeaseBuckets(url, bucketsBefore);
}
