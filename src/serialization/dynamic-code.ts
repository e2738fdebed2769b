/**
 * The code raybus makes from text at run time: a real dynamic `import()` (the CommonJS build
 * would otherwise compile `import()` into `require()`), and the function a shipped source
 * evaluates to (code-shipping.ts). Both are made here, in the one module that does so, which
 * Node's own loader always loads: a worker's module pack never serves a module that may run
 * `import()` (scripts/module-pack.mjs), so every other module of the worker can come from it,
 * and an `import()` in this code or in shipped code resolves as it does in the driver.
 */

/** `import(specifier)`, by Node's loader. */
export const dynamicImport = new Function('specifier', 'return import(specifier)') as (specifier: string) => Promise<unknown>;

/** The function of `params` whose body is `body` (`new Function`), made in this module. */
export function functionOf<F>(params: readonly string[], body: string): F {
  return new Function(...params, body) as F;
}
