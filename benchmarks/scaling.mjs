// Scaling table: how cost grows with work.
//
// Actors: create N actors (each a worker process on the embedded default), then calls/s with
// all of them busy (every actor gets ceil(1000 / N) calls per operation, all in flight), then
// kill them all. Shared actors (`isolation: 'shared'`, many to a worker process) the same, up
// to 10,000.
// Nodes: trivial tasks with 1,000 in flight on a test cluster of 1, 2, 4, 8 nodes (1 CPU
// each), when `raybus/testing` has `Cluster`; on RabbitMQ when the cluster accepts an amqp://
// address, else on its in-process bus (and the row says so).
// Queued tasks (100,000 and 1,000,000 submitted at once from one driver): queued-tasks.mjs.
import os from 'node:os';
import { readFileSync, readdirSync } from 'node:fs';
import { timeit, settle, logResult, withTimeout } from './harness.mjs';
import { Pinger, smallValue } from './raybus-remote-code.mjs';
import { WORKER_START_FAILURE } from './raybus-suite.mjs';

/** Rough RSS of one actor's worker process, to skip sizes this machine cannot hold. */
const WORKER_RSS_BYTES = 60e6;
/**
 * How long the actors' workers idle after their first call before their RSS is read (rows with
 * a worker process per actor): V8 shrinks an idle heap 8-10 s after its last work (later on a
 * loaded machine), and holds steady from there (benchmarks/actor-memory.mjs). After the busy calls a worker holds more: its young
 * generation grew, and V8 keeps it.
 */
export const IDLE_RSS_AFTER_MS = 20_000;

/** The pids of this process's child processes (Linux: /proc). */
export function childPids() {
  const pids = new Set();
  for (const t of readdirSync('/proc/self/task')) {
    for (const p of readFileSync(`/proc/self/task/${t}/children`, 'utf8').split(' ').filter(Boolean)) pids.add(p);
  }
  return pids;
}

/**
 * RSS of this process's child processes (the embedded node's workers, warm ones included), or
 * of the processes `only`, in MB: { totalMB, medianMB, count } from /proc, or undefined where
 * there is none.
 */
export function workersRss(only) {
  try {
    const pids = only ? new Set(only) : childPids();
    const rss = [];
    for (const pid of pids) {
      const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
      if (m) rss.push(Number(m[1]) / 1024);
    }
    if (rss.length === 0) return undefined;
    rss.sort((a, b) => a - b);
    return { totalMB: rss.reduce((a, b) => a + b, 0), medianMB: rss[Math.floor(rss.length / 2)], count: rss.length };
  } catch {
    return undefined;
  }
}

/**
 * Actor rows: { actors, isolation, createS, actorsPerS, calls (mean/std), killS, driverRssMB,
 * workers } or { na }.
 *
 * @param {object} ray  the raybus API, initialized on the embedded default
 * @param {number[]} sizes  actor counts
 * @param {'process' | 'shared'} isolation  a worker process per actor, or many to one
 */
export async function runActorScaling(ray, sizes, isolation = 'process') {
  const Ping = ray.remote({ isolation })(Pinger);
  const rows = [];
  for (const n of sizes) {
    for (let attempt = 1; attempt <= 2; attempt++) {
      const row = { isolation, ...(await actorRow(ray, Ping, n, isolation)) };
      if (attempt === 2 || !(row.error && WORKER_START_FAILURE.test(row.error))) {
        rows.push(attempt === 2 ? { ...row, retried: true } : row);
        break;
      }
      console.log(`  [scaling] ${n} actors: a worker failed to start; retrying in 10 s`);
      await settle(10_000);
    }
  }
  return rows;
}

/** One row of the actor table: create n actors, time calls with all of them busy, kill them. */
async function actorRow(ray, Ping, n, isolation) {
  const need = n * WORKER_RSS_BYTES;
  if (isolation === 'process' && need > os.freemem() * 0.7) {
    const na = `needs ~${(need / 1e9).toFixed(0)} GB for ${n} worker processes; ${(os.freemem() / 1e9).toFixed(0)} GB free`;
    console.log(`  [scaling] ${n} actors: n/a (${na})`);
    return { actors: n, na };
  }
  const actors = [];
  let row;
  try {
    const t0 = performance.now();
    for (let i = 0; i < n; i++) actors.push(Ping.remote());
    await withTimeout(ray.get(actors.map((a) => a.ping.remote())), 60_000 + n * 2_000, `${n} actors to start`);
    const createS = (performance.now() - t0) / 1000;
    let idle;
    if (isolation === 'process') {
      // The actors' workers idle: what each actor's process holds while it waits for work.
      const pids = [...new Set(await ray.get(actors.map((a) => a.pid.remote())))];
      await settle(IDLE_RSS_AFTER_MS);
      idle = workersRss(pids);
      console.log(`  [scaling] ${n} actors, idle ${IDLE_RSS_AFTER_MS / 1000} s: worker RSS median ${idle ? idle.medianMB.toFixed(1) : 'n/a'} MB`);
    }
    const per = Math.ceil(1000 / n);
    const r = await timeit(
      `${n} actors busy`,
      () => {
        const refs = [];
        for (const a of actors) for (let i = 0; i < per; i++) refs.push(a.ping.remote());
        return ray.get(refs);
      },
      { multiplier: per * n },
    );
    const workers = workersRss();
    row = r.error
      ? { actors: n, error: r.error }
      : { actors: n, createS, actorsPerS: n / createS, calls: r, driverRssMB: process.memoryUsage().rss / 1e6, ...(workers ? { workers } : {}), ...(idle ? { workersIdle: idle } : {}) };
    logResult('[scaling] ', { ...r, name: `${n} ${isolation === 'shared' ? 'shared ' : ''}actors: created in ${createS.toFixed(1)} s; calls` });
  } catch (err) {
    row = { actors: n, error: err instanceof Error ? err.message.split('\n')[0] : String(err) };
    console.log(`  [scaling] ${n} actors: error ${row.error}`);
  }
  const k0 = performance.now();
  const killed = await Promise.all(actors.map((a) => withTimeout(ray.kill(a, { noRestart: true }), 30_000, 'kill').then(() => true, () => false)));
  const killS = (performance.now() - k0) / 1000;
  if (row && !row.error && !row.na) {
    row.killS = killS;
    if (killed.includes(false)) row.killFailed = killed.filter((k) => !k).length;
    console.log(`  [scaling] ${n} ${isolation === 'shared' ? 'shared ' : ''}actors killed in ${killS.toFixed(2)} s${row.killFailed ? ` (${row.killFailed} kills timed out)` : ''}`);
  }
  await settle(500);
  return row;
}

/**
 * Node rows on one broker: { nodes, where, tasks (result) } or { nodes, na }. Inits and shuts
 * down `ray` itself (call it while ray is not initialized).
 *
 * @param {object} ray  the raybus API, not initialized
 * @param {object} testing  the `raybus/testing` module
 * @param {number[]} counts  node counts
 * @param {string} url  the broker's address (amqp:// or nats://)
 * @param {(address: string) => Promise<void>} [cleanup]  after each cluster (NATS: delete its streams)
 */
export async function runNodeScaling(ray, testing, counts, url, cleanup) {
  const broker = url.startsWith('nats:') ? 'NATS' : 'RabbitMQ';
  const Cluster = testing.Cluster;
  if (typeof Cluster?.start !== 'function') {
    return { rows: counts.map((nodes) => ({ nodes, where: broker, na: 'not built yet: raybus/testing has no Cluster' })), where: broker };
  }
  // On the broker if a cluster starts there; else its in-process bus.
  let where = broker;
  let note;
  try {
    const probe = await withTimeout(Cluster.start({ address: url, nodes: [{ numCpus: 1 }] }), 30_000, `Cluster on ${broker}`);
    await probe.shutdown();
    await cleanup?.(probe.address).catch(() => undefined);
  } catch (err) {
    where = 'in-process bus';
    note = err instanceof Error ? err.message.split('\n')[0] : String(err);
  }
  const rows = [];
  for (const n of counts) {
    let row = await nodeRow(ray, Cluster, n, where, url, cleanup);
    if (row.error && WORKER_START_FAILURE.test(row.error)) {
      console.log(`  [scaling] ${n} node(s): a worker failed to start; retrying in 10 s`);
      await settle(10_000);
      row = { ...(await nodeRow(ray, Cluster, n, where, url, cleanup)), retried: true };
    }
    rows.push(row);
  }
  return { rows, where, broker, note };
}

/** One row of the node table: a cluster of n 1-CPU nodes, tasks with 1,000 in flight. */
async function nodeRow(ray, Cluster, n, where, url, cleanup) {
  let cluster;
  try {
    const nodes = Array.from({ length: n }, () => ({ numCpus: 1 }));
    cluster = await withTimeout(Cluster.start(where === 'in-process bus' ? { nodes } : { address: url, nodes }), 60_000, `Cluster of ${n}`);
    await withTimeout(ray.init({ address: cluster.address }), 30_000, 'init on the cluster');
    const small = ray.remote(smallValue);
    await withTimeout(ray.get(Array.from({ length: 4 * n }, () => small.remote())), 60_000, 'first tasks');
    const r = await timeit(
      `${n} node(s), tasks async`,
      () => {
        const refs = new Array(1000);
        for (let i = 0; i < 1000; i++) refs[i] = small.remote();
        return ray.get(refs);
      },
      { multiplier: 1000 },
    );
    logResult('[scaling] ', { ...r, name: `${n} node(s) on ${where}: tasks async` });
    return r.error ? { nodes: n, where, error: r.error } : { nodes: n, where, tasks: r };
  } catch (err) {
    const error = err instanceof Error ? err.message.split('\n')[0] : String(err);
    console.log(`  [scaling] ${n} node(s): error ${error}`);
    return { nodes: n, where, error };
  } finally {
    if (ray.isInitialized()) await withTimeout(ray.shutdown(), 30_000, 'shutdown').catch(() => undefined);
    if (cluster) {
      await withTimeout(cluster.shutdown(), 30_000, 'cluster shutdown').catch(() => undefined);
      if (where !== 'in-process bus') await cleanup?.(cluster.address).catch(() => undefined);
    }
    await settle(300);
  }
}
