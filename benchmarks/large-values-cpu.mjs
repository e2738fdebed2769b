// 100 MB values on a fresh one-node cluster of a broker, with the CPU each process spends per
// 100 MB (driver, node, worker, broker): what bounds the large-value rows of `npm run bench`.
//   node benchmarks/large-values-cpu.mjs [address] [arg|ret|put]   (after npm run build)
// Default amqp://guest:guest@127.0.0.1:5672 (a vhost of its own, deleted at the end) and arg.
import ray from 'raybus';
import { benchBroker } from './bench-vhost.mjs';
import { deleteClusterStreams } from './nats-cluster.mjs';
import { cpuByProcess, cpuPerOp } from './process-cpu.mjs';

const url = process.argv[2] ?? 'amqp://guest:guest@127.0.0.1:5672';
const what = process.argv[3] ?? 'arg';
const MB = 1024 * 1024;
const amqpVhost = url.startsWith('amqp') ? benchBroker(url) : undefined;
const { Cluster } = await import('raybus/testing');
const cluster = await Cluster.start({ address: amqpVhost?.url ?? url, nodes: [{ numCpus: 2 }] });
await ray.init({ address: cluster.address });
const length = ray.remote((b) => b.length);
const make = ray.remote((n) => Buffer.alloc(n, 7));
const value = Buffer.alloc(100 * MB, 3);
const body = { arg: () => ray.get(length.remote(value)), ret: () => ray.get(make.remote(100 * MB)), put: () => ray.get(length.remote(ray.put(value))) }[what];
if (!body) throw new Error(`arg, ret or put, not ${what}`);
await body();
const N = 4;
const before = cpuByProcess();
const t0 = performance.now();
for (let i = 0; i < N; i++) await body();
const s = (performance.now() - t0) / 1000;
console.log(`100 MB ${what}: ${((N * 100) / s).toFixed(0)} MB/s; CPU per 100 MB: ${cpuPerOp(before, cpuByProcess(), N)}`);
await ray.shutdown();
await cluster.shutdown();
amqpVhost?.release();
if (url.startsWith('nats')) await deleteClusterStreams(url, cluster.address);
