/**
 * Ray's resource rule (`ray_option_utils.py`, "Accelerator Support" docs): quantities are finite, non-negative numbers
 * with at most 1/10000 precision; GPU amounts above 1 must be whole.
 *
 * Booleans are not numbers here: Python accepts `num_cpus=True` because `bool` subclasses
 * `int`; raybus is stricter on purpose and reports a type error.
 */
import { RESOURCE_UNIT_SCALING } from './defaults';
import { childName, describeType, isPlainObject, optionTypeError, plainName, type OptionName } from './option-name';

/** Resource amounts by resource name, e.g. `{ CPU: 1, GPU: 0.5, my_resource: 2 }`. */
export type ResourceQuantities = Readonly<Record<string, number>>;

/** Resource names `resources` may not contain, with the advice given for each. */
const RESERVED_RESOURCE_NAMES: Readonly<Record<string, string>> = {
  CPU: "Use the 'numCpus' (num_cpus) and 'numGpus' (num_gpus) options instead of 'CPU' and 'GPU' in 'resources'",
  GPU: "Use the 'numCpus' (num_cpus) and 'numGpus' (num_gpus) options instead of 'CPU' and 'GPU' in 'resources'",
  memory: "Use the 'memory' option instead of 'memory' in 'resources'",
  object_store_memory: "'object_store_memory' cannot be requested in 'resources'",
  bundle: "'bundle' is a reserved resource name and cannot be used in 'resources'",
};

/** Checks a resource quantity (numCpus, memory, a custom resource) and returns it. */
export function checkResourceQuantity(value: unknown, name: OptionName): number {
  if (typeof value !== 'number') throw optionTypeError(name, 'number', value);
  if (!Number.isFinite(value)) {
    throw new RangeError(`The quantity of resource ${plainName(name)} must be a finite number, but got ${value}`);
  }
  if (value < 0) {
    throw new RangeError(`The quantity of resource ${plainName(name)} cannot be negative`);
  }
  // Ray's test is `int(q * 10000) == 0` for non-zero q: only values strictly between 0 and
  // 0.0001 fail; 0.00015 passes (the scheduler truncates to 1/10000 units).
  if (value !== 0 && Math.trunc(value * RESOURCE_UNIT_SCALING) === 0) {
    throw new RangeError(
      `The precision of the fractional quantity of resource ${plainName(name)} cannot go beyond 0.0001, but got ${value}`,
    );
  }
  return value;
}

/** The resource rule plus the accelerator rule: fractions share one GPU, so above 1 only whole numbers. */
export function checkGpuQuantity(value: unknown, name: OptionName): number {
  const quantity = checkResourceQuantity(value, name);
  if (quantity > 1 && !Number.isInteger(quantity)) {
    throw new RangeError(
      `The quantity of resource ${plainName(name)} must be a whole number when greater than 1 ` +
        `(fractions below 1 share one GPU), but got ${quantity}`,
    );
  }
  return quantity;
}

/** Checks the `resources` option (custom resources) and returns a frozen copy. */
export function checkResources(value: unknown, name: OptionName): ResourceQuantities {
  if (!isPlainObject(value)) throw optionTypeError(name, 'object', value);
  const entries: Array<[string, number]> = [];
  for (const [key, quantity] of Object.entries(value)) {
    if (quantity === undefined) continue;
    const advice = Object.hasOwn(RESERVED_RESOURCE_NAMES, key) ? RESERVED_RESOURCE_NAMES[key] : undefined;
    if (advice !== undefined) {
      throw new RangeError(`Invalid resource name '${key}' in ${plainName(name)}: ${advice}`);
    }
    if (key === '') throw new RangeError(`Resource names in ${plainName(name)} cannot be empty strings`);
    if (typeof quantity !== 'number') {
      throw new TypeError(
        `The quantity of resource '${key}' in ${plainName(name)} must be number, but received ${describeType(quantity)}`,
      );
    }
    entries.push([key, checkResourceQuantity(quantity, childName(name, key))]);
  }
  // fromEntries defines properties, so a key such as "__proto__" stays a plain key.
  return Object.freeze(Object.fromEntries(entries));
}

/** Checks `acceleratorType`: a non-empty string such as `'A100'` (see `ray.util.accelerators`). */
export function checkAcceleratorType(value: unknown, name: OptionName): string {
  if (typeof value !== 'string') throw optionTypeError(name, 'string', value);
  if (value === '') throw new RangeError(`The option ${plainName(name)} cannot be an empty string`);
  return value;
}
