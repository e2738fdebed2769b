/**
 * Checks for the non-resource options (Ray's `ray_option_utils.py`). Each returns the normalized
 * value or throws: TypeError for a wrong type, RangeError for a value out of range, with a
 * message naming the option. Booleans are never accepted as numbers (Python accepts them,
 * since `bool` subclasses `int`; raybus is stricter on purpose).
 */
import {
  isSchedulingStrategy,
  SCHEDULING_STRATEGY_NAMES,
  type SchedulingStrategy,
} from '../scheduling-strategy';
import {
  childName,
  describeType,
  describeValue,
  isPlainObject,
  optionTypeError,
  quotedName,
  type OptionName,
} from './option-name';

/** `numReturns`: a count of return values, or a generator mode (Ray's "Ray Generators" docs). */
export type NumReturns = number | 'dynamic' | 'streaming';

/** Any error class: `Error` itself or a subclass. */
export type ErrorClass = abstract new (...args: never[]) => Error;

/** `retryExceptions`: retry on every user error, on none, or on those of the given classes or names. */
export type RetryExceptions = boolean | ReadonlyArray<ErrorClass | string>;

/** `_metadata`: an opaque bag for libraries, keyed by library namespace (Ray's `_metadata` option). */
export type OptionMetadata = Readonly<Record<string, unknown>>;

/** `lifetime` of an actor: detached actors outlive their creator. */
export type ActorLifetime = 'detached' | 'non_detached';
/** Actor `isolation`: a worker process of its own (Ray's model), or one shared with other actors. */
export type ActorIsolation = 'process' | 'shared';

function checkNumber(value: unknown, name: OptionName): number {
  if (typeof value !== 'number') throw optionTypeError(name, 'number', value);
  return value;
}

/** Counting option where -1 means infinity (`maxRetries`, `maxRestarts`, `maxTaskRetries`, `maxPendingCalls`). */
export function checkCountWithInfinity(value: unknown, name: OptionName): number {
  const n = checkNumber(value, name);
  if (!Number.isInteger(n) || n < -1) {
    throw new RangeError(
      `The option ${quotedName(name)} only accepts null, 0, -1 or a positive integer, ` +
        `where -1 represents infinity, but received ${describeValue(n)}`,
    );
  }
  return n;
}

/** Counting option without infinity (`maxCalls`, where 0 means unlimited). */
export function checkCount(value: unknown, name: OptionName): number {
  const n = checkNumber(value, name);
  if (!Number.isInteger(n) || n < 0) {
    throw new RangeError(
      `The option ${quotedName(name)} only accepts null, 0 or a positive integer, but received ${describeValue(n)}`,
    );
  }
  return n;
}

/**
 * `maxConcurrency`: a positive integer. Ray accepts 0, but an actor that may run zero calls
 * at once can never run anything, so raybus rejects it.
 */
export function checkMaxConcurrency(value: unknown, name: OptionName): number {
  const n = checkNumber(value, name);
  if (!Number.isInteger(n) || n < 1) {
    throw new RangeError(
      `The option ${quotedName(name)} only accepts null or a positive integer ` +
        `(0 would let the actor run nothing), but received ${describeValue(n)}`,
    );
  }
  return n;
}

/** `numReturns`: an integer >= 0, `'dynamic'` or `'streaming'`. */
export function checkNumReturns(value: unknown, name: OptionName): NumReturns {
  if (typeof value === 'string') {
    if (value === 'dynamic' || value === 'streaming') return value;
    throw new RangeError(
      `The option ${quotedName(name)} only accepts null, 'dynamic', 'streaming' or an integer >= 0, ` +
        `but received ${describeValue(value)}`,
    );
  }
  if (typeof value !== 'number') throw optionTypeError(name, "number, 'dynamic' or 'streaming'", value);
  if (!Number.isInteger(value)) {
    throw new RangeError(`${quotedName(name)} must be an integer >= 0, but got ${value}.`);
  }
  if (value < 0) throw new RangeError(`${quotedName(name)} must be >= 0, but got ${value}.`);
  return value;
}

/** `backpressure` (`_generator_backpressure_num_objects`): -1 (off) or a positive integer; 0 is rejected. */
export function checkBackpressure(value: unknown, name: OptionName): number {
  const n = checkNumber(value, name);
  if (n === 0) {
    throw new RangeError(
      'backpressure (_generator_backpressure_num_objects)=0 is not allowed. Use a value > 0, or -1 to disable',
    );
  }
  if (!Number.isInteger(n) || n < -1) {
    throw new RangeError(
      `The option ${quotedName(name)} only accepts null, -1 (disabled) or a positive integer, but received ${describeValue(n)}`,
    );
  }
  return n;
}

/** True for `Error` and its subclasses. */
function isErrorClass(value: unknown): value is ErrorClass {
  return typeof value === 'function' && (value === Error || (value as { prototype?: unknown }).prototype instanceof Error);
}

/** `retryExceptions`: a boolean, or an array of error classes and error names (returned frozen). */
export function checkRetryExceptions(value: unknown, name: OptionName): RetryExceptions {
  if (typeof value === 'boolean') return value;
  if (!Array.isArray(value)) {
    throw new TypeError(
      `The option ${quotedName(name)} must be either a boolean or an array of error classes or error names, ` +
        `but received ${describeType(value)}`,
    );
  }
  const items = value.map((item: unknown, index): ErrorClass | string => {
    if (isErrorClass(item)) return item;
    if (typeof item === 'string') {
      if (item === '') throw new RangeError(`${quotedName(childName(name, index))} cannot be an empty error name`);
      return item;
    }
    throw new TypeError(
      `${quotedName(childName(name, index))} must be an error class (Error or a subclass) or an error name, ` +
        `but received ${describeType(item)}`,
    );
  });
  return Object.freeze(items);
}

/** A boolean option. */
export function checkBoolean(value: unknown, name: OptionName): boolean {
  if (typeof value !== 'boolean') throw optionTypeError(name, 'boolean', value);
  return value;
}

/** A string option that may not be empty (`name`, `namespace`, `clusterKey`, ...). */
export function checkNonEmptyString(value: unknown, name: OptionName): string {
  if (typeof value !== 'string') throw optionTypeError(name, 'string', value);
  if (value === '') throw new RangeError(`The option ${quotedName(name)} cannot be an empty string`);
  return value;
}

/** Builds a check for a string option with a fixed set of values. */
export function oneOf<const V extends string>(values: readonly V[]): (value: unknown, name: OptionName) => V {
  return (value, name) => {
    if (typeof value !== 'string') throw optionTypeError(name, 'string', value);
    if (!(values as readonly string[]).includes(value)) {
      throw new RangeError(
        `The option ${quotedName(name)} must be one of ${values.map((v) => `'${v}'`).join(', ')} or null, ` +
          `but received ${describeValue(value)}`,
      );
    }
    return value as V;
  };
}

/** Actor `isolation`. */
export const checkIsolation = oneOf<ActorIsolation>(['process', 'shared']);

/** Actor `lifetime`. */
export const checkLifetime = oneOf<ActorLifetime>(['detached', 'non_detached']);

/** `_metadata`: a plain object, copied and frozen at the top level (its contents are opaque). */
export function checkMetadata(value: unknown, name: OptionName): OptionMetadata {
  if (!isPlainObject(value)) throw optionTypeError(name, 'object', value);
  return Object.freeze({ ...(ownBytes(value, 0) as object) });
}

/** How deep `ownBytes` looks into metadata (deeper values are kept as they are). */
const METADATA_COPY_DEPTH = 32;

/**
 * `v` with every byte array in its plain objects and arrays copied (the rest shared). Metadata
 * travels in each task's message as it is, and a message for a pipe takes large byte arrays by
 * reference (serialization/gathered-bytes.ts): a caller changing its array after the call must
 * change nothing that was sent.
 */
function ownBytes(v: unknown, depth: number): unknown {
  if (v instanceof Uint8Array) return Buffer.isBuffer(v) ? Buffer.from(v) : new Uint8Array(v);
  if (depth >= METADATA_COPY_DEPTH || typeof v !== 'object' || v === null) return v;
  if (Array.isArray(v)) {
    let out: unknown[] | undefined;
    for (let i = 0; i < v.length; i++) {
      const c = ownBytes(v[i], depth + 1);
      if (c !== v[i]) (out ??= v.slice())[i] = c;
    }
    return out ?? v;
  }
  if (!isPlainObject(v)) return v;
  let out: Record<string, unknown> | undefined;
  for (const k of Object.keys(v)) {
    const c = ownBytes(v[k], depth + 1);
    if (c !== v[k]) (out ??= { ...v })[k] = c;
  }
  return out ?? v;
}

/** `schedulingStrategy`: 'DEFAULT', 'SPREAD' or a strategy instance. */
export function checkSchedulingStrategy(value: unknown, name: OptionName): SchedulingStrategy {
  if (isSchedulingStrategy(value)) return value;
  const valid = `${SCHEDULING_STRATEGY_NAMES.map((s) => `'${s}'`).join(', ')}, a NodeAffinitySchedulingStrategy or a PlacementGroupSchedulingStrategy`;
  if (typeof value === 'string') {
    throw new RangeError(`The option ${quotedName(name)} must be ${valid}, but received ${describeValue(value)}`);
  }
  throw new TypeError(`The type of option ${quotedName(name)} must be ${valid}, but received ${describeType(value)}`);
}
