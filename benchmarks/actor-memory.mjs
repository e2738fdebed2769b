// Idle actor worker memory and actor creation rate on the embedded default.
//   node benchmarks/actor-memory.mjs [actors=4] [created=40]
// Starts `actors` actors, waits for one call each, lets them idle, and reads each worker's
// RSS (VmRSS of /proc/<pid>/status) and module count; then creates `created` more actors one
// call each (all at once) and prints the rate. Linux only (reads /proc). IDLE_MS: how long the
// actors idle before their RSS is read (default 2000; V8 shrinks an idle heap after ~10 s).
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import ray from 'raybus';

const nIdle = Number(process.argv[2] ?? 4);
const nCreate = Number(process.argv[3] ?? 40);

/** An actor that reports its worker process: pid, modules loaded, heap. */
class Probe {
  info() {
    globalThis.gc?.();
    const req = typeof require === 'function' ? require : undefined;
    return { pid: process.pid, modules: req ? Object.keys(req.cache).length : -1, heapMB: process.memoryUsage().heapUsed / 1e6 };
  }
  ping() {
    return 'ok';
  }
}

const statusMB = (pid, key) => Number(new RegExp(`${key}:\\s+(\\d+)`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) / 1024;
const vmRssMB = (pid) => statusMB(pid, 'VmRSS');

await ray.init();
const P = ray.remote(Probe);
const idle = [];
for (let i = 0; i < nIdle; i++) idle.push(P.remote());
const infos = await ray.get(idle.map((a) => a.info.remote()));
await sleep(Number(process.env.IDLE_MS ?? 2000));
const rss = infos.map((i) => vmRssMB(i.pid));
const med = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
console.log(`idle actor worker RSS (MB): median ${med(rss).toFixed(1)}; each ${rss.map((r) => r.toFixed(1)).join(' ')}`);
console.log(`  of which anonymous (the process's own): median ${med(infos.map((i) => statusMB(i.pid, 'RssAnon'))).toFixed(1)}; file-backed (shared with other processes): ${med(infos.map((i) => statusMB(i.pid, 'RssFile'))).toFixed(1)}`);
const rollupMB = (pid, key) => Number(new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'))[1]) / 1024;
console.log(`  proportional (Pss, shared pages split among their sharers): median ${med(infos.map((i) => rollupMB(i.pid, 'Pss'))).toFixed(1)}; private (the memory each more actor costs): median ${med(infos.map((i) => rollupMB(i.pid, 'Private_Clean') + rollupMB(i.pid, 'Private_Dirty'))).toFixed(1)}`);
console.log(`worker heap used (MB): ${med(infos.map((i) => i.heapMB)).toFixed(1)}; modules in require.cache: ${infos[0].modules}`);
await Promise.all(idle.map((a) => ray.kill(a)));

const cpu0 = process.cpuUsage();
const t0 = performance.now();
const made = [];
for (let i = 0; i < nCreate; i++) made.push(P.remote());
await ray.get(made.map((a) => a.ping.remote()));
const s = (performance.now() - t0) / 1000;
const cpu = process.cpuUsage(cpu0);
console.log(`created ${nCreate} actors (one call each) in ${s.toFixed(2)} s: ${(nCreate / s).toFixed(1)} actors/s; driver CPU ${((cpu.user + cpu.system) / 1000 / nCreate).toFixed(1)} ms per actor`);
await Promise.all(made.map((a) => ray.kill(a)));
