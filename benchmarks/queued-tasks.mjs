// Queued tasks: N trivial tasks submitted at once from one driver, then all results awaited.
// Per size: tasks/s from the first submit to the last result; the driver's memory per queued
// task, as live heap (after a full GC once all N are submitted) and as peak RSS, each above the
// baseline and divided by N; and its largest event-loop delay (a 10 ms timer's drift, paused
// around that one GC). The program does what a driver producing that much work does: it submits
// in slices of SLICE `remote()` calls, yielding between them, then awaits the results slice after
// slice, dropping each slice's refs once read (a single loop of a million `remote()` calls holds
// the event loop for the whole loop, and one `ray.get` of a million refs registers a waiter for
// each and decodes them all in one go, whatever the runtime).
//
// Each row is bounded (60 s + 0.2 ms per task). QUEUED_TRACE=1 prints every delay over 50 ms
// with the phase it fell in (submit, get, drain); with `node --trace-gc` it lines up with the
// collector's pauses.
//
//   node benchmarks/queued-tasks.mjs [sizes, e.g. 100000,1000000]   (after npm run build)
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import v8 from 'node:v8';
import vm from 'node:vm';
import { settle, withTimeout } from './harness.mjs';
import { smallValue } from './raybus-remote-code.mjs';

/** Tasks submitted (and results awaited) per slice, one macrotask each. */
const SLICE = 1_000;
/** The event-loop probe's period; memory is sampled at the same pace. */
const TICK_MS = 10;

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc');
let phase = '';
const macrotask = () => new Promise((r) => setImmediate(r));

/** A timer-drift sampler of the event loop (max delay beyond TICK_MS), and peak RSS. */
function probe() {
  let last = performance.now();
  let paused = false;
  const p = { maxLagMs: 0, peakRss: process.memoryUsage.rss() };
  const timer = setInterval(() => {
    const now = performance.now();
    if (!paused) p.maxLagMs = Math.max(p.maxLagMs, now - last - TICK_MS);
    if (process.env.QUEUED_TRACE && !paused && now - last - TICK_MS > 50) console.log('lag', (now - last - TICK_MS).toFixed(0), 'at', (now / 1000).toFixed(2), phase);
    last = now;
    const rss = process.memoryUsage.rss();
    if (rss > p.peakRss) p.peakRss = rss;
  }, TICK_MS);
  p.pause = () => (paused = true);
  p.resume = () => {
    last = performance.now();
    paused = false;
  };
  p.stop = () => clearInterval(timer);
  return p;
}

/**
 * One row: { tasks, seconds, submitS, tasksPerS, driverCpuUsPerTask, heapBytesPerTask,
 * rssBytesPerTask, maxLagMs } or { tasks, error }.
 *
 * @param {object} ray  the raybus API, initialized on the embedded default
 * @param {number} n  tasks to queue
 * @param {number} timeoutMs  bound on the whole row
 */
async function queuedRow(ray, n, timeoutMs) {
  const small = ray.remote(smallValue);
  await ray.get(Array.from({ length: 100 }, () => small.remote()));
  await settle(200);
  const baseHeap = process.memoryUsage().heapUsed;
  const baseRss = process.memoryUsage.rss();
  const p = probe();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  phase = 'submit';
  try {
    const refs = new Array(n);
    for (let i = 0; i < n; ) {
      const end = Math.min(n, i + SLICE);
      for (; i < end; i++) refs[i] = small.remote();
      await macrotask();
    }
    const submitS = (performance.now() - t0) / 1000;
    phase = 'get';
    p.pause();
    gc();
    const heapBytesPerTask = (process.memoryUsage().heapUsed - baseHeap) / n;
    p.resume();
    phase = 'drain';
    const deadline = t0 + timeoutMs;
    for (let i = 0; i < n; i += SLICE) {
      await withTimeout(ray.get(refs.slice(i, i + SLICE)), Math.max(1, deadline - performance.now()), `${n} queued tasks (bound ${Math.round(timeoutMs / 1000)} s)`);
      refs.fill(undefined, i, i + SLICE);
    }
    const seconds = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    return {
      tasks: n,
      seconds,
      submitS,
      tasksPerS: n / seconds,
      driverCpuUsPerTask: (cpu.user + cpu.system) / n,
      heapBytesPerTask,
      rssBytesPerTask: (p.peakRss - baseRss) / n,
      maxLagMs: p.maxLagMs,
    };
  } catch (err) {
    return { tasks: n, error: err instanceof Error ? err.message.split('\n')[0] : String(err) };
  } finally {
    p.stop();
    await settle(300);
  }
}

/**
 * Queued-task rows for `sizes`, and the rate of the largest relative to the smallest.
 *
 * @param {object} ray  the raybus API, initialized on the embedded default
 * @param {number[]} sizes  task counts, smallest first
 */
export async function runQueuedScaling(ray, sizes) {
  const rows = [];
  for (const n of sizes) {
    const row = await queuedRow(ray, n, 60_000 + n * 0.2);
    rows.push(row);
    if (row.error) console.log(`  [scaling] ${n} queued tasks: error ${row.error}`);
    else
      console.log(
        `  [scaling] ${n} queued tasks: ${row.tasksPerS.toFixed(0)} tasks/s (${row.seconds.toFixed(1)} s, submitted in ${row.submitS.toFixed(1)} s), ` +
          `driver CPU ${row.driverCpuUsPerTask.toFixed(0)} µs/task, ` +
          `${row.heapBytesPerTask.toFixed(0)} B live heap / ${row.rssBytesPerTask.toFixed(0)} B peak RSS per task, max loop lag ${row.maxLagMs.toFixed(0)} ms`,
      );
  }
  const first = rows[0];
  for (const row of rows) if (!row.error && first && !first.error) row.ratio = row.tasksPerS / first.tasksPerS;
  return rows;
}

/**
 * The queued-task rows measured in a driver process of their own (this file run as a script),
 * as a program that queues that much work runs: the bench's own driver carries the state of
 * every row before (the records of 10,000 actors it killed, the finished-task table), which the
 * collector marks on every major GC, with a million tasks queued too. Resolves to the rows, or
 * to one error row per size if the process fails.
 *
 * @param {number[]} sizes  task counts, smallest first
 */
export function runQueuedScalingProcess(sizes) {
  const boundMs = sizes.reduce((t, n) => t + 60_000 + n * 0.2, 30_000);
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [fileURLToPath(import.meta.url), sizes.join(',')], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk) => (out += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), boundMs);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const lines = out.trimEnd().split('\n');
      const last = lines.pop() ?? '';
      if (lines.length > 0) console.log(lines.join('\n'));
      try {
        if (code !== 0) throw new Error(`exit ${code ?? signal}`);
        resolve(JSON.parse(last));
      } catch (err) {
        const error = `queued-tasks process: ${err instanceof Error ? err.message : String(err)}`;
        console.log(`  [scaling] queued tasks: error ${error}`);
        resolve(sizes.map((tasks) => ({ tasks, error })));
      }
    });
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const ray = (await import('raybus')).default;
  const sizes = (process.argv[2] ?? '100000,1000000').split(',').map(Number);
  await ray.init();
  const rows = await runQueuedScaling(ray, sizes);
  console.log(JSON.stringify(rows));
  await ray.shutdown();
}
