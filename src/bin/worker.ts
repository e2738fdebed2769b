/**
 * Entry point of a worker process, forked by its node (`NodeOptions.workerEntry`). It loads
 * the worker (worker-main.ts) from the worker's module pack when the package has one, with
 * V8's code cache (module-pack.ts), and through Node's `require` otherwise (a build without
 * the pack, options under which a pack stays closed).
 */
import { openModulePack } from './module-pack';
import { WORKER_MAIN, WORKER_PACK_CACHE, WORKER_PACK_MANIFEST, prepareWorkerLoad } from './worker-pack';

/** How long after it started a worker writes a new code cache, where its Node rejected the old one. */
const CACHE_REWRITE_DELAY_MS = 1000;

const pack = openModulePack(WORKER_PACK_MANIFEST, WORKER_PACK_CACHE);
prepareWorkerLoad(pack?.compile, pack?.privateModule);
const main = (pack ? pack.load(WORKER_MAIN, module) : require('./worker-main')) as typeof import('./worker-main');
const rewriteCache = pack?.close();
main.startWorker().then(
  () => {
    // After the start, not during it: making the cache compiles the modules again.
    if (rewriteCache) setTimeout(rewriteCache, CACHE_REWRITE_DELAY_MS).unref();
  },
  (err: unknown) => {
    process.stderr.write(`raybus worker failed to start: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
