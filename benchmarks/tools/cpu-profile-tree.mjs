// A V8 .cpuprofile (node --cpu-prof) as a call tree, each node with its inclusive and self
// time divided by a number of operations: µs per call, by call path.
//   node benchmarks/tools/cpu-profile-tree.mjs FILE [MIN_PERCENT=0.4] [OPERATIONS=1]
// Nodes below MIN_PERCENT of the whole profile are left out; idle time is left out.
import { readFileSync } from 'node:fs';

const [file, minArg = '0.4', opsArg = '1'] = process.argv.slice(2);
if (!file) {
  console.error('usage: cpu-profile-tree.mjs FILE.cpuprofile [MIN_PERCENT] [OPERATIONS]');
  process.exit(1);
}
const ops = Number(opsArg);
const prof = JSON.parse(readFileSync(file, 'utf8'));
const byId = new Map(prof.nodes.map((n) => [n.id, n]));
const self = new Map();
for (let i = 0; i < prof.samples.length; i++) self.set(prof.samples[i], (self.get(prof.samples[i]) ?? 0) + (prof.timeDeltas[i + 1] ?? 0));
const inclusive = new Map();
// Post-order without recursion (call trees can be deep).
const order = [];
const stack = [prof.nodes[0].id];
while (stack.length > 0) {
  const id = stack.pop();
  order.push(id);
  for (const c of byId.get(id).children ?? []) stack.push(c);
}
for (let i = order.length - 1; i >= 0; i--) {
  const n = byId.get(order[i]);
  let t = self.get(n.id) ?? 0;
  for (const c of n.children ?? []) t += inclusive.get(c);
  inclusive.set(n.id, t);
}
const rootId = prof.nodes[0].id;
const min = (Number(minArg) / 100) * inclusive.get(rootId);
const short = (url) => url.replace(/^file:\/\//, '').replace(/^.*\/(dist|node_modules|benchmarks)\//, '$1/');
const us = (t) => (t / ops).toFixed(1);
const lines = [];
const visit = [[rootId, 0]];
while (visit.length > 0) {
  const [id, depth] = visit.pop();
  const n = byId.get(id);
  const t = inclusive.get(id);
  if (t < min || n.callFrame.functionName === '(idle)') continue;
  const cf = n.callFrame;
  lines.push(`${'  '.repeat(depth)}${us(t)} µs (self ${us(self.get(id) ?? 0)})  ${cf.functionName || '(anonymous)'}  ${cf.url ? `${short(cf.url)}:${cf.lineNumber + 1}` : ''}`);
  const children = [...(n.children ?? [])].sort((a, b) => inclusive.get(a) - inclusive.get(b));
  for (const c of children) visit.push([c, depth + 1]);
}
console.log(`inclusive (self) µs per operation, ${ops} operations; nodes of at least ${minArg}% of the profile`);
console.log(lines.join('\n'));
