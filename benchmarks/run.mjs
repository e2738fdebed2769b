// `npm run bench`: Ray's microbenchmark on raybus (embedded default, then RabbitMQ and NATS
// when this build can join them), the anchors in the same run (raw amqplib request/reply,
// Moleculer over AMQP, raw @nats-io request/reply, Moleculer over NATS, raw fork / worker_threads IPC), values of
// 100 MB per transport next to raw clients moving the same bytes, the scaling table, and
// benchmarks/RESULTS.md.
//
// Environment: BENCH_FULL=1 (Ray's sizes, actors up to 1,000), BENCH_ONLY=<regex> (a subset of
// the raybus metrics), BENCH_WARMUP_MS / BENCH_ROUNDS / BENCH_ROUND_MS / BENCH_MAX_CALLS
// (timing), RAYBUS_BENCH_AMQP_URL (broker; default amqp://guest:guest@127.0.0.1:5672),
// RAYBUS_BENCH_NATS_URL (default nats://127.0.0.1:4222), BENCH_LARGE=0 (skip the 100 MB rows),
// BENCH_QUEUED (queued-tasks sizes; default 100000,1000000; 0: none), BENCH_NO_WRITE=1 (print
// only), BENCH_TIMEOUT_S (watchdog; default 1200).
import { writeFile } from 'node:fs/promises';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import ray from 'raybus';
import * as testing from 'raybus/testing';
import { timing, withTimeout, settle } from './harness.mjs';
import { runRaybusSuite } from './raybus-suite.mjs';
import { runMetricsCost } from './metrics-cost.mjs';
import { IDLE_RSS_AFTER_MS, runActorScaling, runNodeScaling } from './scaling.mjs';
import { runPrestartedActorsProcess } from './prestarted-actors.mjs';
import { runQueuedScalingProcess } from './queued-tasks.mjs';
import { runIpcAnchors } from './anchors/ipc.mjs';
import { runAmqplibAnchor } from './anchors/amqplib-rpc.mjs';
import { runMoleculerAnchor } from './anchors/moleculer-rpc.mjs';
import { machineFacts } from './machine.mjs';
import { renderReport } from './report.mjs';
import { smallValue } from './raybus-remote-code.mjs';
import { runNatsAnchor } from './anchors/nats-rpc.mjs';
import { runRaybusOnNats, deleteClusterStreams, deleteNewLeaseBuckets, streamNames } from './nats-cluster.mjs';
import { runLargeValues, runLargeValueAnchors } from './large-values.mjs';
import { runEmbeddedRatios } from './embedded-ratios.mjs';
import { benchBroker } from './bench-vhost.mjs';

const started = performance.now();
const loadAtStart = os.loadavg();
const FULL = process.env.BENCH_FULL === '1';
const ONLY = process.env.BENCH_ONLY ? new RegExp(process.env.BENCH_ONLY) : undefined;
// A vhost of the bench's own (deleted at exit): test clusters leave queues behind.
const AMQP_URL = benchBroker().url;
const NATS_URL = process.env.RAYBUS_BENCH_NATS_URL ?? 'nats://127.0.0.1:4222';
// The 100 MB rows take seconds each: run them unless told not to (or when BENCH_ONLY names them).
const LARGE = process.env.BENCH_LARGE !== '0' && (!ONLY || ONLY.test('100 MB'));
const large = { embedded: [], rabbitmq: [], nats: [], anchors: [] };
const amqpUrlShown = (AMQP_URL.includes('//guest:guest@') ? AMQP_URL : AMQP_URL.replace(/\/\/[^@]*@/, '//***@')).replace(/\/raybus-bench-[^/?]*/, '');
const errText = (err) => (err instanceof Error ? err.message.split('\n')[0] : String(err));

// The whole run is bounded: past the watchdog, exit (worker processes exit with their parent).
const watchdogS = Number(process.env.BENCH_TIMEOUT_S ?? 1200);
setTimeout(() => {
  console.error(`bench: still running after ${watchdogS} s; stopping (BENCH_TIMEOUT_S raises the limit)`);
  process.exit(2);
}, watchdogS * 1000).unref();

// The embedded default is what `init()` gives without an address: make sure none is inherited.
delete process.env.RAYBUS_ADDRESS;

const notes = [];
console.log(`raybus benchmarks: warm-up ${timing.warmupMs} ms and ${timing.warmupOps} operations (at most ${timing.maxWarmupMs} ms), ${timing.rounds} rounds of ${timing.roundMs} ms${FULL ? ', full sizes' : ''}`);

// 1. Embedded default, and the actor half of the scaling table (same runtime).
console.log('\n== raybus, embedded default');
await ray.init();
const embedded = await runRaybusSuite(ray, { full: FULL, label: 'embedded', only: ONLY });
if (LARGE) large.embedded = await runLargeValues(ray, 'embedded', { keepFreed: true }).catch((err) => (notes.push(`embedded 100 MB rows: ${errText(err)}`), []));
// The embedded targets' ratios: each headline body alternating with raw fork IPC, seconds apart
// (the anchors' own stage comes minutes later, at another load).
console.log('\n== same-sitting ratios (embedded ÷ fork IPC, alternating)');
const embeddedRatios = await runEmbeddedRatios(ray, { only: ONLY }).catch((err) => (notes.push(`same-sitting ratios: ${errText(err)}`), []));
// Actor counts of the scaling table; a size whose worker processes would not fit in memory is reported n/a.
const actorSizes = [10, 100, 1000];
console.log('\n== scaling: actors');
const actorRows = await runActorScaling(ray, actorSizes);
// Shared actors (many to a worker process): up to 10,000 on this machine.
const sharedSizes = ONLY && !ONLY.test('shared') ? [] : [100, 1000, 10_000];
actorRows.push(...(await runActorScaling(ray, sharedSizes, 'shared')));
// Queued tasks: 100,000 and 1,000,000 trivial tasks submitted at once (BENCH_QUEUED: other sizes, 0: none).
const queuedSizes = (process.env.BENCH_QUEUED ?? '100000,1000000').split(',').map(Number).filter((n) => n > 0);
await withTimeout(ray.shutdown(), 30_000, 'shutdown').catch((err) => notes.push(`embedded shutdown: ${errText(err)}`));
await settle(1000); // let the worker processes go before timing the anchors
// Actor creation when the workers are up already (a driver of its own with a larger prestart).
if (!ONLY) actorRows.splice(1, 0, await runPrestartedActorsProcess(10));
console.log('\n== scaling: queued tasks');
// In a driver process of its own, as a script queuing that much work runs (queued-tasks.mjs).
const queuedRows = ONLY ? [] : await runQueuedScalingProcess(queuedSizes);

// 1b. The hidden cost of metrics: the headline loops with metrics off and on, alternating.
let metricsCost;
if (!ONLY || ONLY.test('metrics')) {
  console.log('\n== metrics off / on (embedded)');
  metricsCost = await runMetricsCost(ray).catch((err) => ({ error: errText(err) }));
  if (ray.isInitialized()) await withTimeout(ray.shutdown(), 30_000, 'shutdown').catch(() => undefined);
  await settle(1000);
}

// 2. Anchors: IPC, then the broker ones (close in time to raybus on RabbitMQ below).
console.log('\n== anchors');
const anchors = await runIpcAnchors();
let amqpServer;
for (const [id, label, runAnchor] of [
  ['amqplib', 'amqplib', async () => {
    const { results, serverVersion } = await runAmqplibAnchor(AMQP_URL);
    amqpServer = serverVersion;
    return results;
  }],
  ['moleculer', 'Moleculer AMQP', () => runMoleculerAnchor(AMQP_URL)],
]) {
  try {
    anchors.push({ id, label, results: await withTimeout(runAnchor(), 120_000, label) });
  } catch (err) {
    anchors.push({ id, label, error: errText(err) });
    console.log(`  [anchor] ${label}: error ${errText(err)}`);
  }
}

// 3. raybus on RabbitMQ, when this build can join a broker.
console.log('\n== raybus on RabbitMQ');
let rabbitmq;
// A node of its own on the broker (a `raybus start` process, 2 CPUs, like the embedded runs),
// unless RAYBUS_BENCH_EXTERNAL_NODES=1 says nodes are already running there.
let benchCluster;
try {
  let address = AMQP_URL;
  if (process.env.RAYBUS_BENCH_EXTERNAL_NODES !== '1' && testing?.Cluster) {
    benchCluster = await withTimeout(testing.Cluster.start({ address: AMQP_URL, nodes: [{ numCpus: 2 }] }), 60_000, 'starting a node on RabbitMQ');
    address = benchCluster.address;
  }
  await withTimeout(ray.init({ address }), 30_000, 'init on RabbitMQ');
  try {
    const small = ray.remote(smallValue);
    await withTimeout(ray.get(small.remote()), 30_000, 'a first task on RabbitMQ (is a node started, e.g. `raybus start`?)');
    rabbitmq = { results: await runRaybusSuite(ray, { full: FULL, label: 'RabbitMQ', only: ONLY }) };
    if (LARGE) large.rabbitmq = await runLargeValues(ray, 'RabbitMQ').catch((err) => (notes.push(`RabbitMQ 100 MB rows: ${errText(err)}`), []));
  } catch (err) {
    rabbitmq = { na: `init worked, but ${errText(err)}` };
  }
} catch (err) {
  rabbitmq = { na: /does not include|not built|not yet/i.test(errText(err)) ? `not built yet: init rejected the address: "${errText(err)}"` : `init failed: ${errText(err)}` };
}
if (ray.isInitialized()) await withTimeout(ray.shutdown(), 30_000, 'shutdown').catch((err) => notes.push(`RabbitMQ shutdown: ${errText(err)}`));
if (benchCluster) await withTimeout(benchCluster.shutdown(), 60_000, 'stopping the RabbitMQ node').catch((err) => notes.push(`RabbitMQ node shutdown: ${errText(err)}`));
if (rabbitmq.na) console.log(`  n/a (${rabbitmq.na})`);

// 3b. raybus on NATS next to raw @nats-io request/reply (same server, same run).
console.log('\n== raybus on NATS');
// What the server had before: the bench deletes what it made, and nothing else.
const natsStreamsBefore = await streamNames(NATS_URL);
let natsServer;
try {
  const { results, serverVersion } = await withTimeout(runNatsAnchor(NATS_URL), 120_000, '@nats-io');
  natsServer = serverVersion;
  anchors.push({ id: 'nats', label: '@nats-io', results });
} catch (err) {
  anchors.push({ id: 'nats', label: '@nats-io', error: errText(err) });
  console.log(`  [anchor] @nats-io: error ${errText(err)}`);
}
try {
  anchors.push({ id: 'moleculer-nats', label: 'Moleculer NATS', results: await withTimeout(runMoleculerAnchor(NATS_URL), 120_000, 'Moleculer NATS') });
} catch (err) {
  anchors.push({ id: 'moleculer-nats', label: 'Moleculer NATS', error: errText(err) });
  console.log(`  [anchor] Moleculer NATS: error ${errText(err)}`);
}
const nats = await runRaybusOnNats(ray, testing, NATS_URL, { full: FULL, only: ONLY, large: LARGE });
if (nats.na) console.log(`  n/a (${nats.na})`);
else large.nats = nats.large;
if (LARGE) large.anchors = await runLargeValueAnchors({ amqpUrl: AMQP_URL, natsUrl: nats.na ? undefined : NATS_URL });

// 4. Scaling: nodes (needs raybus/testing's Cluster).
console.log('\n== scaling: nodes');
const nodeScaling = [
  await runNodeScaling(ray, testing, [1, 2, 4, 8], AMQP_URL),
  await runNodeScaling(ray, testing, [1, 2, 4, 8], NATS_URL, (address) => deleteClusterStreams(NATS_URL, address)),
];
for (const r of nodeScaling.flatMap((s) => s.rows)) if (r.na) console.log(`  [scaling] ${r.nodes} node(s): n/a (${r.na})`);
await deleteNewLeaseBuckets(NATS_URL, natsStreamsBefore).catch((err) => notes.push(`deleting the NATS lease buckets: ${errText(err)}`));

// 5. Report.
const data = {
  date: new Date().toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC'),
  machine: { ...(await machineFacts(amqpServer)), nats: natsServer ?? 'n/a' },
  loadAtStart,
  timing,
  full: FULL,
  amqpUrlShown,
  embedded,
  embeddedRatios,
  metricsCost,
  rabbitmq,
  nats: nats.na ? { na: nats.na } : { results: nats.results },
  natsUrlShown: NATS_URL.replace(/\/\/[^@]*@/, '//***@'),
  large,
  anchors,
  scaling: {
    actors: actorRows,
    actorsNote:
      `Sizes 10, 100, 1,000 with a worker process per actor (as in Ray): a size whose processes (~60 MB each) would not fit in 70% of free memory is reported n/a instead of run. Then 100, 1,000 and 10,000 actors with \`isolation: 'shared'\` (up to 5,000 to a worker process). Worker RSS idle: the actors' workers ${IDLE_RSS_AFTER_MS / 1000} s after their first call, before the busy calls (rows with a worker process per actor). The row on prestarted workers: a driver of its own whose node keeps 10 workers started (\`RAYBUS_PRESTART_WORKERS=10\`; the default keeps one per CPU up to 2), 10 actors created once they are up; every other row starts a worker process per actor beyond the default 2. Kill: \`ray.kill\` of every actor at once.`,
    nodes: nodeScaling,
    queued: queuedRows,
  },
  notes,
  durationS: (performance.now() - started) / 1000,
};
const markdown = renderReport(data);
console.log(`\n${markdown}`);
if (process.env.BENCH_NO_WRITE !== '1' && !ONLY) {
  const out = fileURLToPath(new URL('./RESULTS.md', import.meta.url));
  await writeFile(out, markdown);
  // The measurements themselves: `node benchmarks/report.mjs` renders RESULTS.md from them again.
  await writeFile(fileURLToPath(new URL('./results.json', import.meta.url)), `${JSON.stringify(data, null, 1)}\n`);
  console.log(`wrote ${out}`);
}
// Everything started was stopped above; if a library still holds a handle, do not hang on it.
setTimeout(() => {
  console.error('bench: open handles remain after the report; exiting');
  process.exit(0);
}, 5000).unref();
