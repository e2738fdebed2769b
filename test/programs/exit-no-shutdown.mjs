// A script that never calls ray.shutdown(): it ends once its work is done, also while it
// waits on a slow task, a stream or ray.wait (nothing else keeps it alive meanwhile).
import ray from 'raybus';

await ray.init();
const slow = ray.remote((ms) => new Promise((resolve) => setTimeout(() => resolve(process.pid), ms)));
const ticks = ray.remote(async function* (n) {
  for (let i = 0; i < n; i++) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    yield i;
  }
});
const pids = new Set();
pids.add(await ray.get(slow.remote(1500)));
const seen = [];
for await (const ref of ticks.remote(4)) seen.push(await ray.get(ref));
const [ready] = await ray.wait([slow.remote(800)], { timeoutMs: 20_000 });
pids.add(await ray.get(ready[0]));
if (seen.join() !== '0,1,2,3' || ready.length !== 1) throw new Error(`unexpected: ${seen} ${ready.length}`);
// The harness checks these worker processes are gone once this script exited.
console.log(`WORKER_PIDS ${JSON.stringify([...pids])}`);
console.log('done without shutdown');
