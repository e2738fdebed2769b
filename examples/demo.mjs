// raybus demo on the embedded default: no broker, nothing to install.
// Run with `npm run demo` (or `node examples/demo.mjs` after `npm run build`).
import ray from 'raybus';

await ray.init();
console.log(`raybus started (embedded): ${JSON.stringify(await ray.clusterResources(), (k, v) => (k === 'memory' ? undefined : v))}`);

// 1. A remote function: runs in a worker process.
const square = ray.remote((x) => x * x);
const squares = await ray.get([1, 2, 3, 4].map((x) => square.remote(x)));
console.log('1. remote function  square.remote(1..4)  ->', squares);

// 2. An actor with state: calls from one caller run in order.
class Counter {
  constructor(start) {
    this.n = start;
  }
  inc(by = 1) {
    this.n += by;
    return this.n;
  }
}
const counter = ray.remote(Counter).remote(10);
const counts = await ray.get([counter.inc.remote(), counter.inc.remote(5), counter.inc.remote()]);
console.log('2. actor            Counter(10).inc x3    ->', counts);

// 3. numReturns: 2 gives two refs.
const divmod = ray.remote({ numReturns: 2 })((a, b) => [Math.floor(a / b), a % b]);
const [q, r] = divmod.remote(17, 5);
console.log('3. numReturns: 2    divmod(17, 5)         ->', await ray.get(q), await ray.get(r));

// 4. An error raised in a task surfaces as RayTaskError, with the original as its cause.
const fails = ray.remote({ maxRetries: 0 })((x) => {
  throw new RangeError(`${x} is out of range`);
});
try {
  await ray.get(fails.remote(42));
} catch (err) {
  console.log(`4. error            ${err.name}: instanceof RayTaskError=${err instanceof ray.RayTaskError}, cause=${err.cause.name}: ${err.cause.message}`);
}

await ray.shutdown();
console.log('done: raybus shut down cleanly');
