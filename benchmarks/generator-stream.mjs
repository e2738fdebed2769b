// Items per second streamed from one generator task (small items), embedded default.
// Run: npm run build && node benchmarks/generator-stream.mjs   (bounded: N items, 3 rounds)
import ray from 'raybus';

const N = Number(process.env.ITEMS ?? 20_000);
await ray.init({ numCpus: 2 });
const gen = ray.remote(function* (n) {
  for (let i = 0; i < n; i++) yield i;
});
const rates = [];
for (let round = 0; round < 3; round++) {
  const t0 = process.hrtime.bigint();
  let count = 0;
  for await (const ref of gen.remote(N)) {
    await ray.get(ref);
    count++;
  }
  rates.push(count / (Number(process.hrtime.bigint() - t0) / 1e9));
}
const mean = rates.reduce((a, b) => a + b, 0) / rates.length;
console.log(`generator items/s (embedded, ${N} small items, get each): mean ${Math.round(mean)}, rounds ${rates.map(Math.round).join(' / ')}`);
await ray.shutdown();
