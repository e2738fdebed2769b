/**
 * Options of actor classes (Ray's `ray.remote` / `.options()` actor options, as validated by
 * `python/ray/_private/ray_option_utils.py`).
 */
import {
  MAX_TASK_RETRIES_OPTION,
  PLACEMENT_OPTIONS,
  RESOURCE_OPTIONS,
  type PlacementOptionFields,
  type ResourceOptionFields,
} from './common-options';
import { mergeOptionBags } from './merge-options';
import { normalizeOptionBag, option, type SnakeNamesOf, type WithSnakeAliases } from './option-table';
import type { RuntimeEnv, RuntimeEnvOptions } from './runtime-env';
import {
  checkBoolean,
  checkCountWithInfinity,
  checkIsolation,
  checkLifetime,
  checkMaxConcurrency,
  checkNonEmptyString,
  type ActorIsolation,
  type ActorLifetime,
} from './value-checks';

/** Actor options with camelCase keys; `Env` is the runtime env shape (input or normalized). */
export interface ActorOptionFields<Env> extends ResourceOptionFields, PlacementOptionFields<Env> {
  /** Restarts after a crash; default 0, -1 = infinite. */
  readonly maxRestarts?: number | null;
  /** Retries of a call in flight at a crash; default 0, -1 = infinite. */
  readonly maxTaskRetries?: number | null;
  /** Calls run at once; default 1, or 1000 for a class with async methods. Must be >= 1. */
  readonly maxConcurrency?: number | null;
  /** Calls a handle may have pending before `.remote()` throws; default -1 = unlimited. */
  readonly maxPendingCalls?: number | null;
  /** Name, unique within the namespace (`getActor(name)` finds it). */
  readonly name?: string | null;
  /** Namespace of the name; default the job's namespace. */
  readonly namespace?: string | null;
  /** `'detached'` actors outlive their creator; default non-detached. */
  readonly lifetime?: ActorLifetime | null;
  /** Return the existing actor of this name instead of failing; requires `name`. */
  readonly getIfExists?: boolean | null;
  /**
   * raybus's own: `'shared'` hosts the actor with other shared actors of the same runtime env
   * in one worker process (tens of thousands on a machine); default `'process'`, a worker
   * process of its own as in Ray. Shared actors cannot use GPUs.
   */
  readonly isolation?: ActorIsolation | null;
}

/** Normalized, frozen options of an actor class: camelCase keys only, only those the user gave. */
export type ActorOptions = ActorOptionFields<RuntimeEnv>;

const ACTOR_OPTIONS = {
  ...RESOURCE_OPTIONS,
  maxRestarts: option('max_restarts', checkCountWithInfinity),
  maxTaskRetries: MAX_TASK_RETRIES_OPTION,
  maxConcurrency: option('max_concurrency', checkMaxConcurrency),
  maxPendingCalls: option('max_pending_calls', checkCountWithInfinity),
  name: option('name', checkNonEmptyString),
  namespace: option('namespace', checkNonEmptyString),
  lifetime: option('lifetime', checkLifetime),
  getIfExists: option('get_if_exists', checkBoolean),
  isolation: option('isolation', checkIsolation),
  ...PLACEMENT_OPTIONS,
} as const;

/** Options of an actor class as users write them: camelCase or Ray's snake_case names. */
export type ActorClassOptions = WithSnakeAliases<ActorOptionFields<RuntimeEnvOptions>, SnakeNamesOf<typeof ACTOR_OPTIONS>>;

/**
 * Validates actor options given to `remote(options)` (`where: 'remote'`) or `.options(...)`
 * (`where: 'options'`) and returns a frozen object with camelCase keys.
 *
 * The cross-field rule "`getIfExists` needs `name`" is checked here for `'remote'`; for
 * `'options'` the name may come from the decorator, so {@link mergeActorOptions} checks it
 * on the merged result instead (Ray validates the merged dict too).
 *
 * @example
 * normalizeActorOptions({ name: 'ctr', max_restarts: -1 }, 'options'); // → { name: 'ctr', maxRestarts: -1 }
 */
export function normalizeActorOptions(input: unknown, where: 'remote' | 'options'): ActorOptions {
  const bag = normalizeOptionBag(input, ACTOR_OPTIONS, { what: 'actors', noun: 'option' }) as ActorOptions;
  if (where === 'remote') checkActorCrossFields(bag);
  return Object.freeze(bag);
}

/**
 * `.options()` merge for actor classes: `override` wins key by key (`null` resets),
 * `_metadata` merges per top-level key; then `getIfExists` is checked against `name`.
 */
export function mergeActorOptions(base: ActorOptions, override: ActorOptions): ActorOptions {
  const merged = mergeOptionBags(base, override);
  checkActorCrossFields(merged);
  return merged;
}

function checkActorCrossFields(options: ActorOptions): void {
  if (options.getIfExists === true && options.name == null) {
    throw new TypeError("The actor name must be specified to use 'getIfExists' (get_if_exists)");
  }
  if (options.isolation === 'shared' && (options.numGpus ?? 0) > 0) {
    // CUDA_VISIBLE_DEVICES is fixed when a process starts: GPUs need a process of their own.
    throw new RangeError("The option 'isolation' cannot be 'shared' for an actor that uses GPUs (numGpus > 0): use isolation 'process'");
  }
}
