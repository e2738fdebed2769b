/**
 * `numReturns` against the kind of function it is used with (Ray's `num_returns`: an integer,
 * or 'streaming' / 'dynamic' for generators; see Ray's "Ray Generators" docs).
 */
import type { NumReturns } from './value-checks';

/**
 * Throws a TypeError when `numReturns` is `'streaming'` or `'dynamic'` and the function is
 * not a generator (sync or async). Integer and unset values are always fine.
 *
 * @example
 * validateNumReturnsFor(false, 'streaming'); // throws
 * validateNumReturnsFor(true, 2);            // ok: the first two yields become the values
 */
export function validateNumReturnsFor(fnIsGenerator: boolean, numReturns: NumReturns | null | undefined): void {
  if (!fnIsGenerator && (numReturns === 'streaming' || numReturns === 'dynamic')) {
    throw new TypeError(
      `numReturns='${numReturns}' can only be used with generator functions ` +
        '(function* or async function*); this function is not a generator',
    );
  }
}

/**
 * The effective `numReturns` at submission: the given value, or `'streaming'` for generator
 * functions and 1 for others when unset (`null`/`undefined`). Validates like
 * {@link validateNumReturnsFor}.
 */
export function resolveNumReturns(fnIsGenerator: boolean, numReturns: NumReturns | null | undefined): NumReturns {
  validateNumReturnsFor(fnIsGenerator, numReturns);
  if (numReturns != null) return numReturns;
  return fnIsGenerator ? 'streaming' : 1;
}
