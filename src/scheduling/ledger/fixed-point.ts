/**
 * Fixed-point resource amounts, after Ray's `FixedPoint` (`RESOURCE_UNIT_SCALING = 10000`).
 *
 * Every amount the ledger stores is an integer number of units, so any sequence of
 * reserve/release returns the totals exactly (floats drift: 0.1 + 0.2 !== 0.3). Amounts are
 * kept as JS numbers, which are exact integers up to 2^53; `toUnits` refuses anything beyond.
 */

/** Units per whole resource: amounts are precise to 1/10000, as in Ray. */
export const RESOURCE_UNIT_SCALING = 10_000;

/**
 * Resources counted in whole bytes. They are stored at scale 1, not 1/10000: at 1/10000 a
 * 2 TB `memory` total would pass 2^53 and lose exactness. Ray also rounds `memory` to bytes.
 */
const BYTE_RESOURCES: ReadonlySet<string> = new Set(['memory', 'object_store_memory']);

/**
 * Converts a user amount to integer units of 1/10000 (`Math.round(x * 10000)`).
 *
 * @throws RangeError when `x` is not finite or the result is not a safe integer.
 * @example toUnits(0.1) + toUnits(0.2) === toUnits(0.3) // true
 */
export function toUnits(x: number): number {
  return scaleToUnits(x, RESOURCE_UNIT_SCALING);
}

/** Converts integer units of 1/10000 back to a user amount. */
export function fromUnits(units: number): number {
  return units / RESOURCE_UNIT_SCALING;
}

/** Units per whole amount of the named resource (1 for byte resources, else 10000). */
function unitScaleOf(name: string): number {
  return BYTE_RESOURCES.has(name) ? 1 : RESOURCE_UNIT_SCALING;
}

/** `toUnits` for a named resource, honouring the byte resources' scale of 1. */
export function toResourceUnits(name: string, x: number): number {
  return scaleToUnits(x, unitScaleOf(name));
}

/** `fromUnits` for a named resource, honouring the byte resources' scale of 1. */
export function fromResourceUnits(name: string, units: number): number {
  return units / unitScaleOf(name);
}

function scaleToUnits(x: number, scale: number): number {
  if (!Number.isFinite(x)) {
    throw new RangeError(`resource amount must be a finite number, got ${String(x)}`);
  }
  const units = Math.round(x * scale);
  if (!Number.isSafeInteger(units)) {
    throw new RangeError(`resource amount ${x} is too large for fixed-point accounting`);
  }
  return units === 0 ? 0 : units; // normalise -0
}
