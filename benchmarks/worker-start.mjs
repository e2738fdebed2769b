// What bounds actor creation with a worker process per actor: in one run, processes started
// and ended as fast as this machine allows (as many at a time as it has CPUs), for
//   1. a bare Node process (`node` running an empty script),
//   2. a process that loads raybus's worker code as a worker does (module pack and code
//      cache, bin/worker.ts) and stops before it connects to its node,
// each with its CPU split (Node's start-up before the first line of the script, then each
// step of the load); then
//   3. raybus actors created N at once on the embedded default (each in a worker process of
//      its own), with the CPU each new worker process has used once its actor answered.
// Rows 1 and 2 are ceilings for row 3 on the same machine in the same run.
//   node benchmarks/worker-start.mjs [processes=30] [actors=30]      (after npm run build)
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import ray from 'raybus';
import { cpuByProcess } from './process-cpu.mjs';

const PROCESSES = Number(process.argv[2] ?? 30);
const ACTORS = Number(process.argv[3] ?? 30);
const LANES = os.availableParallelism();

const bin = path.join(path.dirname(createRequire(import.meta.url).resolve('raybus')), 'bin');

/** A child's CPU so far (user + system, all its threads), printed as JSON with its steps. */
const CPU = 'const cpu = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; };';
const bare = `${CPU} process.stdout.write(JSON.stringify({ boot: cpu() }));`;
const load = `${CPU}
const boot = cpu();
const { openModulePack } = require(${JSON.stringify(path.join(bin, 'module-pack.js'))});
const wp = require(${JSON.stringify(path.join(bin, 'worker-pack.js'))});
const t1 = cpu();
const pack = openModulePack(wp.WORKER_PACK_MANIFEST, wp.WORKER_PACK_CACHE);
const t2 = cpu();
wp.prepareWorkerLoad(pack?.compile, pack?.privateModule);
if (pack) pack.load(wp.WORKER_MAIN, module); else require(wp.WORKER_MAIN);
pack?.close();
const t3 = cpu();
process.stdout.write(JSON.stringify({ boot, entry: t1 - boot, open: t2 - t1, load: t3 - t2, packed: pack !== undefined }));`;

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[s.length >> 1] : NaN;
};

/** `n` processes running `script`, `LANES` at a time: processes/s and each one's report. */
async function processes(script, n) {
  let next = 0;
  const reports = [];
  const t0 = performance.now();
  const lane = async () => {
    while (next < n) {
      next++;
      const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      child.stdout.on('data', (d) => (out += d));
      const [code] = await once(child, 'exit');
      if (code !== 0) throw new Error(`a child exited with ${code}`);
      reports.push(JSON.parse(out));
    }
  };
  await Promise.all(Array.from({ length: LANES }, lane));
  return { perS: n / ((performance.now() - t0) / 1000), reports };
}

const rows = [];
const b = await processes(bare, PROCESSES);
rows.push(['bare Node process', b.perS, median(b.reports.map((r) => r.boot)), '']);
const l = await processes(load, PROCESSES);
if (!l.reports.every((r) => r.packed)) console.log('  (the module pack stayed closed in this process: loaded through require)');
const steps = ['boot', 'entry', 'open', 'load'];
const stepMedians = steps.map((k) => median(l.reports.map((r) => r[k])));
rows.push([
  'Node process loading the worker code',
  l.perS,
  stepMedians.reduce((a, x) => a + x, 0),
  steps.map((k, i) => `${k} ${stepMedians[i].toFixed(1)}`).join(', '),
]);

await ray.init();
class Ping {
  ping() {
    return process.pid;
  }
}
const P = ray.remote(Ping);
// The prestarted workers are up before the clock starts.
const warm = P.remote();
await ray.get(warm.ping.remote());
await ray.kill(warm, { noRestart: true });
await new Promise((r) => setTimeout(r, 2000));
const before = cpuByProcess();
const t0 = performance.now();
const actors = Array.from({ length: ACTORS }, () => P.remote());
const pids = await ray.get(actors.map((a) => a.ping.remote()));
const createS = (performance.now() - t0) / 1000;
// The workers of these actors started after the clock (not the prestarted ones they took).
const now = cpuByProcess();
const fresh = pids.map(String).filter((pid) => !before.has(pid) && now.has(pid)).map((pid) => now.get(pid).s * 1000);
rows.push([`raybus actors, ${ACTORS} at once (a worker each)`, ACTORS / createS, median(fresh), `CPU of the ${fresh.length} workers started for them, once each answered (10 ms ticks)`]);
await Promise.all(actors.map((a) => ray.kill(a, { noRestart: true })));
await ray.shutdown();

console.log(`\n${os.cpus().length} CPUs (${LANES} processes at a time), load average ${os.loadavg()[0].toFixed(1)}\n`);
console.log('| started | per second | CPU ms per process (median) | steps (CPU ms) |');
console.log('| --- | --- | --- | --- |');
for (const [name, perS, cpu, detail] of rows) console.log(`| ${name} | ${perS.toFixed(1)} | ${cpu.toFixed(0)} | ${detail} |`);
