// Memory stays bounded: submit and discard 100,000 trivial tasks, printing the driver's RSS.
// Run: npm run bench:memory   (node --expose-gc; loops bounded by count)
import ray from 'raybus';

const TOTAL = Number(process.env.TASKS ?? 100_000);
const BATCH = 1_000;
await ray.init();
const noop = ray.remote((i) => i);
const mb = () => Math.round(process.memoryUsage().rss / 1e6);
const samples = [];
const t0 = Date.now();
for (let done = 0; done < TOTAL; done += BATCH) {
  const refs = [];
  for (let i = 0; i < BATCH; i++) refs.push(noop.remote(i));
  await ray.wait(refs, { numReturns: refs.length });
  // refs are discarded here
  if ((done / BATCH) % 10 === 0) {
    globalThis.gc?.();
    samples.push(mb());
    console.log(`${String(done).padStart(7)} tasks  rss ${mb()} MB`);
  }
}
globalThis.gc?.();
await new Promise((r) => setImmediate(r));
const warm = samples[Math.min(2, samples.length - 1)];
console.log(`${TOTAL} tasks in ${((Date.now() - t0) / 1000).toFixed(1)} s; rss after warm-up ${warm} MB, max ${Math.max(...samples)} MB, final ${mb()} MB`);
await ray.shutdown();
