// Ray's `ray microbenchmark` metrics (python/ray/_private/ray_perf.py), ported to raybus,
// plus with-argument variants (100 B and 100 KB Uint8Array arguments).
//
// Each metric: a setup that returns the benchmark body (one operation = one call of the body
// times `multiplier`, as in ray_perf.py) and the actors to kill afterwards. Sizes that make a
// body last seconds on 2 cores are scaled down by default (BENCH_FULL=1 restores Ray's); the
// multiplier follows, so the unit (operations per second) is unchanged.
import os from 'node:os';
import { timeit, settle, notMeasured, logResult, withTimeout } from './harness.mjs';
import * as code from './raybus-remote-code.mjs';

/** Ray's metric key: spaces, ':' and '-' to '_', parentheses dropped. */
export const metricKey = (name) => name.replace(/[()]/g, '').replace(/[ :-]/g, '_');

/**
 * The metric table. `kind` says which anchor matches: 'sync' (one round trip at a time),
 * 'async' (many in flight), or null (no round trip to compare with).
 */
function metrics(ray, full) {
  const nCpu = Math.max(1, Math.floor(os.cpus().length / 2));
  const small = ray.remote(code.smallValue);
  const smallArg = ray.remote(code.smallValueArg);
  const Actor = ray.remote(code.Actor);
  const AsyncActor = ray.remote(code.AsyncActor);
  const Client = ray.remote({ numCpus: 0 })(code.Client);
  const batch = (n, f) => {
    const refs = new Array(n);
    for (let i = 0; i < n; i++) refs[i] = f(i);
    return refs;
  };
  const arg100B = new Uint8Array(100).fill(7);
  const arg100KB = new Uint8Array(100 * 1024).fill(7);
  const ready = (actors) => withTimeout(ray.get(actors.map((a) => a.small_value.remote())), 60_000, 'actors to start');

  const nMulti = full ? 10_000 : 1_000; // multi client tasks async: per actor (Ray: 10,000)
  const n1n = full ? 5_000 : 1_000; // 1:n and n:n: calls per actor / per task (Ray: 5,000)
  const nArg = full ? 1_000 : 250; // n:n with arg: calls per client (Ray: 1,000)

  const one = (f) => async () => ({ body: f });

  return [
    { name: 'single client get calls (Plasma Store)', kind: null, setup: async () => {
      const value = ray.put(0);
      return { body: () => ray.get(value) };
    } },
    { name: 'single client put calls (Plasma Store)', kind: null, setup: one(() => ray.put(0)) },
    { name: 'multi client put calls (Plasma Store)', kind: null, setup: async () => {
      const doPutSmall = ray.remote(code.doPutSmall);
      return { body: () => ray.get(batch(10, () => doPutSmall.remote())), multiplier: 1000 };
    } },
    { name: 'single client put gigabytes', kind: null, unit: 'GB/s', opts: { maxCallsPerRound: 20 }, setup: async () => {
      // 0.1 GB, as Ray's 800 MB array counts 0.8 (values of any size travel: as blobs on a bus).
      const bytes = 100_000_000;
      const arr = new Uint8Array(bytes).fill(1);
      return { body: () => void ray.put(arr), multiplier: bytes / 1e9 };
    } },
    { name: 'single client tasks and get batch', kind: 'async', unit: 'batches/s', setup: one(() => ray.get(batch(1000, () => small.remote()))) },
    { name: 'single client get object containing 10k refs', kind: null, unit: 'gets/s', setup: async () => {
      const create = ray.remote(code.createObjectContainingRef);
      const obj = create.remote();
      await ray.get(obj);
      return { body: () => ray.get(obj) };
    } },
    { name: 'single client wait 1k refs', kind: null, unit: 'iterations/s', setup: one(async () => {
      let notReady = batch(1000, () => small.remote());
      for (let i = 0; i < 1000; i++) [, notReady] = await ray.wait(notReady);
    }) },
    { name: 'single client tasks sync', kind: 'sync', setup: one(() => ray.get(small.remote())) },
    { name: 'single client tasks async', kind: 'async', setup: async () => ({
      body: () => ray.get(batch(1000, () => small.remote())), multiplier: 1000 }) },
    { name: 'single client tasks sync with 100 KB arg', kind: 'sync', extra: true, setup: one(() => ray.get(smallArg.remote(arg100KB))) },
    { name: 'single client tasks async with 100 B arg', kind: 'async', extra: true, setup: async () => ({
      body: () => ray.get(batch(1000, () => smallArg.remote(arg100B))), multiplier: 1000 }) },
    { name: 'single client tasks async with 100 KB arg', kind: 'async', extra: true, setup: async () => ({
      body: () => ray.get(batch(1000, () => smallArg.remote(arg100KB))), multiplier: 1000 }) },
    { name: 'multi client tasks async', kind: 'async', setup: async () => {
      const actors = batch(4, () => Actor.remote());
      await ready(actors);
      return { body: () => ray.get(actors.map((a) => a.small_value_batch.remote(nMulti))), multiplier: nMulti * 4, actors };
    } },
    { name: '1:1 actor calls sync', kind: 'sync', setup: async () => {
      const a = Actor.remote();
      await ready([a]);
      return { body: () => ray.get(a.small_value.remote()), actors: [a] };
    } },
    { name: '1:1 actor calls async', kind: 'async', setup: async () => {
      const a = Actor.remote();
      await ready([a]);
      return { body: () => ray.get(batch(1000, () => a.small_value.remote())), multiplier: 1000, actors: [a] };
    } },
    { name: '1:1 actor calls concurrent', kind: 'async', setup: async () => {
      const a = Actor.options({ maxConcurrency: 16 }).remote();
      await ready([a]);
      return { body: () => ray.get(batch(1000, () => a.small_value.remote())), multiplier: 1000, actors: [a] };
    } },
    { name: '1:1 actor calls sync with 100 KB arg', kind: 'sync', extra: true, setup: async () => {
      const a = Actor.remote();
      await ready([a]);
      return { body: () => ray.get(a.small_value_arg.remote(arg100KB)), actors: [a] };
    } },
    { name: '1:1 actor calls async with 100 B arg', kind: 'async', extra: true, setup: async () => {
      const a = Actor.remote();
      await ready([a]);
      return { body: () => ray.get(batch(1000, () => a.small_value_arg.remote(arg100B))), multiplier: 1000, actors: [a] };
    } },
    { name: '1:1 actor calls async with 100 KB arg', kind: 'async', extra: true, setup: async () => {
      const a = Actor.remote();
      await ready([a]);
      return { body: () => ray.get(batch(1000, () => a.small_value_arg.remote(arg100KB))), multiplier: 1000, actors: [a] };
    } },
    { name: '1:n actor calls async', kind: 'async', setup: async () => {
      const actors = batch(nCpu, () => Actor.remote());
      await ready(actors);
      const client = Client.remote(actors);
      return { body: () => ray.get(client.small_value_batch.remote(n1n)), multiplier: n1n * actors.length, actors: [...actors, client] };
    } },
    { name: 'n:n actor calls async', kind: 'async', setup: async () => {
      const actors = batch(nCpu, () => Actor.remote());
      await ready(actors);
      const workFn = ray.remote(code.work);
      return { body: () => ray.get(batch(4, () => workFn.remote(actors, n1n))), multiplier: 4 * n1n, actors };
    } },
    { name: 'n:n actor calls with arg async', kind: 'async', setup: async () => {
      const actors = batch(nCpu, () => Actor.remote());
      await ready(actors);
      const clients = actors.map((a) => Client.remote(a));
      return { body: () => ray.get(clients.map((c) => c.small_value_batch_arg.remote(nArg))), multiplier: nArg * clients.length, actors: [...actors, ...clients] };
    } },
    { name: '1:1 async-actor calls sync', kind: 'sync', setup: async () => {
      const a = AsyncActor.remote();
      await ready([a]);
      return { body: () => ray.get(a.small_value.remote()), actors: [a] };
    } },
    { name: '1:1 async-actor calls async', kind: 'async', setup: async () => {
      const a = AsyncActor.remote();
      await ready([a]);
      return { body: () => ray.get(batch(1000, () => a.small_value.remote())), multiplier: 1000, actors: [a] };
    } },
    { name: '1:1 async-actor calls with args async', kind: 'async', setup: async () => {
      const a = AsyncActor.remote();
      await ready([a]);
      return { body: () => ray.get(batch(1000, (i) => a.small_value_with_arg.remote(i))), multiplier: 1000, actors: [a] };
    } },
    { name: '1:n async-actor calls async', kind: 'async', setup: async () => {
      const actors = batch(nCpu, () => AsyncActor.remote());
      await ready(actors);
      const client = Client.remote(actors);
      return { body: () => ray.get(client.small_value_batch.remote(n1n)), multiplier: n1n * actors.length, actors: [...actors, client] };
    } },
    { name: 'n:n async-actor calls async', kind: 'async', setup: async () => {
      const actors = batch(nCpu, () => AsyncActor.remote());
      await ready(actors);
      const workFn = ray.remote(code.work);
      return { body: () => ray.get(batch(4, () => workFn.remote(actors, n1n))), multiplier: 4 * n1n, actors };
    } },
    { name: 'placement group create/removal', kind: null, unit: 'PGs/s', setup: async () => {
      const util = ray.util ?? {};
      if (typeof util.placementGroup !== 'function' || typeof util.removePlacementGroup !== 'function') {
        return { na: 'not built yet: ray.util.placementGroup is missing' };
      }
      const N = 100;
      return {
        multiplier: N,
        body: async () => {
          const pgs = batch(N, () => util.placementGroup([{ CPU: 0.001 }]));
          for (const pg of pgs) {
            if (typeof pg.ready === 'function') await ray.get(pg.ready(), { timeoutMs: 30_000 });
            else await pg.wait(30_000);
          }
          for (const pg of pgs) await util.removePlacementGroup(pg);
        },
      };
    } },
  ];
}

/**
 * Run every metric on the runtime `ray` is initialized on.
 *
 * @param {object} ray  the raybus API, already initialized
 * @param {{ full?: boolean, label: string, only?: RegExp }} opts
 * @returns {Promise<object[]>} one result per metric (see harness.timeit), with key and kind
 */
export async function runRaybusSuite(ray, { full = false, label, only } = {}) {
  const results = [];
  for (const m of metrics(ray, full)) {
    if (only && !only.test(m.name)) continue;
    let r = await runMetric(ray, m);
    // A worker that cannot start (e.g. dist/ being rebuilt under a shared checkout) spoils
    // one metric, not the run: wait, and measure it once more.
    if (r.error && WORKER_START_FAILURE.test(r.error)) {
      console.log(`  [${label}] ${m.name}: a worker failed to start (${r.error.slice(0, 80)}...); retrying in 10 s`);
      await settle(10_000);
      r = { ...(await runMetric(ray, m)), retried: true };
    }
    r = { ...r, key: metricKey(m.name), kind: m.kind, extra: m.extra === true };
    logResult(`[${label}] `, r);
    results.push(r);
  }
  return results;
}

/** Errors that say a worker process did not start, rather than that raybus is slow or wrong. */
export const WORKER_START_FAILURE = /worker process (has died|died before|failed to start)|Cannot find module/i;

async function runMetric(ray, m) {
  let r;
  let actors = [];
  try {
    const s = await withTimeout(m.setup(), 90_000, `${m.name} setup`);
    actors = s.actors ?? [];
    r = s.na
      ? notMeasured(m.name, s.na, m.unit)
      : await timeit(m.name, s.body, { multiplier: s.multiplier ?? 1, unit: m.unit ?? 'ops/s', ...(m.opts ?? {}) });
  } catch (err) {
    r = { ...notMeasured(m.name, '', m.unit), na: undefined, error: err instanceof Error ? err.message.split('\n')[0] : String(err) };
  }
  await Promise.all(actors.map((a) => withTimeout(ray.kill(a, { noRestart: true }), 10_000, 'kill').catch(() => undefined)));
  await settle();
  return r;
}
