/**
 * A value shared by every copy of raybus loaded in this process (ESM and CJS builds, nested
 * installs): kept on `globalThis` under a `Symbol.for` key, created on first use.
 */
export function processGlobal<T>(name: string, create: () => T): T {
  const key = Symbol.for(`raybus.${name}`);
  const g = globalThis as unknown as Record<symbol, T | undefined>;
  return (g[key] ??= create());
}
