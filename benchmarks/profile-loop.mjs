// One headline loop of the embedded default alone, for profiling and for alternating builds:
// tasks or actor calls, one in flight or 1,000, for PROFILE_SECONDS (default 8); prints calls/s
// and the driver's CPU per call.
//   MODE=tasks-sync|tasks-async|actor-sync|actor-async node benchmarks/profile-loop.mjs
//   RAYBUS_WORKER_CPU_PROF=/tmp/wprof node --cpu-prof --cpu-prof-dir=/tmp/prof benchmarks/profile-loop.mjs
// then `node benchmarks/tools/cpu-profile-tree.mjs /tmp/prof/*.cpuprofile 0.4 <calls>` and
// `node benchmarks/tools/cpu-profile-lines.mjs <profile> <function> <calls>`.
import ray from 'raybus';
import { smallValue, Actor } from './raybus-remote-code.mjs';

const mode = process.env.MODE ?? 'tasks-async';
const seconds = Number(process.env.PROFILE_SECONDS ?? 8);
const MODES = ['tasks-sync', 'tasks-async', 'actor-sync', 'actor-async'];
if (!MODES.includes(mode)) throw new Error(`MODE must be one of ${MODES.join(', ')}, got ${mode}`);
await ray.init();
const small = ray.remote(smallValue);
const actor = ray.remote(Actor).remote();
await ray.get(small.remote());
await ray.get(actor.small_value.remote());
const batch = (f) => {
  const refs = new Array(1000);
  for (let i = 0; i < 1000; i++) refs[i] = f();
  return refs;
};
const bodies = {
  'tasks-sync': () => ray.get(small.remote()),
  'tasks-async': () => ray.get(batch(() => small.remote())),
  'actor-sync': () => ray.get(actor.small_value.remote()),
  'actor-async': () => ray.get(batch(() => actor.small_value.remote())),
};
const body = bodies[mode];
const perBody = mode.endsWith('async') ? 1000 : 1;
const cpu0 = process.cpuUsage();
const t0 = performance.now();
let calls = 0;
while (performance.now() - t0 < seconds * 1000) {
  await body();
  calls += perBody;
}
const s = (performance.now() - t0) / 1000;
const cpu = process.cpuUsage(cpu0);
console.log(`${mode}: ${Math.round(calls / s)}/s, ${calls} calls; driver CPU ${((cpu.user + cpu.system) / calls).toFixed(1)} µs per call (system ${(cpu.system / calls).toFixed(1)})`);
await ray.shutdown();
