/**
 * User error classes across processes. An error a task throws travels as data (error-codec.ts);
 * when its class is exported by a module that defines remote code (the module of the task, or
 * one it requires directly), it travels with that identity — `[module, export name]` — and
 * the caller rebuilds it as an instance of the same class, found in the same module loaded in
 * its own process (Ray's `RayTaskError(<Cause>)` is an instance of the cause's class too).
 *
 * Modules are found in the CommonJS module cache (TypeScript compiled to CommonJS, `tsx` on a
 * CommonJS package, plain `.cjs`/`.js`), or, for an ES module, through its namespace: `import()`
 * of a module already loaded (or loading: it is the one calling `remote()`) returns it without
 * running it again. An ES module's own exports are searched, not those of modules it imports.
 * Where the class cannot be found on either side the error is rebuilt as before: a plain Error
 * with the same name, message, stack and fields.
 */
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dynamicImport } from './dynamic-code';

/** Where a class comes from: the module file and the name it is exported under. */
export type ClassOrigin = [module: string, exportName: string];

/** Modules that defined remote code in this process (they are loaded here). */
const codeModules = new Set<string>();
/** Namespaces of those that are ES modules, once `import()` returned them. */
const esModules = new Map<string, Record<string, unknown>>();
/** Origins already looked up, by class. */
const origins = new WeakMap<object, ClassOrigin | null>();
/** Modules searched for one class at most (their children included). */
const MAX_MODULES_SEARCHED = 64;

type CachedModule = { exports?: unknown; children?: CachedModule[]; filename?: string };

/** A module that called `remote()` here: its exported error classes can travel by identity. */
export function noteCodeModule(module: string | undefined): void {
  if (!module) return;
  const file = module.startsWith('file:') ? fileURLToPath(module) : module;
  if (codeModules.has(file)) return;
  codeModules.add(file);
  // Not a CommonJS module (those are cached before they run): an ES module, loaded or loading.
  if (!moduleCache()[file]) {
    dynamicImport(pathToFileURL(file).href).then(
      (ns) => esModules.set(file, ns as Record<string, unknown>),
      () => undefined,
    );
  }
}

function moduleCache(): Record<string, CachedModule | undefined> {
  return (typeof require === 'function' ? (require.cache as Record<string, CachedModule | undefined>) : undefined) ?? {};
}

/**
 * The namespace `import()` gave for module `file` (a worker's module loader): its classes are
 * found at once, before the `import()` of `noteCodeModule` has settled.
 */
export function noteModuleNamespace(file: string, ns: unknown): void {
  if (typeof ns === 'object' && ns !== null && !moduleCache()[file]) esModules.set(file, ns as Record<string, unknown>);
}

/** The exports of `file`, if it is loaded here (an ES module's namespace, or CommonJS exports). */
function exportsOf(file: string): Record<string, unknown> | undefined {
  const esm = esModules.get(file);
  if (esm) return esm;
  const exp = moduleCache()[file]?.exports;
  return typeof exp === 'object' && exp !== null ? (exp as Record<string, unknown>) : typeof exp === 'function' ? { default: exp } : undefined;
}

/** The module of remote code, then the modules each of them required (one level). */
function* searchedModules(): Generator<string> {
  let n = 0;
  const seen = new Set<string>();
  for (const file of codeModules) {
    if (!seen.has(file)) {
      seen.add(file);
      yield file;
      if (++n >= MAX_MODULES_SEARCHED) return;
    }
  }
  for (const file of codeModules) {
    for (const child of moduleCache()[file]?.children ?? []) {
      if (!child.filename || seen.has(child.filename) || child.filename.includes('node_modules')) continue;
      seen.add(child.filename);
      yield child.filename;
      if (++n >= MAX_MODULES_SEARCHED) return;
    }
  }
}

/** The origin of an error's class, when a module of remote code (or its child) exports it. */
export function originOf(err: object): ClassOrigin | undefined {
  const ctor = (err as { constructor?: unknown }).constructor;
  if (typeof ctor !== 'function' || ctor === Error || !(ctor.prototype instanceof Error)) return undefined;
  const known = origins.get(ctor);
  if (known !== undefined) return known ?? undefined;
  let found: ClassOrigin | null = null;
  for (const file of searchedModules()) {
    const exp = exportsOf(file);
    if (!exp) continue;
    const name = Object.keys(exp).find((k) => {
      try {
        return exp[k] === ctor;
      } catch {
        return false; // a getter that throws exports nothing we can use
      }
    });
    if (name !== undefined) {
      found = [file, name];
      break;
    }
  }
  // Negative answers are not kept: the module exporting it may be loaded later.
  if (found) origins.set(ctor, found);
  return found ?? undefined;
}

/** The error class exported as `origin` here, if that module is loaded and exports one. */
export function classAt(origin: ClassOrigin): (new (...args: never[]) => Error) | undefined {
  const [file, name] = origin;
  if (typeof file !== 'string' || typeof name !== 'string') return undefined;
  const C = exportsOf(file)?.[name];
  return typeof C === 'function' && (C as { prototype?: unknown }).prototype instanceof Error ? (C as new (...args: never[]) => Error) : undefined;
}
