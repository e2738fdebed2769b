// A V8 heap snapshot (v8.writeHeapSnapshot) summed per item: the object types and, for plain
// objects and class instances, the property sets ("shapes") that occur at least 0.2 times per
// item, with their count and bytes per item. For `benchmarks/queued-heap.mjs` (items: queued
// tasks); needs a few GB of heap for a large snapshot.
//   node --max-old-space-size=4000 benchmarks/tools/heap-per-item.mjs FILE ITEMS
import { readFileSync } from 'node:fs';

const [file, itemsArg] = process.argv.slice(2);
if (!file || !itemsArg) {
  console.error('usage: heap-per-item.mjs FILE.heapsnapshot ITEMS');
  process.exit(1);
}
const items = Number(itemsArg);
const snap = JSON.parse(readFileSync(file, 'utf8'));
const meta = snap.snapshot.meta;
const F = meta.node_fields.length;
const E = meta.edge_fields.length;
const [TYPE, NAME, SIZE, EDGES] = ['type', 'name', 'self_size', 'edge_count'].map((f) => meta.node_fields.indexOf(f));
const [ETYPE, ENAME] = ['type', 'name_or_index'].map((f) => meta.edge_fields.indexOf(f));
const types = meta.node_types[0];
const edgeTypes = meta.edge_types[0];
const { nodes, edges, strings } = snap;
const byType = new Map();
const byShape = new Map();
const add = (map, key, size) => {
  const a = map.get(key) ?? [0, 0];
  a[0] += 1;
  a[1] += size;
  map.set(key, a);
};
for (let i = 0, e = 0; i < nodes.length; i += F) {
  const type = types[nodes[i + TYPE]];
  const name = strings[nodes[i + NAME]];
  const size = nodes[i + SIZE];
  const count = nodes[i + EDGES];
  const label = type.includes('string') ? `${type} of length ${name.length > 40 ? '> 40' : name.length}` : `${type} ${name.slice(0, 60)}`;
  add(byType, label, size);
  if (type === 'object') {
    const props = [];
    for (let k = 0; k < count; k++) {
      const b = e + k * E;
      if (edgeTypes[edges[b + ETYPE]] === 'property') props.push(strings[edges[b + ENAME]]);
    }
    add(byShape, `${name} {${props.filter((p) => p !== '__proto__').join(', ')}}`, size);
  }
  e += count * E;
}
const print = (title, map) => {
  console.log(title);
  const rows = [...map].filter(([, [c]]) => c >= items * Number(process.env.MIN_PER_ITEM ?? 0.2)).sort((a, b) => b[1][1] - a[1][1]);
  for (const [key, [c, bytes]] of rows.slice(0, 25)) console.log(`${(c / items).toFixed(2).padStart(7)} × ${(bytes / items).toFixed(1).padStart(7)} B  ${key}`);
};
print('per item, by type (count, bytes):', byType);
print('\nper item, plain objects and instances by property set:', byShape);
