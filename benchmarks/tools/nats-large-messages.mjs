// 100 MB as 1 MB messages between two NATS connections of this process, with the adapter's
// handling of large messages (adapters/nats/client-buffers.ts) on neither connection, on the
// receiving one, or on both; the three alternated ROUNDS times in one sitting. Prints the wall
// time and this process's CPU for each 100 MB: what the client's own copies cost.
//   node benchmarks/tools/nats-large-messages.mjs [address]   (after npm run build; default nats://127.0.0.1:4222)
import { connect } from '@nats-io/transport-node';
import { installClientBuffers } from '../../dist/cjs/adapters/nats/client-buffers.js';

const servers = (process.argv[2] ?? 'nats://127.0.0.1:4222').replace(/^nats:\/\//, '');
const ROUNDS = Number(process.env.ROUNDS ?? 6);
const COUNT = 100;
const SIZE = 1000 * 1000;
const subject = `raybus-bench.large.${process.pid}`;
const payload = new Uint8Array(SIZE).fill(7);

/** One 100 MB transfer on fresh connections. */
async function transfer(mode) {
  const sub = await connect({ servers });
  const pub = await connect({ servers });
  if (mode !== 'none') installClientBuffers(sub);
  if (mode === 'both') installClientBuffers(pub);
  try {
    let n = 0;
    let done;
    const all = new Promise((resolve) => (done = resolve));
    sub.subscribe(subject, { callback: (_err, m) => (m.data.length === SIZE && ++n === COUNT ? done() : undefined) });
    await sub.flush();
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    for (let i = 0; i < COUNT; i++) {
      pub.publish(subject, payload);
      if (i % 8 === 7) await pub.flush();
    }
    await all;
    const ms = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    return { ms, cpu: (cpu.user + cpu.system) / 1000 };
  } finally {
    await sub.close();
    await pub.close();
  }
}

const modes = ['none', 'receive', 'both'];
const results = Object.fromEntries(modes.map((m) => [m, []]));
for (const m of modes) await transfer(m); // warm-up
for (let r = 0; r < ROUNDS; r++) {
  // Rotate the order so that no mode always runs first.
  for (let i = 0; i < modes.length; i++) {
    const m = modes[(r + i) % modes.length];
    results[m].push(await transfer(m));
  }
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
console.log(`100 MB as ${COUNT} messages of ${SIZE / 1000} KB, ${ROUNDS} rounds; per 100 MB, median (range):`);
for (const m of modes) {
  const ms = results[m].map((x) => x.ms);
  const cpu = results[m].map((x) => x.cpu);
  const fmt = (xs) => `${Math.round(median(xs))} ms (${Math.round(Math.min(...xs))}–${Math.round(Math.max(...xs))})`;
  console.log(`  ${`client buffers on ${m === 'none' ? 'neither connection' : m === 'receive' ? 'the receiving one' : 'both'}`.padEnd(40)} wall ${fmt(ms)}, CPU ${fmt(cpu)}`);
}
