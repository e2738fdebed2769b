/**
 * Synchronous validation of placement group arguments, with Ray's messages
 * (`python/ray/util/placement_group.py::_validate_bundles`). Ray raises
 * ValueError for all of them; here a wrong type is a TypeError and a wrong value a RangeError.
 */
import { toUnitDemand, type ResourceSet } from '../ledger/resource-set';

/** The placement group strategies. */
const PLACEMENT_GROUP_STRATEGIES = ['PACK', 'SPREAD', 'STRICT_PACK', 'STRICT_SPREAD'] as const;

/** A placement group strategy. */
export type PlacementGroupStrategy = (typeof PLACEMENT_GROUP_STRATEGIES)[number];

const EXAMPLE = 'For example: `[{"CPU": 1.0}, {"GPU": 1.0}]`.';

/**
 * Checks that `bundles` is a non-empty array of non-empty objects of non-negative numbers,
 * none all zeros, with GPU amounts above 1 whole.
 *
 * @throws TypeError for a non-array or a bundle that is not a plain object of numbers;
 *   RangeError for an empty list, an empty/all-zero bundle or a bad amount.
 * @example validateBundles([{ CPU: 1 }, { GPU: 1 }]);
 */
export function validateBundles(bundles: unknown): asserts bundles is ResourceSet[] {
  if (!Array.isArray(bundles)) {
    throw new TypeError(`Placement group bundles must be a list, got ${describeType(bundles)}.`);
  }
  if (bundles.length === 0) {
    throw new RangeError(
      `Bundles must be a non-empty list of resource dictionaries. ${EXAMPLE} Got empty list instead.`,
    );
  }
  for (const bundle of bundles as unknown[]) {
    if (!isPlainObject(bundle) || !Object.values(bundle).every((v) => typeof v === 'number')) {
      throw new TypeError(`Bundles must be a non-empty list of resource dictionaries. ${EXAMPLE}`);
    }
    const values = Object.values(bundle) as number[];
    if (values.length === 0 || values.every((v) => v === 0)) {
      throw new RangeError(
        'Bundles cannot be an empty dictionary or resources with only 0 values. ' +
          `Bundles: ${JSON.stringify(bundles)}`,
      );
    }
    toUnitDemand(bundle as ResourceSet); // negative, non-finite, GPU 1.5: RangeError
  }
}

/**
 * Warnings Ray gives for valid bundles: `object_store_memory` in a bundle is deprecated.
 * Call after `validateBundles`.
 */
export function bundleWarnings(bundles: readonly ResourceSet[]): string[] {
  return bundles.some((b) => 'object_store_memory' in b)
    ? [
        "Setting 'object_store_memory' for bundles is deprecated since it doesn't actually " +
          'reserve the required object store memory.',
      ]
    : [];
}

/**
 * Checks a placement group strategy name.
 * @throws RangeError naming the supported strategies.
 */
export function validatePlacementGroupStrategy(strategy: unknown): asserts strategy is PlacementGroupStrategy {
  if (!(PLACEMENT_GROUP_STRATEGIES as readonly unknown[]).includes(strategy)) {
    throw new RangeError(
      `Invalid placement group strategy ${String(strategy)}. ` +
        `Supported strategies are: ${PLACEMENT_GROUP_STRATEGIES.join(', ')}.`,
    );
  }
}

function isPlainObject(x: unknown): x is Record<string, unknown> {
  if (typeof x !== 'object' || x === null || Array.isArray(x)) return false;
  const proto = Object.getPrototypeOf(x) as unknown;
  return proto === Object.prototype || proto === null;
}

function describeType(x: unknown): string {
  return x === null ? 'null' : typeof x === 'object' ? (x.constructor?.name ?? 'object') : typeof x;
}
