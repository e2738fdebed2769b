// Same-run ratios of the embedded default to raw fork IPC, for iterating on the hot path: the
// four headline bodies (tasks and actor calls, one in flight and 1,000 in flight), each timed
// alternately with a raw `child_process.fork` echo (advanced serialization) three times; the
// median ratio of the three. Ratios taken in one sitting compare across builds where absolute
// figures, which follow the machine's load, do not.
//   node benchmarks/embedded-ratios.mjs          (after npm run build)
// ONLY=<regex> picks bodies (e.g. ONLY=async); BENCH_ROUND_MS etc. as in harness.mjs.
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import ray from 'raybus';
import { timeit } from './harness.mjs';
import { smallValue, Actor } from './raybus-remote-code.mjs';
import { rpcOver } from './anchors/ipc.mjs';

const child = fork(fileURLToPath(new URL('./anchors/echo-child.mjs', import.meta.url)), [], { serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
await once(child, 'spawn');
const echo = rpcOver((m) => child.send(m), (h) => child.on('message', h));

await ray.init();
const small = ray.remote(smallValue);
const actor = ray.remote(Actor).remote();
await ray.get(actor.small_value.remote());
await ray.get(small.remote());
const batch = (f) => {
  const r = new Array(1000);
  for (let i = 0; i < 1000; i++) r[i] = f(i);
  return r;
};
const only = new RegExp(process.env.ONLY ?? '.');
const bodies = {
  'tasks sync': [() => ray.get(small.remote()), () => echo(0), 1],
  'tasks async': [() => ray.get(batch(() => small.remote())), () => Promise.all(batch(echo)), 1000],
  'actor sync': [() => ray.get(actor.small_value.remote()), () => echo(0), 1],
  'actor async': [() => ray.get(batch(() => actor.small_value.remote())), () => Promise.all(batch(echo)), 1000],
};
for (const [name, [raybus, raw, multiplier]] of Object.entries(bodies)) {
  if (!only.test(name)) continue;
  const ratios = [];
  for (let i = 0; i < 3; i++) {
    const r = await timeit(name, raybus, { multiplier });
    const a = await timeit(`${name} (fork IPC)`, raw, { multiplier });
    ratios.push(r.mean / a.mean);
  }
  ratios.sort((x, y) => x - y);
  console.log(`${name}: ${ratios.map((x) => x.toFixed(2)).join(' ')}; median ${ratios[1].toFixed(2)}× fork IPC`);
}
child.disconnect();
await ray.shutdown();
