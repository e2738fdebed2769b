/**
 * Entry point of a worker process, forked by its node (`NodeOptions.workerEntry`). It loads
 * only what runs work: by-value code that uses `ray` gets the public API, loaded then (the
 * whole package: a worker that hosts an actor which never names `ray` stays small), and a
 * user's module that imports raybus loads it itself.
 */
import { slot } from '../core/runtime-state';
import { runWorker } from '../runtimes/worker-runtime';

slot.loadApi = () => (require('../index') as typeof import('../index')).default;
runWorker().catch((err: unknown) => {
  process.stderr.write(`raybus worker failed to start: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
