/**
 * How a worker imports the module of code shipped by reference: the way the driver loaded it.
 * `import()` of the file URL lets Node pick the module's format as it did for the driver (an
 * ES module stays an ES module, top-level await included; a CommonJS file goes through
 * `require` and its hooks, tsx's among them); `require()` is the fallback only for files
 * `import()` has no loader for (ts-node's `--require ts-node/register` hooks `require` alone).
 */
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { noteModuleNamespace } from './error-classes';
import { dynamicImport } from './dynamic-code';


/** What importing a module needs: `require` for the fallback. */
export type RequireFn = (id: string) => unknown;

/** Import `module` (an absolute path or a file URL) as the driver did. */
export async function importUserModule(module: string, require: RequireFn): Promise<void> {
  const url = module.startsWith('file:') ? module : pathToFileURL(module).href;
  try {
    // Its error classes can travel by identity from the moment its code runs (error-classes.ts).
    noteModuleNamespace(module.startsWith('file:') ? fileURLToPath(module) : module, await dynamicImport(url));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ERR_UNKNOWN_FILE_EXTENSION' || module.startsWith('file:')) throw err;
    try {
      require(module);
    } catch (requireErr) {
      // The require hook did not help either: the missing loader is the real cause.
      throw Object.assign(err as Error, { requireError: requireErr });
    }
  }
}

/** TypeScript (and similar) files need a loader in every process that imports them. */
const NEEDS_LOADER = /\.(?:[cm]?ts|tsx|jsx)$/;

/**
 * The sentence explaining why importing `module` failed, with the fix where it is known:
 * a TypeScript file without a loader, a file missing on this machine, or the module's own
 * error (with its first stack frame).
 */
export function explainImportFailure(module: string, err: unknown): string {
  const e = err as NodeJS.ErrnoException & { requireError?: unknown };
  const message = e instanceof Error ? `${e.name}: ${e.message}` : String(err);
  if (e?.code === 'ERR_UNKNOWN_FILE_EXTENSION' || (NEEDS_LOADER.test(module) && e instanceof SyntaxError)) {
    return (
      `${message}. This worker has no loader for ${path.extname(module)} files: run the driver with a TypeScript loader ` +
      `(\`npx tsx main.ts\` or \`node --import tsx main.ts\`; workers start with the driver's Node flags), or compile ` +
      `with tsc and run the .js; nodes of a cluster need it too (\`raybus start --import tsx\`, or Cluster.start({ import: ['tsx'] }))`
    );
  }
  if (e?.code === 'ERR_MODULE_NOT_FOUND' && typeof e.message === 'string' && e.message.includes(module)) {
    return `${message}. The module is not at that path on this machine: install the same code on every node, at the same path`;
  }
  const frame = e instanceof Error ? e.stack?.split('\n').find((l) => l.trim().startsWith('at ')) : undefined;
  return frame ? `${message} (${frame.trim()})` : message;
}
