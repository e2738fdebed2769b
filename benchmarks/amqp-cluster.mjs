// raybus over RabbitMQ next to raw amqplib request/reply, in one run on one broker: trivial
// tasks and actor calls, one round trip at a time (sync) and 1,000 in flight (async), on a
// raybus/testing Cluster of `raybus start` processes (one node, 2 CPUs). Optionally
// (BENCH_RESTART=1, needs rabbitmqctl) the recovery time after a broker restart: it runs
// `rabbitmqctl stop_app` / `start_app`, so use it only on a broker of your own, never a shared one.
//
//   npm run build && node benchmarks/amqp-cluster.mjs
//
// Environment: RAYBUS_BENCH_AMQP_URL (default amqp://guest:guest@127.0.0.1:5672), the timing
// variables of harness.mjs.
import { execFileSync } from 'node:child_process';
import ray from 'raybus';
import { Cluster } from 'raybus/testing';
import { timeit, settle, logResult, withTimeout } from './harness.mjs';
import { runAmqplibAnchor } from './anchors/amqplib-rpc.mjs';
import { benchBroker } from './bench-vhost.mjs';

const URL_ = benchBroker().url;
const rows = [];
const record = (r, kind) => {
  logResult('', r);
  rows.push({ ...r, kind });
};

const cluster = await Cluster.start({ address: URL_, nodes: [{ numCpus: 2 }] });
try {
  await ray.init({ address: cluster.address });
  const small = ray.remote(() => 'ok');
  const Actor = ray.remote(
    class Actor {
      small_value() {
        return 'ok';
      }
    },
  );
  const AsyncActor = ray.remote(
    class AsyncActor {
      async small_value() {
        return 'ok';
      }
    },
  );
  await withTimeout(ray.get(small.remote()), 30_000, 'a first task');
  const a = Actor.remote();
  const aa = AsyncActor.remote();
  await ray.get([a.small_value.remote(), aa.small_value.remote()]);
  const many = (f) => () => {
    const refs = new Array(1000);
    for (let i = 0; i < 1000; i++) refs[i] = f();
    return ray.get(refs);
  };
  record(await timeit('raybus/RabbitMQ single client tasks sync', () => ray.get(small.remote())), 'sync');
  record(await timeit('raybus/RabbitMQ single client tasks async (1,000 in flight)', many(() => small.remote()), { multiplier: 1000 }), 'async');
  record(await timeit('raybus/RabbitMQ 1:1 actor calls sync', () => ray.get(a.small_value.remote())), 'sync');
  record(await timeit('raybus/RabbitMQ 1:1 actor calls async (1,000 in flight)', many(() => a.small_value.remote()), { multiplier: 1000 }), 'async');
  record(await timeit('raybus/RabbitMQ 1:1 async-actor calls async (1,000 in flight)', many(() => aa.small_value.remote()), { multiplier: 1000 }), 'async');

  if (process.env.BENCH_RESTART === '1') {
    // Tasks in flight across the restart, then one submitted once the broker is back.
    const inflight = Array.from({ length: 200 }, () => small.remote());
    const down = performance.now();
    execFileSync('rabbitmqctl', ['stop_app'], { stdio: 'ignore' });
    execFileSync('rabbitmqctl', ['start_app'], { stdio: 'ignore' });
    const back = performance.now();
    await withTimeout(ray.get(small.remote()), 60_000, 'a task after the restart');
    const recovered = performance.now();
    await withTimeout(ray.get(inflight), 60_000, 'the tasks in flight across the restart');
    console.log(
      `broker restart: stop_app+start_app took ${Math.round(back - down)} ms; a new task's result ${Math.round(recovered - back)} ms after start_app returned; all 200 tasks in flight completed`,
    );
  }
  await ray.shutdown();
} finally {
  await cluster.shutdown();
}
await settle(500);

const { results } = await runAmqplibAnchor(URL_);
for (const r of results) rows.push({ ...r });

const anchor = Object.fromEntries(results.map((r) => [r.kind, r.mean]));
console.log('\nraybus over RabbitMQ vs raw amqplib request/reply (same broker, same run):');
for (const r of rows.filter((x) => x.name.startsWith('raybus'))) {
  console.log(`  ${r.name.padEnd(62)} ${Math.round(r.mean).toString().padStart(7)} /s   ${((100 * r.mean) / anchor[r.kind]).toFixed(0)}% of amqplib ${r.kind} (${Math.round(anchor[r.kind])} /s)`);
}
