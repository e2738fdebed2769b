// The embedded default's 100 MB rows as `npm run bench` meets them: after the whole embedded
// suite in the same driver (or the rows ONLY names), with the driver's heap and child
// processes printed in between. The rows follow what the driver holds: a larger heap makes
// each 100 MB allocation's garbage collection longer.
//   node benchmarks/large-values-after-suite.mjs        (after npm run build)
// ONLY=<regex>: only the suite rows it names run first (ONLY='^$': none).
import { execSync } from 'node:child_process';
import ray from 'raybus';
import { runLargeValues } from './large-values.mjs';
import { runRaybusSuite } from './raybus-suite.mjs';

await ray.init();
const only = process.env.ONLY !== undefined ? new RegExp(process.env.ONLY) : undefined;
await runRaybusSuite(ray, { full: false, label: 'embedded', only });
const children = execSync(`ps --ppid ${process.pid} -o pid= | wc -l`).toString().trim();
const { rss, heapUsed } = process.memoryUsage();
console.log(`driver: ${children} child processes, RSS ${(rss / 1e6).toFixed(0)} MB, heap ${(heapUsed / 1e6).toFixed(0)} MB`);
await runLargeValues(ray, 'embedded');
await ray.shutdown();
