// What an owner keeps per queued task: N trivial tasks queued behind one that holds the only
// CPU, then a full GC and the live heap per task. With SNAP=FILE it also writes a heap
// snapshot, for `node benchmarks/tools/heap-per-item.mjs FILE N` (which objects, of which
// shapes, make up those bytes). With CALLS=1 the same for actor calls queued behind a blocked
// call. Exits by itself.
//   node --expose-gc benchmarks/queued-heap.mjs [N=100000]   (after npm run build)
import v8 from 'node:v8';
import vm from 'node:vm';
import ray from 'raybus';

const n = Number(process.argv[2] ?? 100_000);
v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc');
const turn = () => new Promise((r) => setImmediate(r));

await ray.init({ numCpus: 1 });
class Holder {
  block() {
    return new Promise((r) => setTimeout(() => r(1), 600_000));
  }
  small() {
    return 1;
  }
}
const block = ray.remote(function block() {
  return new Promise((r) => setTimeout(() => r(1), 600_000));
});
const small = ray.remote(function small() {
  return 1;
});
const calls = process.env.CALLS === '1';
const actor = calls ? ray.remote(Holder).remote() : undefined;
const one = calls ? () => actor.small.remote() : () => small.remote();
await ray.get(one());
// Holds the only CPU (tasks) or the actor (calls) while the others queue behind it.
const holder = calls ? actor.block.remote() : block.remote();
await new Promise((r) => setTimeout(r, 300));
gc();
const before = process.memoryUsage().heapUsed;
const refs = new Array(n);
for (let i = 0; i < n; ) {
  const end = Math.min(n, i + 1_000);
  for (; i < end; i++) refs[i] = one();
  await turn();
}
await new Promise((r) => setTimeout(r, 500));
gc();
console.log(`${n} ${calls ? 'actor calls' : 'tasks'} queued: ${((process.memoryUsage().heapUsed - before) / n).toFixed(0)} B of live heap each`);
if (process.env.SNAP) console.log(`heap snapshot: ${v8.writeHeapSnapshot(process.env.SNAP)}`);
// The refs stay reachable to here: each task's ObjectRef counts, as in a real program.
console.log(`(${refs.filter(Boolean).length} refs held)`);
void holder;
// The held task never ends: stop without waiting for it.
await ray.shutdown();
process.exit(0);
