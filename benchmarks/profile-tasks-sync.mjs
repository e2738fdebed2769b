// The embedded sync task loop (submit one trivial task, get it; repeat), alone, for profiling
// the driver side:
//   node --cpu-prof --cpu-prof-dir=/tmp/raybus-prof benchmarks/profile-tasks-sync.mjs
//   node benchmarks/tools/cpu-profile-summary.mjs /tmp/raybus-prof/*.cpuprofile
// Bounded: PROFILE_SECONDS (default 8) or PROFILE_TASKS (default 100,000), whichever first.
import ray from 'raybus';
import { smallValue } from './raybus-remote-code.mjs';

const seconds = Number(process.env.PROFILE_SECONDS ?? 8);
const maxTasks = Number(process.env.PROFILE_TASKS ?? 100_000);
await ray.init();
const small = ray.remote(smallValue);
await ray.get(small.remote());
const t0 = performance.now();
let n = 0;
while (n < maxTasks && performance.now() - t0 < seconds * 1000) {
  await ray.get(small.remote());
  n++;
}
const s = (performance.now() - t0) / 1000;
console.log(`${n} sync tasks in ${s.toFixed(1)} s: ${Math.round(n / s)} tasks/s`);
await ray.shutdown();
