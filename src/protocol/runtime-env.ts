/**
 * The effective runtime env of a task or actor as it travels (Ray's runtime_env): merged
 * over the parent's (the job's on a driver, the worker's own inside a worker), paths resolved
 * against the submitter's working directory, canonical, and keyed for worker pools.
 */
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import * as path from 'node:path';

/** A normalized runtime environment (camelCase keys only, frozen). */
export interface RuntimeEnv {
  /** Environment variables set in the worker process (string values only). */
  readonly envVars?: Readonly<Record<string, string>>;
  /** The worker's working directory. */
  readonly workingDir?: string;
  /** Package names or file paths imported before user code runs (relative paths resolve against the driver's cwd). */
  readonly modules?: readonly string[];
}

/**
 * The effective runtime env of a task or actor: `taskLevel` fields override `jobLevel`
 * fields one by one; `envVars` merge key by key with the task winning.
 *
 * @example
 * mergeRuntimeEnv({ envVars: { A: 'a', B: 'b' }, workingDir: '/job' }, { envVars: { B: 'new' } });
 * // → { envVars: { A: 'a', B: 'new' }, workingDir: '/job' }
 */
export function mergeRuntimeEnv(
  jobLevel: RuntimeEnv | null | undefined,
  taskLevel: RuntimeEnv | null | undefined,
): RuntimeEnv {
  const job = jobLevel ?? {};
  const task = taskLevel ?? {};
  const merged: { -readonly [K in keyof RuntimeEnv]: RuntimeEnv[K] } = { ...job, ...task };
  if (job.envVars !== undefined && task.envVars !== undefined) {
    merged.envVars = Object.freeze({ ...job.envVars, ...task.envVars });
  }
  return Object.freeze(merged);
}

/** Pool key of the default env (no env vars, no working dir, no modules). */
export const DEFAULT_ENV_KEY = '';

/** An effective env and its pool key. */
export interface EffectiveRuntimeEnv {
  readonly env: RuntimeEnv;
  readonly key: string;
}

/**
 * Canonical form: empty fields dropped, env vars sorted by name, module order kept (it is the
 * import order). Returns undefined for the default env.
 *
 * @example
 * canonicalRuntimeEnv({ envVars: { B: '2', A: '1' }, modules: [] }); // { envVars: { A: '1', B: '2' } }
 */
export function canonicalRuntimeEnv(env: RuntimeEnv | null | undefined): RuntimeEnv | undefined {
  if (!env) return undefined;
  const out: { -readonly [K in keyof RuntimeEnv]: RuntimeEnv[K] } = {};
  const names = env.envVars ? Object.keys(env.envVars).sort() : [];
  if (names.length > 0) out.envVars = Object.freeze(Object.fromEntries(names.map((n) => [n, env.envVars![n]!])));
  if (env.workingDir !== undefined && env.workingDir !== '') out.workingDir = env.workingDir;
  if (env.modules && env.modules.length > 0) out.modules = Object.freeze([...env.modules]);
  return Object.keys(out).length === 0 ? undefined : Object.freeze(out);
}

/**
 * The worker-pool key of an env: sha1 of its canonical JSON, or {@link DEFAULT_ENV_KEY}.
 * Equal envs written in any key order get the same key.
 */
export function runtimeEnvKey(env: RuntimeEnv | null | undefined): string {
  const c = canonicalRuntimeEnv(env);
  if (!c) return DEFAULT_ENV_KEY;
  // Fixed field order; envVars are already sorted by canonicalRuntimeEnv.
  const json = JSON.stringify([c.envVars ?? null, c.workingDir ?? null, c.modules ?? null]);
  return createHash('sha1').update(json).digest('hex');
}

/** Is this specifier a path relative to the submitter (`./x`, `../x`, `.`, `..`)? */
function isRelativePath(spec: string): boolean {
  return spec === '.' || spec === '..' || /^\.\.?[\\/]/.test(spec);
}

/**
 * Resolve a `modules` entry at submission: relative paths against `cwd`; package names from
 * the working dir, then `cwd` (left as written when neither can resolve them: the worker
 * tries again). Absolute paths, `file:` / `node:` URLs and builtins stay as they are.
 */
export function resolveModuleSpecifier(spec: string, cwd: string, workingDir?: string): string {
  if (isRelativePath(spec)) return path.resolve(cwd, spec);
  if (path.isAbsolute(spec) || /^[a-zA-Z][a-zA-Z+.-]*:/.test(spec)) return spec;
  for (const base of workingDir ? [workingDir, cwd] : [cwd]) {
    try {
      return createRequire(path.join(base, 'noop.js')).resolve(spec);
    } catch {
      /* not resolvable from here: try the next base */
    }
  }
  return spec;
}

/** Resolve an env's paths against the submitter's `cwd` (workingDir and module specifiers). */
export function resolveRuntimeEnvPaths(env: RuntimeEnv, cwd: string): RuntimeEnv {
  const workingDir = env.workingDir !== undefined ? path.resolve(cwd, env.workingDir) : undefined;
  return {
    ...(env.envVars ? { envVars: env.envVars } : {}),
    ...(workingDir !== undefined ? { workingDir } : {}),
    ...(env.modules ? { modules: env.modules.map((m) => resolveModuleSpecifier(m, cwd, workingDir)) } : {}),
  };
}

interface CacheEntry {
  readonly cwd: string;
  readonly result: EffectiveRuntimeEnv | undefined;
}

const NONE = {};
const cache = new WeakMap<object, WeakMap<object, CacheEntry>>();

/**
 * The effective env of work submitted now: `own` (the task's or actor's `runtimeEnv` option)
 * merged over `parent` (the job's env on a driver, the worker's env inside a worker; as Ray's
 * "Runtime Environments" docs: fields override, `envVars` merge key by key), paths resolved
 * against `cwd`, canonical.
 * Undefined for the default env. Cached per (own, parent, cwd), so repeated submissions of one
 * remote function do no file-system work.
 */
export function effectiveRuntimeEnv(
  parent: RuntimeEnv | null | undefined,
  own: RuntimeEnv | null | undefined,
  cwd: string = process.cwd(),
): EffectiveRuntimeEnv | undefined {
  if (!parent && !own) return undefined;
  let byParent = cache.get(own ?? NONE);
  if (!byParent) cache.set(own ?? NONE, (byParent = new WeakMap()));
  const hit = byParent.get(parent ?? NONE);
  if (hit && hit.cwd === cwd) return hit.result;
  const env = canonicalRuntimeEnv(resolveRuntimeEnvPaths(mergeRuntimeEnv(parent, own), cwd));
  const result = env ? { env, key: runtimeEnvKey(env) } : undefined;
  byParent.set(parent ?? NONE, { cwd, result });
  return result;
}
