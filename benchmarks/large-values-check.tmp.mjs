// ad-hoc: the 100 MB rows on the embedded default and on RabbitMQ (vhost from argv), plus raw anchors.
import ray from 'raybus';
import { Cluster } from 'raybus/testing';
import { runLargeValues, runLargeValueAnchors } from './large-values.mjs';
const amqp = process.argv[2];
await ray.init({ numCpus: 2 });
const emb = await runLargeValues(ray, 'embedded');
await ray.shutdown();
const cluster = await Cluster.start({ address: amqp, nodes: [{ numCpus: 2 }] });
await ray.init({ address: cluster.address });
const rab = await runLargeValues(ray, 'RabbitMQ');
await ray.shutdown();
await cluster.shutdown();
const raw = await runLargeValueAnchors({ amqpUrl: amqp });
for (const r of [...emb.map((x) => ({ ...x, name: `embedded: ${x.name}` })), ...rab.map((x) => ({ ...x, name: `RabbitMQ: ${x.name}` })), ...raw]) console.log(`${r.name.padEnd(60)} ${r.mean.toFixed(0)} ± ${r.std.toFixed(0)} MB/s`);
setTimeout(() => process.exit(0), 1000).unref();
