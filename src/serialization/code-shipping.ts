/**
 * How code reaches workers (docs/ARCHITECTURE.md, "Code shipping"). A function or class that only uses its arguments,
 * globals, `ray` and `require` is shipped by value (its source). Anything else is shipped by
 * reference: the module that called `remote()` is recorded and the worker imports it, which
 * re-runs that module's top-level `remote()` calls and so registers the same code under the
 * same id.
 *
 * That id must not depend on how a loader compiled the module (tsx emits different text for an
 * ES module and for CommonJS, esbuild and tsc differ again): it is made of the module's real
 * path, a hash of the file as written, the kind and name of the code, and how many code items
 * of that kind and name the module registered before.
 */
import { nodeCrypto } from '../util/node-crypto';
import { readFileSync, realpathSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import type * as Acorn from 'acorn';
import type * as EslintScope from 'eslint-scope';
import type { CodeDescriptor } from '../protocol/wire';
import { REQUIRE_SIGNED_CODE_VAR } from '../protocol/worker-process';
import { packageRoot } from '../util/package-info';
import { processGlobal } from '../util/process-global';
import { explainImportFailure, importUserModule, type RequireFn } from './module-loader';
import { functionOf } from './dynamic-code';

/**
 * Names every by-value function may use besides globals. `__name` is the helper TypeScript
 * runners (tsx, esbuild's keepNames) wrap functions and classes in to keep their names; by-value
 * code gets a shim of it.
 */
const INJECTED = new Set(['ray', 'require', '__name', 'arguments', 'undefined', 'globalThis']);

/** esbuild's `__name`: sets a function's name, returns it. */
const nameShim = (target: object, value: string): object => Object.defineProperty(target, 'name', { value, configurable: true });

export type { CodeDescriptor } from '../protocol/wire';

// ------------------------------------------------------------------ who may ship code

export { REQUIRE_SIGNED_CODE_VAR } from '../protocol/worker-process';

/** Where the descriptor being loaded came from. */
export interface CodeOrigin {
  /**
   * It arrived in a message the node opened with the cluster key (transport/auth-transport.ts),
   * which covers the whole message: the code, the arguments and the task it came with.
   */
  readonly authenticated: boolean;
}

/** What a worker said at start (requireSignedCode); undefined: RAYBUS_REQUIRE_SIGNED_CODE, read at each load. */
let requireSigned: boolean | undefined;

/**
 * A worker says once, at start, whether its node authenticates its bus (its environment says
 * so and does not change), so that loading a task's code reads no environment variable.
 */
export function requireSignedCode(required: boolean): void {
  requireSigned = required;
}

/**
 * Throws CodeLoadError when this worker's node authenticates its bus (RAYBUS_REQUIRE_SIGNED_CODE=1)
 * and the descriptor did not come in an authenticated message: by value or by reference, code
 * is loaded only on the word of a cluster key holder.
 */
function checkOrigin(desc: CodeDescriptor, origin: CodeOrigin): void {
  if (origin.authenticated || !(requireSigned ?? process.env[REQUIRE_SIGNED_CODE_VAR] === '1')) return;
  throw new CodeLoadError(
    `raybus: refused to load ${desc.kind} '${desc.name}': it did not come in a message authenticated with the cluster key. ` +
      'Drivers and nodes must share one cluster key: init({ clusterKey }) or RAYBUS_CLUSTER_KEY on the driver, raybus start --cluster-key-file on the nodes.',
  );
}

type Code = (...args: never[]) => unknown;

/**
 * Code registered in this process, by id. Shared by every copy of raybus loaded here: a node's
 * worker may run raybus from another install than the one the user's module imports.
 */
const registry = processGlobal('codeRegistry', () => new Map<string, Code>());

/** Per module: the ids given so far, by kind, name and source (the same code keeps its id). */
interface ModuleRegistrations {
  readonly file: string;
  readonly digest: string;
  readonly ids: Map<string, string>;
  readonly counts: Map<string, number>;
}
const modules = processGlobal('codeModules', () => new Map<string, ModuleRegistrations>());

/**
 * The raybus package root (from src/serialization or dist/cjs/src/serialization). Frames in
 * its src/, dist/ and adapters/ are raybus's own — also when a test runner maps stack traces
 * of the built files back to their TypeScript sources.
 */
const PACKAGE_ROOT = packageRoot();
const OWN_DIRS = ['src', 'dist', 'adapters'].map((d) => path.join(PACKAGE_ROOT, d) + path.sep);


interface CallSite {
  getFileName(): string | null | undefined;
}

/**
 * The file of the first stack frame outside raybus itself: the module calling `remote()`. The
 * file is the one Node loaded (call sites, not the printed stack: `--enable-source-maps` would
 * name the TypeScript source of a compiled file).
 */
export function callerModule(): string | undefined {
  const holder: { stack?: unknown } = {};
  const limit = Error.stackTraceLimit;
  const prepare = Error.prepareStackTrace;
  Error.stackTraceLimit = 30;
  Error.prepareStackTrace = (_err, sites) => sites;
  try {
    Error.captureStackTrace(holder, callerModule);
    // Read while the override is in place: the stack is formatted on first access.
    return firstUserFile(Array.isArray(holder.stack) ? (holder.stack as CallSite[]) : []);
  } finally {
    Error.prepareStackTrace = prepare;
    Error.stackTraceLimit = limit;
  }
}

function firstUserFile(sites: CallSite[]): string | undefined {
  for (const site of sites) {
    let file = site.getFileName() ?? '';
    if (!file || file.startsWith('node:') || file.startsWith('internal/')) continue;
    if (file.startsWith('file://')) file = fileURLToPath(file);
    if (!path.isAbsolute(file)) continue;
    if (OWN_DIRS.some((d) => file.startsWith(d))) continue;
    if (file.includes(`${path.sep}node_modules${path.sep}raybus${path.sep}`)) continue;
    return file;
  }
  return undefined;
}


/** The parser, loaded by the first `remote()` of a process: workers that only run code never do. */
let parser: { acorn: typeof Acorn; eslintScope: typeof EslintScope } | undefined;

/** Free (unresolved) identifiers of a function or class source, or undefined if unparsable. */
export function freeNames(source: string): string[] | undefined {
  const { acorn, eslintScope } = (parser ??= { acorn: require('acorn') as typeof Acorn, eslintScope: require('eslint-scope') as typeof EslintScope });
  let ast: Acorn.Node | undefined;
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
 * `describeCode` at the first call of the function returned; `target` is registered under
 * its place in `module` now. A worker that imports a user's module (to find code shipped by
 * reference) registers what the module defines that way, and finds it by that id; only code
 * the worker itself submits needs describing, and with it the parser (acorn and eslint-scope,
 * about 2 MB of a worker's RSS).
 */
export function describeCodeLater(target: Code, kind: 'function' | 'class', module: string | undefined): () => CodeDescriptor {
  if (module) {
    const positional = positionalId(module, kind, target.name || 'anonymous', Function.prototype.toString.call(target));
    if (!registry.has(positional)) registry.set(positional, target);
  }
  let desc: CodeDescriptor | undefined;
  // The module found at definition, even none (describeCode would look at the caller now).
  return () => (desc ??= describeIn(target, kind, module));
}

/**
 * Describe `target` for shipping, register it locally under its id, and decide by value or
 * by reference.
 */
export function describeCode(target: Code, kind: 'function' | 'class', module = callerModule()): CodeDescriptor {
  return describeIn(target, kind, module);
}

function describeIn(target: Code, kind: 'function' | 'class', module: string | undefined): CodeDescriptor {
  const source = Function.prototype.toString.call(target);
  const name = target.name || 'anonymous';
  const positional = module ? positionalId(module, kind, name, source) : undefined;
  if (positional && !registry.has(positional)) registry.set(positional, target);
  const free = source.includes('[native code]') ? undefined : freeNames(source);
  const byValue = free !== undefined && free.every(isAvailableGlobal) && (kind !== 'class' || prototypeInSource(target, source));
  if (byValue || !positional) {
    // By value the source travels, so the id is its hash (the worker rebuilds it from that).
    const id = sha1(`${module ?? ''}\0${kind}\0${source}`);
    if (!registry.has(id)) registry.set(id, target);
    if (!byValue) return { id, name, kind, ...(free ? { freeNames: free.filter((n) => !isAvailableGlobal(n)) } : {}) };
    return { id, name, kind, source, ...(module ? { module } : {}) };
  }
  return { id: positional, name, kind, module: module!, ...(free ? { freeNames: free.filter((n) => !isAvailableGlobal(n)) } : {}) };
}

function sha1(text: string): string {
  return nodeCrypto().createHash('sha1').update(text).digest('hex').slice(0, 24);
}

/**
 * The loader-independent id of code registered by `module`: its real path, the hash of the
 * file as written, kind, name, and the count of earlier registrations of that kind and name
 * in the module. The same code registered again keeps its id.
 */
function positionalId(module: string, kind: string, name: string, source: string): string {
  let m = modules.get(module);
  if (!m) {
    const file = realpathOr(module);
    m = { file, digest: fileDigest(file), ids: new Map(), counts: new Map() };
    modules.set(module, m);
  }
  const same = `${kind}\0${name}\0${source}`;
  const known = m.ids.get(same);
  if (known) return known;
  const slot = `${kind}\0${name}`;
  const n = m.counts.get(slot) ?? 0;
  m.counts.set(slot, n + 1);
  const id = sha1(`${m.file}\0${m.digest}\0${slot}\0${n}`);
  m.ids.set(same, id);
  return id;
}

function realpathOr(module: string): string {
  try {
    return realpathSync(module.startsWith('file:') ? fileURLToPath(module) : module);
  } catch {
    return module;
  }
}

/** A hash of the module's file as written (a node with a different version gets other ids). */
function fileDigest(file: string): string {
  try {
    return nodeCrypto().createHash('sha1').update(readFileSync(file)).digest('hex');
  } catch {
    return '';
  }
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

/**
 * Find code registered in this process by id (set by `describeCode`).
 * @public for tests, which load this module afresh per case
 */
export function lookupRegistered(id: string): ((...args: never[]) => unknown) | undefined {
  return registry.get(id);
}

/** Thrown when a worker cannot load the code of a task or actor. */
class CodeLoadError extends Error {
  override name = 'CodeLoadError';
}

/**
 * Load the code a descriptor names, in a worker. `scope` supplies `ray` and `require` to
 * by-value code; `origin` says whether the message it came in was authenticated.
 */
export async function loadCode(desc: CodeDescriptor, scope: { ray: unknown; require: RequireFn }, origin: CodeOrigin = { authenticated: false }): Promise<Code> {
  checkOrigin(desc, origin);
  const known = registry.get(desc.id);
  if (known) return known;
  if (desc.source !== undefined) {
    try {
      const factory = functionOf<(r: unknown, q: RequireFn, n: typeof nameShim) => Code>(['ray', 'require', '__name'], `return (${desc.source}\n);`);
      const fn = factory(scope.ray, scope.require, nameShim);
      registry.set(desc.id, fn);
      return fn;
    } catch (err) {
      throw new CodeLoadError(`raybus: could not rebuild ${desc.kind} '${desc.name}' from its source: ${(err as Error).message}`);
    }
  }
  const uses = desc.freeNames?.length ? `; it uses ${desc.freeNames.map((n) => `'${n}'`).join(', ')} from its module` : '';
  const fix =
    `Fix: call ray.remote() at the top level of that module and guard the module's main code ` +
    `(CommonJS: \`if (require.main === module) main()\`; ES module: ` +
    `\`if (import.meta.url === pathToFileURL(process.argv[1]).href) await main()\`), ` +
    `or make the ${desc.kind} self-contained (use only its arguments, globals, \`ray\` and \`require\`)${uses}`;
  if (!desc.module) {
    throw new CodeLoadError(`raybus: cannot load ${desc.kind} '${desc.name}': its defining module is unknown. ${fix}`);
  }
  const before = modules.has(desc.module);
  try {
    await importUserModule(desc.module, scope.require);
  } catch (err) {
    throw new CodeLoadError(
      `raybus: cannot load ${desc.kind} '${desc.name}': importing its module ${desc.module} failed in the worker: ${explainImportFailure(desc.module, err)}`,
    );
  }
  const fn = registry.get(desc.id);
  if (!fn) {
    const changed = before
      ? ` This worker had imported ${desc.module} before: if the file changed since, restart the nodes (or the driver) so that workers load the new version.`
      : '';
    throw new CodeLoadError(`raybus: ${desc.kind} '${desc.name}' was not registered when the worker imported ${desc.module}.${changed} ${fix}`);
  }
  return fn;
}
