// An ES module ("type": "module"): code that uses this module's imports is shipped by
// reference, so the workers import this file as the driver did (top-level await included).
import { createHash } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import ray from 'raybus';

export const digest = ray.remote((s: string) => createHash('sha256').update(s).digest('hex').slice(0, 8));
export const usesRay = ray.remote(async (x: number) => (ray.getRuntimeContext().taskId ? x + 1 : -1));

export class Hasher {
  h(s: string): string {
    return createHash('md5').update(s).digest('hex').slice(0, 8);
  }
}
export const HasherActor = ray.remote(Hasher);

async function main(): Promise<void> {
  await ray.init();
  // Made inside main(), which workers never run: only shipping by value can work, also when a
  // TypeScript runner wraps the class and the inner function in `__name(...)` to keep names.
  const TallyActor = ray.remote(
    class Tally {
      n = 0;
      add(k: number): number {
        function twice(v: number): number {
          return 2 * v;
        }
        return (this.n += twice(k));
      }
    },
  );
  const got = {
    digest: await ray.get(digest.remote('a'), { timeoutMs: 30_000 }),
    usesRay: await ray.get(usesRay.remote(1), { timeoutMs: 30_000 }),
    hasher: await ray.get(HasherActor.remote().h.remote('a'), { timeoutMs: 30_000 }),
    tally: await ray.get(TallyActor.remote().add.remote(3), { timeoutMs: 30_000 }),
  };
  console.log(JSON.stringify(got));
  const want = { digest: 'ca978112', usesRay: 2, hasher: '0cc175b9', tally: 6 };
  if (JSON.stringify(got) !== JSON.stringify(want)) throw new Error(`expected ${JSON.stringify(want)}`);
  await ray.shutdown();
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) await main();
