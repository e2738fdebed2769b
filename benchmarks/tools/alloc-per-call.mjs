// What the driver allocates per call on the embedded default, by allocating function: V8's
// sampling heap profiler, counting the objects the collector has already freed too (what makes
// the young generation fill and the scavenger run), over ROUNDS batches of 1,000 calls in
// flight after 110 batches of warm-up (past the 100,000 rows of the owner's ring of finished
// tasks, which a long-running driver has filled: it allocates while it grows). The CPU profile says where the time goes; this says which
// code makes the garbage the collector's share of it comes from.
//   node benchmarks/tools/alloc-per-call.mjs [tasks|actor] [TOP]   (after npm run build)
// ROUNDS (default 60) and SAMPLE_BYTES (the sampling interval, default 256) in the environment.
import { Session } from 'node:inspector/promises';
import ray from 'raybus';
import { smallValue, Actor } from '../raybus-remote-code.mjs';

const what = process.argv[2] ?? 'tasks';
const top = Number(process.argv[3] ?? 40);
if (what !== 'tasks' && what !== 'actor') throw new Error(`tasks or actor, not ${what}`);
const rounds = Number(process.env.ROUNDS ?? 60);
const BATCH = 1000;

await ray.init({});
const small = ray.remote(smallValue);
const actor = ray.remote(Actor).remote();
const call = what === 'tasks' ? () => small.remote() : () => actor.small_value.remote();
const batch = () => {
  const refs = new Array(BATCH);
  for (let i = 0; i < BATCH; i++) refs[i] = call();
  return ray.get(refs);
};
for (let i = 0; i < 110; i++) await batch();

const session = new Session();
session.connect();
await session.post('HeapProfiler.enable');
await session.post('HeapProfiler.startSampling', {
  samplingInterval: Number(process.env.SAMPLE_BYTES ?? 256),
  includeObjectsCollectedByMajorGC: true,
  includeObjectsCollectedByMinorGC: true,
});
for (let i = 0; i < rounds; i++) await batch();
const { profile } = await session.post('HeapProfiler.stopSampling');
session.disconnect();

const calls = rounds * BATCH;
const bySite = new Map();
const short = (url) => url.replace(/^file:\/\//, '').replace(/^.*\/(dist|node_modules|benchmarks)\//, '$1/');
const visit = (node) => {
  const cf = node.callFrame;
  const site = `${cf.functionName || '(anonymous)'}  ${cf.url ? `${short(cf.url)}:${cf.lineNumber + 1}` : '(native)'}`;
  bySite.set(site, (bySite.get(site) ?? 0) + node.selfSize);
  for (const child of node.children) visit(child);
};
visit(profile.head);
const total = [...bySite.values()].reduce((a, b) => a + b, 0);
console.log(`${what}, ${BATCH} in flight: ${(total / calls).toFixed(0)} bytes allocated per call, by allocating function:`);
for (const [site, bytes] of [...bySite].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${(bytes / calls).toFixed(0).padStart(7)}  ${site}`);
await ray.shutdown();
