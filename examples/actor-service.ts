// A service built as actors: a gateway actor spreads requests over a pool of worker actors,
// and every worker caches results in one named key-value actor that it finds by name.
// Run with tsx (`npx tsx examples/actor-service.ts`), or compile it with tsc and run it with node.
import { createHash } from 'node:crypto';
import ray, { type ActorHandle } from 'raybus';

/** The shared cache: a named, detached-free key-value actor. */
export class KvStore {
  private readonly data = new Map<string, string>();
  get(key: string): string | undefined {
    return this.data.get(key);
  }
  set(key: string, value: string): number {
    this.data.set(key, value);
    return this.data.size;
  }
}

/** A worker: hashes its input, using the cache it looks up by name. */
export class Hasher {
  private kv?: ActorHandle<KvStore>;
  async digest(input: string): Promise<{ digest: string; cached: boolean }> {
    this.kv ??= (await ray.getActor('kv')) as ActorHandle<KvStore>;
    const known = await ray.get(this.kv.get.remote(input));
    if (known !== undefined) return { digest: known, cached: true };
    const digest = createHash('sha256').update(input).digest('hex').slice(0, 16);
    await ray.get(this.kv.set.remote(input, digest));
    return { digest, cached: false };
  }
}

/** The front door: round-robins requests over its workers. */
export class Gateway {
  private next = 0;
  constructor(private readonly workers: ActorHandle<Hasher>[]) {}
  async handle(input: string): Promise<{ digest: string; cached: boolean }> {
    const worker = this.workers[this.next++ % this.workers.length]!;
    return ray.get(worker.digest.remote(input));
  }
}

// Actor classes are declared at the top level, so workers that import this module find them.
const KvActor = ray.remote(KvStore);
const HasherActor = ray.remote(Hasher);
const GatewayActor = ray.remote(Gateway);

async function main(): Promise<void> {
  await ray.init();
  // The driver keeps the store's handle: a (non-detached) actor lives while a handle to it
  // does, and the workers' handles from getActor do not count.
  const kv = KvActor.options({ name: 'kv', numCpus: 0 }).remote();
  const pool = [0, 1, 2].map(() => HasherActor.options({ numCpus: 0 }).remote());
  const gateway = GatewayActor.options({ numCpus: 0 }).remote(pool);
  const inputs = ['alpha', 'beta', 'gamma', 'alpha', 'beta', 'delta'];
  const answers: Array<{ digest: string; cached: boolean }> = [];
  // One at a time: the second 'alpha' is then surely served from the cache.
  for (const input of inputs) answers.push(await ray.get(gateway.handle.remote(input)));
  inputs.forEach((input, i) => console.log(`${input.padEnd(6)} -> ${answers[i]!.digest}${answers[i]!.cached ? ' (cached)' : ''}`));
  if (!answers[3]!.cached || answers[3]!.digest !== answers[0]!.digest) throw new Error('the cache did not serve the repeated request');
  if (answers.filter((a) => a.cached).length !== 2) throw new Error('expected exactly two cached answers');
  if ((await ray.get(kv.get.remote('alpha'))) !== answers[0]!.digest) throw new Error('the cache does not hold the first answer');
  await ray.shutdown();
}

// Run only as the main module (workers import this file to find the actor classes).
if (process.argv[1] && /actor-service\.(ts|js|mjs|cjs)$/.test(process.argv[1])) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
