/**
 * Options of actor methods, for `ray.method(options)` and `handle.m.options(...)`
 * (Ray's `ray.method` and actor method `.options()`).
 */
import { CALL_OPTIONS, MAX_TASK_RETRIES_OPTION } from './common-options';
import { mergeOptionBags } from './merge-options';
import { normalizeOptionBag, type SnakeNamesOf, type WithSnakeAliases } from './option-table';
import type { NumReturns, RetryExceptions } from './value-checks';

/** Normalized, frozen options of an actor method: camelCase keys only, only those the user gave. */
export interface MethodOptions {
  /** Return values: an integer >= 0, `'dynamic'` or `'streaming'` (generator methods default to streaming). */
  readonly numReturns?: NumReturns | null;
  /** Retries of this call when the actor crashes; -1 = infinite. */
  readonly maxTaskRetries?: number | null;
  /** Also retry when the method throws: all errors, or those of the given classes or names. */
  readonly retryExceptions?: RetryExceptions | null;
  /** Generator backpressure; -1 = off, 0 rejected. */
  readonly backpressure?: number | null;
}

const METHOD_OPTIONS = {
  numReturns: CALL_OPTIONS.numReturns,
  maxTaskRetries: MAX_TASK_RETRIES_OPTION,
  retryExceptions: CALL_OPTIONS.retryExceptions,
  backpressure: CALL_OPTIONS.backpressure,
} as const;

/** Options of an actor method as users write them: camelCase or Ray's snake_case names. */
export type ActorMethodOptions = WithSnakeAliases<MethodOptions, SnakeNamesOf<typeof METHOD_OPTIONS>>;

/**
 * Validates actor-method options and returns a frozen object with camelCase keys.
 *
 * @example
 * normalizeMethodOptions({ num_returns: 2 }); // → { numReturns: 2 }
 */
export function normalizeMethodOptions(input: unknown): MethodOptions {
  return Object.freeze(normalizeOptionBag(input, METHOD_OPTIONS, { what: 'actor methods', noun: 'option' }));
}

/** Per-call override of method defaults: `override` wins key by key (`null` resets). */
export function mergeMethodOptions(base: MethodOptions, override: MethodOptions): MethodOptions {
  return mergeOptionBags<MethodOptions & { readonly _metadata?: null }>(base, override);
}
