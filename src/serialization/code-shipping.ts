/**
 * How code reaches workers (docs/ARCHITECTURE.md, "Code shipping"). A function or class that only uses its arguments,
 * globals, `ray` and `require` is shipped by value (its source). Anything else is shipped by
 * reference: the module that called `remote()` is recorded and the worker imports it, which
 * re-runs that module's top-level `remote()` calls and so registers the same code under the
 * same id.
 */
import { createHash } from 'node:crypto';
import * as path from 'node:path';
import { pathToFileURL, fileURLToPath } from 'node:url';
import * as acorn from 'acorn';
import * as eslintScope from 'eslint-scope';
import type { CodeDescriptor } from '../protocol/wire';
import { REQUIRE_SIGNED_CODE_VAR } from '../protocol/worker-process';
import { packageRoot } from '../util/package-info';

/** Names every by-value function may use besides globals. */
const INJECTED = new Set(['ray', 'require', 'arguments', 'undefined', 'globalThis']);

export type { CodeDescriptor } from '../protocol/wire';

// ------------------------------------------------------------------ who may ship code

export { CLUSTER_KEY_VAR, REQUIRE_SIGNED_CODE_VAR } from '../protocol/worker-process';

/** Where the descriptor being loaded came from. */
export interface CodeOrigin {
  /**
   * It arrived in a message the node opened with the cluster key (transport/auth-transport.ts),
   * which covers the whole message: the code, the arguments and the task it came with.
   */
  readonly authenticated: boolean;
}

/**
 * Throws CodeLoadError when this worker's node authenticates its bus (RAYBUS_REQUIRE_SIGNED_CODE=1)
 * and the descriptor did not come in an authenticated message: by value or by reference, code
 * is loaded only on the word of a cluster key holder.
 */
function checkOrigin(desc: CodeDescriptor, origin: CodeOrigin): void {
  if (process.env[REQUIRE_SIGNED_CODE_VAR] !== '1' || origin.authenticated) return;
  throw new CodeLoadError(
    `raybus: refused to load ${desc.kind} '${desc.name}': it did not come in a message authenticated with the cluster key. ` +
      'Drivers and nodes must share one cluster key: init({ clusterKey }) or RAYBUS_CLUSTER_KEY on the driver, raybus start --cluster-key-file on the nodes.',
  );
}

/**
 * A real dynamic `import()`: the CommonJS build would otherwise compile `import()` into
 * `require()`, which cannot load ES modules.
 */
const dynamicImport = new Function('specifier', 'return import(specifier)') as (specifier: string) => Promise<unknown>;

const registry = new Map<string, (...args: never[]) => unknown>();

/**
 * The raybus package root (from src/serialization or dist/cjs/src/serialization). Frames in
 * its src/, dist/ and adapters/ are raybus's own — also when a test runner maps stack traces
 * of the built files back to their TypeScript sources.
 */
const PACKAGE_ROOT = packageRoot();
const OWN_DIRS = ['src', 'dist', 'adapters'].map((d) => path.join(PACKAGE_ROOT, d) + path.sep);


/** The file of the first stack frame outside raybus itself: the module calling `remote()`. */
export function callerModule(): string | undefined {
  const holder: { stack?: string } = {};
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 30;
  Error.captureStackTrace(holder, callerModule);
  Error.stackTraceLimit = limit;
  for (const line of (holder.stack ?? '').split('\n').slice(1)) {
    const m = /\(?((?:file:\/\/)?[^()\s]+?):\d+:\d+\)?\s*$/.exec(line.trim());
    if (!m) continue;
    let file = m[1]!;
    if (file.startsWith('node:') || file.startsWith('internal/')) continue;
    if (file.startsWith('file://')) file = fileURLToPath(file);
    if (!path.isAbsolute(file)) continue;
    if (OWN_DIRS.some((d) => file.startsWith(d))) continue;
    if (file.includes(`${path.sep}node_modules${path.sep}raybus${path.sep}`)) continue;
    return file;
  }
  return undefined;
}


/** Free (unresolved) identifiers of a function or class source, or undefined if unparsable. */
export function freeNames(source: string): string[] | undefined {
  let ast: acorn.Node | undefined;
  for (const wrapped of [`(${source}\n)`, `({${source}\n})`]) {
    try {
      ast = acorn.parse(wrapped, { ecmaVersion: 'latest', sourceType: 'script', ranges: true });
      break;
    } catch {
      /* try the next shape */
    }
  }
  if (!ast) return undefined;
  const manager = eslintScope.analyze(ast as never, { ecmaVersion: 2022 as never, sourceType: 'script' });
  const names = new Set<string>();
  for (const ref of manager.globalScope!.through) names.add(ref.identifier.name);
  return [...names];
}

function isAvailableGlobal(name: string): boolean {
  return INJECTED.has(name) || name in globalThis;
}

/**
 * Describe `target` for shipping, register it locally under its id, and decide by value or
 * by reference.
 */
export function describeCode(target: (...args: never[]) => unknown, kind: 'function' | 'class', module = callerModule()): CodeDescriptor {
  const source = Function.prototype.toString.call(target);
  const name = target.name || 'anonymous';
  const id = createHash('sha1').update(`${module ?? ''}\0${kind}\0${source}`).digest('hex').slice(0, 24);
  if (!registry.has(id)) registry.set(id, target);
  const free = source.includes('[native code]') ? undefined : freeNames(source);
  const byValue = free !== undefined && free.every(isAvailableGlobal) && (kind !== 'class' || prototypeInSource(target, source));
  if (byValue) return { id, name, kind, source, ...(module ? { module } : {}) };
  return { id, name, kind, ...(module ? { module } : {}), ...(free ? { freeNames: free.filter((n) => !isAvailableGlobal(n)) } : {}) };
}

/** True when every method on the class's prototype is written inside its source text. */
function prototypeInSource(cls: (...args: never[]) => unknown, source: string): boolean {
  const proto = (cls as unknown as { prototype?: object }).prototype;
  if (!proto) return true;
  for (const key of Object.getOwnPropertyNames(proto)) {
    if (key === 'constructor') continue;
    const d = Object.getOwnPropertyDescriptor(proto, key);
    const fn = d?.value ?? d?.get ?? d?.set;
    if (typeof fn === 'function' && !source.includes(Function.prototype.toString.call(fn))) return false;
  }
  return true;
}

/** Find code registered in this process by id (set by `describeCode`). */
export function lookupRegistered(id: string): ((...args: never[]) => unknown) | undefined {
  return registry.get(id);
}

/** Thrown when a worker cannot load the code of a task or actor. */
export class CodeLoadError extends Error {
  override name = 'CodeLoadError';
}

/**
 * Load the code a descriptor names, in a worker. `scope` supplies `ray` and `require` to
 * by-value code; `origin` says whether the message it came in was authenticated.
 */
export async function loadCode(desc: CodeDescriptor, scope: { ray: unknown; require: NodeRequire }, origin: CodeOrigin = { authenticated: false }): Promise<(...args: never[]) => unknown> {
  checkOrigin(desc, origin);
  const known = registry.get(desc.id);
  if (known) return known;
  if (desc.source !== undefined) {
    try {
      const factory = new Function('ray', 'require', `return (${desc.source}\n);`) as (r: unknown, q: NodeRequire) => (...a: never[]) => unknown;
      const fn = factory(scope.ray, scope.require);
      registry.set(desc.id, fn);
      return fn;
    } catch (err) {
      throw new CodeLoadError(`raybus: could not rebuild ${desc.kind} '${desc.name}' from its source: ${(err as Error).message}`);
    }
  }
  const fix =
    `Fix: call ray.remote() at the top level of that module and guard the module's main code ` +
    `(CommonJS: \`if (require.main === module) main()\`; ESM: compare import.meta.url with process.argv[1]), ` +
    `or make the ${desc.kind} self-contained (use only its arguments, globals, \`ray\` and \`require\`)` +
    (desc.freeNames?.length ? `; it uses ${desc.freeNames.map((n) => `'${n}'`).join(', ')} from its module` : '');
  if (!desc.module) {
    throw new CodeLoadError(`raybus: cannot load ${desc.kind} '${desc.name}': its defining module is unknown. ${fix}`);
  }
  try {
    const spec = desc.module.startsWith('file:') ? desc.module : pathToFileURL(desc.module).href;
    if (/\.[cm]?js$/.test(desc.module) || desc.module.startsWith('file:')) await dynamicImport(spec);
    else require(desc.module);
  } catch (err) {
    throw new CodeLoadError(
      `raybus: cannot load ${desc.kind} '${desc.name}': importing its module ${desc.module} failed in the worker: ${(err as Error).message}. ${fix}`,
    );
  }
  const fn = registry.get(desc.id);
  if (!fn) {
    throw new CodeLoadError(`raybus: ${desc.kind} '${desc.name}' was not registered when the worker imported ${desc.module}. ${fix}`);
  }
  return fn;
}
