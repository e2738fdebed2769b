/**
 * Options of remote functions (Ray's `ray.remote` / `.options()` task options, as validated by
 * `python/ray/_private/ray_option_utils.py`).
 */
import {
  CALL_OPTIONS,
  PLACEMENT_OPTIONS,
  RESOURCE_OPTIONS,
  type PlacementOptionFields,
  type ResourceOptionFields,
} from './common-options';
import { mergeOptionBags } from './merge-options';
import { normalizeOptionBag, option, type SnakeNamesOf, type WithSnakeAliases } from './option-table';
import type { RuntimeEnv, RuntimeEnvOptions } from './runtime-env';
import { checkCount, checkCountWithInfinity, type NumReturns, type RetryExceptions } from './value-checks';

/** Task options with camelCase keys; `Env` is the runtime env shape (input or normalized). */
export interface TaskOptionFields<Env> extends ResourceOptionFields, PlacementOptionFields<Env> {
  /** Return values: an integer >= 0, `'dynamic'` or `'streaming'` (generators default to streaming). */
  readonly numReturns?: NumReturns | null;
  /** Tasks a worker runs before it is replaced; 0 (default) = unlimited. Not allowed in `.options()`. */
  readonly maxCalls?: number | null;
  /** Retries on system failure (worker crash); default 4, -1 = infinite. */
  readonly maxRetries?: number | null;
  /** Also retry when user code throws: all errors (`true`), or those of the given classes or names. */
  readonly retryExceptions?: RetryExceptions | null;
  /** Generator backpressure: objects produced ahead of the consumer; -1 = off, 0 rejected. */
  readonly backpressure?: number | null;
}

/** Normalized, frozen options of a remote function: camelCase keys only, only those the user gave. */
export type TaskOptions = TaskOptionFields<RuntimeEnv>;

const TASK_OPTIONS = {
  numReturns: CALL_OPTIONS.numReturns,
  ...RESOURCE_OPTIONS,
  maxCalls: option('max_calls', checkCount),
  maxRetries: option('max_retries', checkCountWithInfinity),
  retryExceptions: CALL_OPTIONS.retryExceptions,
  ...PLACEMENT_OPTIONS,
  backpressure: CALL_OPTIONS.backpressure,
} as const;

/**
 * Options of a remote function as users write them: camelCase (canonical) or the snake_case
 * names Ray uses (`num_cpus`, `max_retries`, `_generator_backpressure_num_objects`, ...).
 */
export type RemoteFunctionOptions = WithSnakeAliases<
  TaskOptionFields<RuntimeEnvOptions>,
  SnakeNamesOf<typeof TASK_OPTIONS>
>;

/**
 * Validates remote-function options given to `remote(options)` (`where: 'remote'`) or
 * `.options(...)` (`where: 'options'`, where `maxCalls` is refused as in Ray) and returns a
 * frozen object with camelCase keys. Throws TypeError/RangeError naming the option.
 *
 * @example
 * normalizeTaskOptions({ num_cpus: 2, maxRetries: 0 }, 'remote'); // → { numCpus: 2, maxRetries: 0 }
 */
export function normalizeTaskOptions(input: unknown, where: 'remote' | 'options'): TaskOptions {
  const bag = normalizeOptionBag(input, TASK_OPTIONS, { what: 'remote functions', noun: 'option' });
  if (where === 'options' && Object.hasOwn(bag, 'maxCalls')) {
    throw new TypeError("Setting 'maxCalls' is not supported in '.options()'");
  }
  return Object.freeze(bag) as TaskOptions;
}

/**
 * `.options()` merge for remote functions: `override` wins key by key (`null` resets an
 * option to its default); `_metadata` merges per top-level key. Neither input changes.
 */
export function mergeTaskOptions(base: TaskOptions, override: TaskOptions): TaskOptions {
  return mergeOptionBags(base, override);
}
