// Scheduling micro-benchmarks: broker grant decisions per second with 10 and 100
// nodes registered, and placement-group create+remove per second end to end on the embedded
// default. Run: npm run build && node benchmarks/scheduling.mjs   (bounded by count and time)
import { createRequire } from 'node:module';
import ray from 'raybus';

const require = createRequire(import.meta.url);
const { ResourceLedger } = require('../dist/cjs/src/scheduling/ledger/resource-ledger.js');
const { createStrategies } = require('../dist/cjs/src/scheduling/strategies/strategy-registry.js');
const { mulberry32 } = require('../dist/cjs/src/scheduling/strategies/seeded-random.js');

function grants(nodes, { seconds = 1.5 } = {}) {
  const ledger = new ResourceLedger();
  for (let i = 0; i < nodes; i++) ledger.addNode(`n${i}`, { CPU: 16, memory: 64e9, GPU: 2 });
  const { DEFAULT } = createStrategies();
  const random = mulberry32(1);
  const demand = { CPU: 1, memory: 1e9 };
  const held = [];
  let decisions = 0;
  const deadline = Date.now() + seconds * 1000;
  while (Date.now() < deadline) {
    for (let k = 0; k < 1000; k++) {
      const d = DEFAULT.pick({ ledger, demand, random, preferredNodeId: 'n0' });
      decisions++;
      if (d.kind === 'node' && ledger.reserveWithIds(d.nodeId, demand)) held.push(d.nodeId);
      // Keep the cluster about 75% busy: release the oldest grant once it is.
      if (held.length > nodes * 12) ledger.releaseWithIds(held.shift(), demand, []);
    }
  }
  return Math.round(decisions / seconds);
}

async function placementGroups({ count = 2000, seconds = 10 } = {}) {
  await ray.init({ numCpus: 4 });
  const t0 = Date.now();
  let n = 0;
  while (n < count && Date.now() - t0 < seconds * 1000) {
    const pg = ray.util.placementGroup([{ CPU: 1 }, { CPU: 1 }]);
    await ray.get(pg.ready());
    await ray.util.removePlacementGroup(pg);
    n++;
  }
  const rate = Math.round(n / ((Date.now() - t0) / 1000));
  await ray.shutdown();
  return rate;
}

const rows = [
  ['broker grant decisions/s, 10 nodes (DEFAULT, ~75% busy)', grants(10)],
  ['broker grant decisions/s, 100 nodes (DEFAULT, ~75% busy)', grants(100)],
  ['placement group create+ready+remove/s (2 bundles, embedded)', await placementGroups()],
];
for (const [name, value] of rows) console.log(`${name.padEnd(64)} ${String(value).padStart(10)}`);
console.log("Ray's published figure: placement group create/removal ~780/s (64-vCPU machine)");
