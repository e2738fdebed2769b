// Same-run ratios of the embedded default to raw fork IPC for the four headline bodies (tasks and
// actor calls, one in flight and 1,000 in flight): each body timed alternately with a raw
// `child_process.fork` echo (advanced serialization) three times, raybus first; the median of
// the three ratios. This is how the bench's embedded targets are judged: both sides of a pair
// run seconds apart, so the machine's load, which drifts over a run of many minutes, moves them
// alike. Also a CLI, for comparing builds in one sitting:
//   node benchmarks/embedded-ratios.mjs          (after npm run build)
// ONLY=<regex> picks bodies (e.g. ONLY=async); BENCH_ROUND_MS etc. as in harness.mjs.
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { timeit, logResult, stopChild } from './harness.mjs';
import { smallValue, Actor } from './raybus-remote-code.mjs';
import { rpcOver } from './anchors/ipc.mjs';
import { metricKey } from './raybus-suite.mjs';

const PAIRS = 3;

const batch = (f) => {
  const r = new Array(1000);
  for (let i = 0; i < 1000; i++) r[i] = f(i);
  return r;
};

/**
 * The alternated ratios on whatever `ray` is initialized on (the embedded default).
 *
 * @returns {Promise<{ name: string, key: string, kind: 'sync' | 'async', ratios: number[], median: number, raybus: number[], fork: number[] }[]>}
 */
export async function runEmbeddedRatios(ray, { only, log = logResult } = {}) {
  const child = fork(fileURLToPath(new URL('./anchors/echo-child.mjs', import.meta.url)), [], { serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  await once(child, 'spawn');
  const echo = rpcOver((m) => child.send(m), (h) => child.on('message', h));
  try {
    const small = ray.remote(smallValue);
    const actor = ray.remote(Actor).remote();
    await ray.get(actor.small_value.remote());
    await ray.get(small.remote());
    const bodies = [
      ['single client tasks sync', 'sync', () => ray.get(small.remote()), () => echo(0)],
      ['single client tasks async', 'async', () => ray.get(batch(() => small.remote())), () => Promise.all(batch(echo))],
      ['1:1 actor calls sync', 'sync', () => ray.get(actor.small_value.remote()), () => echo(0)],
      ['1:1 actor calls async', 'async', () => ray.get(batch(() => actor.small_value.remote())), () => Promise.all(batch(echo))],
    ];
    const rows = [];
    for (const [name, kind, raybus, raw] of bodies) {
      if (only && !only.test(name)) continue;
      const multiplier = kind === 'async' ? 1000 : 1;
      const row = { name, key: metricKey(name), kind, ratios: [], raybus: [], fork: [] };
      for (let i = 0; i < PAIRS; i++) {
        const r = await timeit(`${name} (pair ${i + 1})`, raybus, { multiplier });
        const a = await timeit(`${name} (pair ${i + 1}, fork IPC)`, raw, { multiplier });
        log('[same sitting] ', r);
        log('[same sitting] ', a);
        row.raybus.push(r.mean);
        row.fork.push(a.mean);
        row.ratios.push(r.mean / a.mean);
      }
      row.median = [...row.ratios].sort((x, y) => x - y)[PAIRS >> 1];
      rows.push(row);
    }
    await ray.kill(actor);
    return rows;
  } finally {
    await stopChild(child);
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { default: ray } = await import('raybus');
  await ray.init();
  const only = process.env.ONLY ? new RegExp(process.env.ONLY) : undefined;
  for (const row of await runEmbeddedRatios(ray, { only, log: () => undefined })) {
    console.log(`${row.name}: ${row.ratios.map((x) => x.toFixed(2)).join(' ')}; median ${row.median.toFixed(2)}× fork IPC`);
  }
  await ray.shutdown();
}
