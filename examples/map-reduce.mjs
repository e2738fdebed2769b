// Parallel map/reduce with a `wait` loop: count words in chunks of text, and fold each
// partial count into the total as soon as it is ready (not in submission order).
// Runs on the embedded default, or on a cluster when RAYBUS_ADDRESS is set.
//   node examples/map-reduce.mjs
import assert from 'node:assert/strict';
import ray from 'raybus';

// Self-contained (uses only its argument), so it is shipped to the workers by value.
const countWords = ray.remote((text) => {
  const counts = {};
  for (const word of text.toLowerCase().match(/[a-z']+/g) ?? []) counts[word] = (counts[word] ?? 0) + 1;
  return counts;
});

const corpus = [
  'the quick brown fox jumps over the lazy dog',
  'the dog barks and the fox runs',
  'a quick brown dog and a lazy fox',
  'over and over the fox jumps',
];
const chunks = Array.from({ length: 40 }, (_, i) => corpus[i % corpus.length]);

await ray.init();
let pending = chunks.map((text) => countWords.remote(text));
const total = {};
let done = 0;
while (pending.length > 0) {
  // Up to 8 results at a time, whichever finish first.
  const [ready, rest] = await ray.wait(pending, { numReturns: Math.min(8, pending.length) });
  for (const partial of await ray.get(ready)) {
    for (const [word, n] of Object.entries(partial)) total[word] = (total[word] ?? 0) + n;
  }
  done += ready.length;
  pending = rest;
}
const top = Object.entries(total).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).slice(0, 3);
console.log(`counted ${done} chunks; most frequent:`, top);
assert.deepEqual(top, [['the', 50], ['fox', 40], ['and', 30]]);
await ray.shutdown();
