/**
 * Worker side of a runtime env: enter the working directory and import the modules, before
 * the worker takes any work. The env vars were set by the node when it forked the worker.
 * The node learns the outcome from an IPC message (or from the worker's ready frame).
 */
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { RuntimeEnv } from '../protocol/runtime-env';
import { NODE_IMPORTS_VAR } from '../protocol/worker-process';
import { RuntimeEnvSetupError } from '../errors/ray-errors';
import { dynamicImport } from '../serialization/dynamic-code';

export { GPU_IDS_VAR, RUNTIME_ENV_VAR, readWorkerGpuIds, readWorkerRuntimeEnv } from '../protocol/worker-process';


/**
 * Enter `env.workingDir` and import `env.modules` in order. Throws RuntimeEnvSetupError naming
 * the cause (the directory, or the module and its error).
 */
export async function setupRuntimeEnv(env: RuntimeEnv | undefined): Promise<void> {
  await importNodeModules();
  if (!env) return;
  if (env.workingDir !== undefined) {
    try {
      process.chdir(env.workingDir);
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      const why = e.code === 'ENOENT' ? 'does not exist' : e.code === 'ENOTDIR' ? 'is not a directory' : `cannot be entered (${e.message})`;
      throw new RuntimeEnvSetupError(`Failed to set up the runtime env: runtimeEnv.workingDir '${env.workingDir}' ${why}.`, { cause: err });
    }
  }
  for (const [i, spec] of (env.modules ?? []).entries()) {
    try {
      await importModule(spec);
    } catch (err) {
      const msg = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
      throw new RuntimeEnvSetupError(`Failed to set up the runtime env: runtimeEnv.modules[${i}] '${spec}' failed to import: ${msg}`, { cause: err });
    }
  }
}

/** The node's `--import` modules (raybus start), imported by every worker first. */
async function importNodeModules(environ: NodeJS.ProcessEnv = process.env): Promise<void> {
  const raw = environ[NODE_IMPORTS_VAR];
  if (!raw) return;
  for (const spec of JSON.parse(raw) as string[]) {
    try {
      await importModule(spec);
    } catch (err) {
      const msg = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
      throw new RuntimeEnvSetupError(`Failed to set up the worker: the node's --import module '${spec}' failed to import: ${msg}`, { cause: err });
    }
  }
}

/** Import a resolved specifier: a path, a URL, or a package name (from the cwd, then raybus's own). */
async function importModule(spec: string): Promise<void> {
  if (path.isAbsolute(spec)) {
    await dynamicImport(pathToFileURL(spec).href);
    return;
  }
  if (/^[a-zA-Z][a-zA-Z+.-]*:/.test(spec)) {
    await dynamicImport(spec);
    return;
  }
  let resolved: string | undefined;
  try {
    resolved = createRequire(path.join(process.cwd(), 'noop.js')).resolve(spec);
  } catch {
    /* not resolvable as CommonJS from the cwd (or ESM-only): let import() try */
  }
  await dynamicImport(resolved && path.isAbsolute(resolved) ? pathToFileURL(resolved).href : spec);
}
