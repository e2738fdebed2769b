// What a driver on the embedded default keeps of actors that have died: N shared actors
// (`isolation: 'shared'`) created, called once and killed, then the driver's live heap after a
// full GC, above what it held before, per dead actor. On the embedded default the broker's actor
// registry lives in the driver, so its collector marks whatever the registry keeps of each one.
// `SNAP=FILE` also writes a heap snapshot (sum it with `tools/heap-per-item.mjs FILE N`).
//
//   node benchmarks/dead-actors-heap.mjs [N=10000]   (after npm run build)
import v8 from 'node:v8';
import vm from 'node:vm';
import ray from 'raybus';
import { Pinger } from './raybus-remote-code.mjs';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc');
const n = Number(process.argv[2] ?? 10_000);
const settle = () => new Promise((r) => setTimeout(r, 500));
/** Live heap after full GCs, with FinalizationRegistry callbacks (collected handles) run between. */
async function liveHeap() {
  for (let i = 0; i < 3; i++) {
    gc();
    await settle();
  }
  return process.memoryUsage().heapUsed;
}

await ray.init();
const Ping = ray.remote({ isolation: 'shared' })(Pinger);
// One actor first, so that what every actor shares (the class, a host process) is in the baseline.
const first = Ping.remote();
await ray.get(first.ping.remote());
await ray.kill(first, { noRestart: true });
const before = await liveHeap();
await (async () => {
  const actors = Array.from({ length: n }, () => Ping.remote());
  await ray.get(actors.map((a) => a.ping.remote()));
  await Promise.all(actors.map((a) => ray.kill(a, { noRestart: true })));
})();
const after = await liveHeap();
console.log(`${n} actors created, called and killed: the driver keeps ${((after - before) / n).toFixed(0)} B of live heap per dead actor (${((after - before) / 1e6).toFixed(1)} MB)`);
if (process.env.SNAP) v8.writeHeapSnapshot(process.env.SNAP);
await ray.shutdown();
