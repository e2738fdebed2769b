/**
 * Values of any size on a bus whose messages are limited (docs/ARCHITECTURE.md, "Values
 * larger than a message"): declared inside a cluster suite (cluster-suite.ts), so they run on
 * every bus. A 200 MB `ray.put` read by a task, a 100 MB argument and a 100 MB return value
 * arrive intact (sha256 on both sides); the driver's event loop keeps turning while a worker
 * pulls 200 MB from it; and memory stays bounded — no process holds more than the value, one
 * decoded copy and a few chunks.
 */
import { createHash } from 'node:crypto';
import type * as Ray from '../../src/index';

const MB = 1024 * 1024;

/** `n` bytes of a repeating random-looking pattern (fast to make, not compressible by accident). */
function bytes(n: number, seed: number): Buffer {
  const block = Buffer.alloc(64 * 1024);
  for (let i = 0; i < block.length; i++) block[i] = (i * 2654435761 + seed * 97) >>> 24;
  const out = Buffer.allocUnsafe(n);
  for (let off = 0; off < n; off += block.length) block.copy(out, off, 0, Math.min(block.length, n - off));
  return out;
}

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

/** Declare the cases; `ray` is initialized as a driver of the suite's cluster by then. */
export function declareBigValueCases(ray: typeof Ray): void {
  // By-value code: only its arguments, globals and `require`.
  const digest = ray.remote((b: Uint8Array) => {
    const h = require('node:crypto').createHash('sha256').update(b).digest('hex') as string;
    return { n: b.length, h, rss: process.memoryUsage().rss };
  });
  const make = ray.remote((n: number, seed: number) => {
    const block = Buffer.alloc(64 * 1024);
    for (let i = 0; i < block.length; i++) block[i] = (i * 2654435761 + seed * 97) >>> 24;
    const out = Buffer.allocUnsafe(n);
    for (let off = 0; off < n; off += block.length) block.copy(out, off, 0, Math.min(block.length, n - off));
    return out;
  });

  test('a 200 MB put is read by a task; the driver keeps turning while the worker pulls it', async () => {
    const value = bytes(200 * MB, 1);
    const expected = { n: value.length, h: sha(value) };
    const ref = ray.put(value);
    let last = Date.now();
    let worstLagMs = 0;
    const tick = setInterval(() => {
      const now = Date.now();
      worstLagMs = Math.max(worstLagMs, now - last);
      last = now;
    }, 10);
    const rssBefore = process.memoryUsage().rss;
    let rssPeak = rssBefore;
    const sample = setInterval(() => (rssPeak = Math.max(rssPeak, process.memoryUsage().rss)), 20);
    try {
      const got = await ray.get(digest.remote(ref), { timeoutMs: 180_000 });
      expect({ n: got.n, h: got.h }).toEqual(expected);
      // The worker holds the reassembled bytes and one decoded copy, not a copy per chunk.
      expect(got.rss).toBeLessThan(700 * MB);
    } finally {
      clearInterval(tick);
      clearInterval(sample);
    }
    console.log(`200 MB put pulled by a worker: driver loop lag at most ${worstLagMs} ms, driver RSS +${Math.round((rssPeak - rssBefore) / MB)} MB`);
    // Serving sends chunks of one message each, one per turn: the loop is never held for long.
    expect(worstLagMs).toBeLessThan(2000);
    // The driver sends what it already has (the store's bytes), a few chunks at a time (on
    // RabbitMQ 4 × 16 MiB, each briefly copied by its envelope, its seal and the client's
    // frames: up to ~190 MB of short-lived buffers, freed at the collector's pace): never
    // another copy of the value, which would hold 200 MB more on top of those.
    expect(rssPeak - rssBefore).toBeLessThan(380 * MB);
  }, 240_000);

  test('a 100 MB argument and a 100 MB return value arrive intact, memory bounded', async () => {
    const arg = bytes(100 * MB, 2);
    const got = await ray.get(digest.remote(arg), { timeoutMs: 180_000 });
    expect({ n: got.n, h: got.h }).toEqual({ n: arg.length, h: sha(arg) });
    expect(got.rss).toBeLessThan(600 * MB);
    const rssBefore = process.memoryUsage().rss;
    const ret = (await ray.get(make.remote(100 * MB, 3), { timeoutMs: 180_000 })) as Uint8Array;
    const rssAfter = process.memoryUsage().rss;
    expect(ret.length).toBe(100 * MB);
    expect(sha(ret)).toBe(sha(bytes(100 * MB, 3)));
    console.log(`100 MB return value: driver RSS +${Math.round((rssAfter - rssBefore) / MB)} MB`);
    // The reassembled bytes (in the store) and the decoded value: about two copies.
    expect(rssAfter - rssBefore).toBeLessThan(350 * MB);
  }, 240_000);
}
