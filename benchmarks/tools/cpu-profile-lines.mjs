// The source lines of one function that a V8 .cpuprofile (node --cpu-prof) sampled most, as
// µs per operation: which statement of a hot function costs what.
//   node benchmarks/tools/cpu-profile-lines.mjs FILE FUNCTION [OPERATIONS=1]
import { readFileSync } from 'node:fs';

const [file, fn, opsArg = '1'] = process.argv.slice(2);
if (!file || !fn) {
  console.error('usage: cpu-profile-lines.mjs FILE.cpuprofile FUNCTION [OPERATIONS]');
  process.exit(1);
}
const ops = Number(opsArg);
const prof = JSON.parse(readFileSync(file, 'utf8'));
// Mean time a sample stands for.
const tick = (prof.endTime - prof.startTime) / prof.samples.length;
const byFile = new Map();
for (const n of prof.nodes) {
  if (n.callFrame.functionName !== fn || !n.callFrame.url) continue;
  const lines = byFile.get(n.callFrame.url) ?? new Map();
  byFile.set(n.callFrame.url, lines);
  for (const t of n.positionTicks ?? []) lines.set(t.line, (lines.get(t.line) ?? 0) + t.ticks);
}
if (byFile.size === 0) console.log(`no samples with line ticks in a function named ${fn}`);
for (const [url, lines] of byFile) {
  let source = [];
  try {
    source = readFileSync(new URL(url), 'utf8').split('\n');
  } catch {
    // Not a file (a module evaluated from text): line numbers only.
  }
  console.log(`${fn} in ${url}`);
  for (const [line, ticks] of [...lines].sort((a, b) => b[1] - a[1]).slice(0, 15)) {
    console.log(`${((ticks * tick) / ops).toFixed(2).padStart(8)} µs  ${String(line).padStart(5)}  ${(source[line - 1] ?? '').trim().slice(0, 110)}`);
  }
}
