// Timing harness: the method of Ray's ray_perf.py (ray_microbenchmark_helpers.timeit).
//
// Ray: sleep 10 s, warm up 1 s, then 4 rounds of >= 2 s; each round's rate is
// multiplier * calls / seconds; the figure is the mean of the round rates, with their std.
// Here the same, with shorter defaults so the whole suite fits a 2-core dev machine
// (BENCH_WARMUP_MS=1000 BENCH_ROUND_MS=2000 gives Ray's exact timing; the 10 s sleep is
// replaced by settle(): a GC and a short pause). Every loop is bounded by count and by time,
// and a metric that does not finish by its deadline is reported as timed out.
//
// Warm-up by operations as well as time, for every loop alike (raybus's and the anchors'): V8
// optimizes a function after it ran a number of times, not after a time, so a loop of a few
// hundred calls a second (one call in flight over a broker) is still running unoptimized
// code after Ray's 1 s (measured: raybus on RabbitMQ, one task at a time, went from ~410 to
// ~1,000-1,300 calls/s over its first 8 s). The warm-up lasts at least BENCH_WARMUP_MS and
// BENCH_WARMUP_OPS operations (multiplier * calls; for metrics in ops/s), at most BENCH_MAX_WARMUP_MS.
import { fork } from 'node:child_process';
import v8 from 'node:v8';
import vm from 'node:vm';
import { setTimeout as sleep } from 'node:timers/promises';

const envNum = (name, dflt) => {
  const v = Number(process.env[name]);
  return Number.isFinite(v) && v > 0 ? v : dflt;
};

/** Timing settings, from the environment (defaults sized for a 2-core machine). */
export const timing = {
  warmupMs: envNum('BENCH_WARMUP_MS', 400),
  /** Operations (multiplier * calls) the warm-up runs at least, time permitting (JIT warm-up). */
  warmupOps: envNum('BENCH_WARMUP_OPS', 3000),
  /** Longest warm-up, whatever the operations so far. */
  maxWarmupMs: envNum('BENCH_MAX_WARMUP_MS', 6000),
  rounds: envNum('BENCH_ROUNDS', 4),
  roundMs: envNum('BENCH_ROUND_MS', 700),
  /** Upper bound on body calls in one round (the count bound; roundMs is the time bound). */
  maxCallsPerRound: envNum('BENCH_MAX_CALLS', 2_000_000),
};

// A GC handle without requiring `node --expose-gc` on the command line: large-buffer metrics
// free their objects through FinalizationRegistry, which only runs after a collection.
v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc');

/** Let finalizers and pending I/O run, then collect: the stand-in for Ray's 10 s sleep. */
export async function settle(ms = 50) {
  await sleep(ms);
  gc();
  await new Promise((r) => setImmediate(r));
}

const macrotask = () => new Promise((r) => setImmediate(r));

function quantile(sorted, q) {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i];
}

/** Mean and (population) standard deviation, as numpy's np.std used by Ray. */
export function meanStd(xs) {
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const std = Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / xs.length);
  return { mean, std };
}

/**
 * Time `body` (sync or async) the ray_perf.py way.
 *
 * @param {string} name  metric name, as in ray_perf.py
 * @param {() => unknown} body  one benchmark operation (times `multiplier`)
 * @param {{ multiplier?: number, warmupMs?: number, warmupCalls?: number, rounds?: number, roundMs?: number,
 *           maxCallsPerRound?: number, deadlineMs?: number, unit?: string }} [opts]
 *   `warmupCalls`: calls made once before the warm-up time, whatever `maxCallsPerRound` says
 *   (a body that moves 100 MB runs a few times untimed, as every other body does).
 * @returns {Promise<{ name: string, mean: number, std: number, rates: number[], calls: number,
 *           p50Ms: number, p99Ms: number, unit: string, error?: string }>}
 */
export async function timeit(name, body, opts = {}) {
  const multiplier = opts.multiplier ?? 1;
  const warmupMs = opts.warmupMs ?? timing.warmupMs;

  const rounds = opts.rounds ?? timing.rounds;
  const roundMs = opts.roundMs ?? timing.roundMs;
  const maxCalls = opts.maxCallsPerRound ?? timing.maxCallsPerRound;
  const unit = opts.unit ?? 'ops/s';
  // Operations count for round trips (ops/s); a metric of other units (GB/s, gets of 10k refs,
  // waits on 1k refs: a call does much work) warms up by time, as does one that sets its own
  // warm-up (large values: none).
  const warmupOps = opts.warmupMs === undefined && unit === 'ops/s' ? timing.warmupOps : 0;
  const maxWarmupMs = Math.max(warmupMs, timing.maxWarmupMs);
  // Generous: a body slower than a round still completes once per round.
  const deadlineMs = opts.deadlineMs ?? Math.max(30_000, 4 * ((warmupOps ? maxWarmupMs : warmupMs) + rounds * roundMs));
  const state = { aborted: false };
  const latencies = [];
  const rates = [];
  let totalCalls = 0;

  // Runs for `ms`, or, with `minCalls`, until both `ms` and `minCalls` are reached (at most `maxMs`).
  const loop = async (ms, record, minCalls = 0, maxMs = ms) => {
    const start = performance.now();
    let lastYield = start;
    let calls = 0;
    let now = start;
    while (!state.aborted && calls < maxCalls && (now - start < ms || (calls < minCalls && now - start < maxMs))) {
      const t = now;
      await body();
      now = performance.now();
      if (record && latencies.length < 200_000) latencies.push(now - t);
      calls++;
      // Give timers, I/O and finalizers a turn, as a Python loop gives the GIL away.
      if (now - lastYield > 50) {
        await macrotask();
        now = performance.now();
        lastYield = now;
      }
    }
    return { calls, seconds: (performance.now() - start) / 1000 };
  };

  const run = async () => {
    for (let i = 0; i < (opts.warmupCalls ?? 0) && !state.aborted; i++) await body();
    await loop(warmupMs, false, Math.ceil(warmupOps / multiplier), maxWarmupMs);
    for (let r = 0; r < rounds && !state.aborted; r++) {
      const { calls, seconds } = await loop(roundMs, true);
      totalCalls += calls;
      rates.push((multiplier * calls) / seconds);
    }
  };

  let timer;
  const deadline = new Promise((resolve) => {
    timer = setTimeout(() => resolve('timeout'), deadlineMs);
  });
  let error;
  try {
    const outcome = await Promise.race([run().then(() => 'ok'), deadline]);
    if (outcome === 'timeout') {
      state.aborted = true;
      error = `timed out after ${Math.round(deadlineMs / 1000)} s`;
    }
  } catch (err) {
    state.aborted = true;
    error = err instanceof Error ? `${err.name}: ${err.message.split('\n')[0]}` : String(err);
  } finally {
    clearTimeout(timer);
  }
  const sorted = latencies.sort((a, b) => a - b);
  const { mean, std } = rates.length ? meanStd(rates) : { mean: NaN, std: NaN };
  return {
    name,
    mean: error ? NaN : mean,
    std: error ? NaN : std,
    rates,
    calls: totalCalls,
    p50Ms: quantile(sorted, 0.5),
    p99Ms: quantile(sorted, 0.99),
    unit,
    ...(error ? { error } : {}),
  };
}

/** A result row for a metric that was not measured, with the reason. */
export function notMeasured(name, reason, unit = 'ops/s') {
  return { name, mean: NaN, std: NaN, rates: [], calls: 0, p50Ms: NaN, p99Ms: NaN, unit, na: reason };
}

/** Resolve `promise` or reject after `ms` with a message naming `what`. */
export async function withTimeout(promise, ms, what) {
  let timer;
  const t = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer in ${Math.round(ms / 1000)} s`)), ms);
  });
  try {
    return await Promise.race([promise, t]);
  } finally {
    clearTimeout(timer);
  }
}

/** Print one line as a metric finishes (progress for a long run). */
export function logResult(prefix, r) {
  const fmt = (x) => (Number.isFinite(x) ? (x >= 100 ? Math.round(x).toLocaleString('en-US') : x.toPrecision(3)) : '-');
  const tail = r.na ? `n/a (${r.na})` : r.error ? `error: ${r.error}` : `${fmt(r.mean)} ± ${fmt(r.std)} ${r.unit}`;
  console.log(`  ${prefix}${r.name.padEnd(48)} ${tail}`);
}

/** Stop an anchor's child process: disconnect, then SIGKILL if it has not exited within 4 s. */
export async function stopChild(child) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  if (child.connected) child.disconnect();
  await Promise.race([exited, new Promise((r) => setTimeout(r, 4000).unref())]);
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
}

/**
 * Fork an anchor's server process; resolves once it sends its first message (ready), rejects
 * if it exits first or stays silent past `timeoutMs`.
 */
export async function startChild(script, args, label, timeoutMs = 15_000) {
  const child = fork(script, args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const ready = new Promise((resolve, reject) => {
    child.once('message', resolve);
    child.once('exit', (code) => reject(new Error(`${label} exited (code ${code})`)));
  });
  try {
    await withTimeout(ready, timeoutMs, label);
  } catch (err) {
    await stopChild(child);
    throw err;
  }
  return child;
}

/**
 * An anchor's two figures for request/reply `call`: one in flight (`<key>_sync`) and 1,000 in
 * flight (`<key>_async`), each logged.
 */
export async function timeRequestReply(name, key, call) {
  const sync = await timeit(`${name} sync`, call);
  const async = await timeit(
    `${name} async`,
    () => {
      const ps = new Array(1000);
      for (let i = 0; i < 1000; i++) ps[i] = call();
      return Promise.all(ps);
    },
    { multiplier: 1000 },
  );
  const results = [
    { ...sync, key: `${key}_sync`, kind: 'sync' },
    { ...async, key: `${key}_async`, kind: 'async' },
  ];
  for (const r of results) logResult('[anchor] ', r);
  return results;
}
