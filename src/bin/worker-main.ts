/**
 * What a worker process runs, loaded by its entry (worker.ts), from the worker's module pack
 * where it has one. It loads only what runs work: by-value code that uses `ray` gets the
 * public API, loaded then (the whole package: a worker that hosts an actor which never names
 * `ray` stays small), and a user's module that imports raybus loads it itself.
 */
import { slot } from '../core/runtime-state';
import { runWorker } from '../runtimes/worker-runtime';

/** Runs this process as a worker of the node that forked it; settles once it takes work. */
export function startWorker(): Promise<void> {
  slot.loadApi = () => (require('../index') as typeof import('../index')).default;
  return runWorker();
}
