/**
 * The worker's module pack (module-pack.ts): its files, beside the worker entry, written by
 * the build (scripts/build.mjs), and what a process does before loading the worker from it.
 */
import * as path from 'node:path';
import { configurePrivateMsgpackr } from '../serialization/msgpackr-instance';
import type { ModulePack, WrapperCompiler } from './module-pack';

/** The manifest: the modules the worker loads at start. */
export const WORKER_PACK_MANIFEST = path.join(__dirname, 'worker-pack.json');
/**
 * Their code cache. In the package's own folder, never a shared one (where someone else could
 * put code there for the worker to run); rewritten by a worker whose Node rejects it.
 */
export const WORKER_PACK_CACHE = path.join(__dirname, 'worker-pack.cache');
/** The module the entry loads through the pack (the rest follows from its requires). */
export const WORKER_MAIN = path.join(__dirname, 'worker-main.js');

/**
 * Before loading the worker: the private msgpackr (made while the worker loads) takes its code
 * from the pack too, and decodes strings in JavaScript. Its native decoder (msgpackr-extract)
 * would cost each worker 5-10 ms of CPU and ~1.5 MB at start, for no gain on the usual messages
 * (a few strings) or on large strings; it decodes messages of thousands of short strings
 * faster (~17 ns a string). The build calls this as the entry does, to record and cache the
 * same.
 */
export function prepareWorkerLoad(compile: WrapperCompiler | undefined, privateModule?: ModulePack['privateModule']): void {
  configurePrivateMsgpackr({
    ...(compile ? { compile } : {}),
    ...(privateModule ? { locate: () => privateModule(MSGPACKR_INSTANCE, 'msgpackr') } : {}),
    native: false,
  });
}

/** The module that requires msgpackr (its private instance). */
const MSGPACKR_INSTANCE = path.join(__dirname, '..', 'serialization', 'msgpackr-instance.js');
