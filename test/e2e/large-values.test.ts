/**
 * Values of many megabytes on the embedded default, where a value travels in one message of
 * any size (docs/ARCHITECTURE.md, "Values larger than a message"): the cases every bus runs
 * (big-values-cases.ts), and large messages interleaved with small ones on a worker's pipe,
 * which a worker reads straight into the buffer each large message is handed over in.
 */
import { createHash } from 'node:crypto';
import type * as Ray from '../../src/index';
import { declareBigValueCases } from './big-values-cases';

// The built package (jest maps 'raybus' to dist/); see remote-functions.test.ts.
const ray: typeof Ray = require('raybus');

const MB = 1024 * 1024;
const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

beforeAll(async () => {
  await ray.init({ numCpus: 2 });
});

afterAll(async () => {
  await ray.shutdown();
});

declareBigValueCases(ray);

test('large and small tasks and actor calls in flight at once, each with its own bytes', async () => {
  const digest = ray.remote((b: Uint8Array, tag: number) => ({ tag, n: b.length, h: require('node:crypto').createHash('sha256').update(b).digest('hex') as string }));
  const Keeper = ray.remote(
    class Keeper {
      kept: Uint8Array[] = [];
      keep(b: Uint8Array) {
        this.kept.push(b);
        return this.kept.reduce((n, k) => n + k.length, 0);
      }
      total() {
        // Each kept argument is its own bytes: later messages read into the pipe did not
        // overwrite the earlier ones.
        return this.kept.map((k) => require('node:crypto').createHash('sha256').update(k).digest('hex') as string);
      }
    },
  );
  const keeper = Keeper.remote();
  const values = [1, 3 * MB + 7, 10, 2 * MB, 300, 5 * MB + 1, 0].map((n, i) => Buffer.alloc(n, i + 1));
  const results = await ray.get(values.map((v, i) => digest.remote(v, i)), { timeoutMs: 60_000 });
  expect(results).toEqual(values.map((v, i) => ({ tag: i, n: v.length, h: sha(v) })));
  const sizes = await ray.get(values.map((v) => keeper.keep.remote(v)), { timeoutMs: 60_000 });
  expect(sizes[sizes.length - 1]).toBe(values.reduce((n, v) => n + v.length, 0));
  expect(await ray.get(keeper.total.remote(), { timeoutMs: 60_000 })).toEqual(values.map(sha));
}, 120_000);

test('small messages queued in a worker keep their bytes while later reads arrive', async () => {
  // Tasks pipelined to a busy worker wait there, decoded later, while more reads land: each
  // must still hold its own argument.
  const echo = ray.remote((b: Uint8Array) => {
    const until = Date.now() + 1;
    while (Date.now() < until);
    return Buffer.from(b).toString('hex');
  });
  const args = Array.from({ length: 600 }, (_, i) => Buffer.from(`${i}`.padStart(40, '-')));
  const got = await ray.get(args.map((a) => echo.remote(a)), { timeoutMs: 60_000 });
  expect(got).toEqual(args.map((a) => a.toString('hex')));
}, 120_000);

test('a large argument is whole again when its call is retried after its actor’s process was killed (SIGKILL)', async () => {
  const { mkdtempSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const dir = mkdtempSync(join(tmpdir(), 'raybus-large-retry-'));
  try {
    const Fragile = ray.remote(
      class Fragile {
        digestOrDie(b: Uint8Array, marker: string) {
          const fs = require('node:fs');
          if (!fs.existsSync(marker)) {
            fs.writeFileSync(marker, 'died once');
            process.kill(process.pid, 'SIGKILL');
          }
          return { n: b.length, h: require('node:crypto').createHash('sha256').update(b).digest('hex') as string };
        }
      },
    );
    const fragile = Fragile.options({ maxRestarts: 1, maxTaskRetries: 1 }).remote();
    const arg = Buffer.from(Uint8Array.from({ length: 3 * MB + 5 }, (_, i) => (i * 13) & 0xff));
    const got = await ray.get(fragile.digestOrDie.remote(arg, join(dir, 'marker')), { timeoutMs: 60_000 });
    expect(got).toEqual({ n: arg.length, h: sha(arg) });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}, 120_000);
