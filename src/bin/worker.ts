/**
 * Entry point of a worker process, forked by its node (`NodeOptions.workerEntry`). By-value
 * code sees the public API as `ray`: the whole package is loaded for it, here, at the top.
 */
import ray from '../index';
import { slot } from '../core/runtime-state';
import { runWorker } from '../runtimes/worker-runtime';

slot.api = ray;
runWorker().catch((err: unknown) => {
  process.stderr.write(`raybus worker failed to start: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
