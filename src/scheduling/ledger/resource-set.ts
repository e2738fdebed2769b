/**
 * Resource sets as users write them (`{ CPU: 0.5, GPU: 1, memory: 2e9, Custom: 2 }`) and
 * their fixed-point form inside the ledger. `GPU`, `memory`, `accelerator_type:<T>` and
 * custom names are all just names; only `GPU` has instance (id) accounting.
 */
import { fromResourceUnits, RESOURCE_UNIT_SCALING, toResourceUnits } from './fixed-point';

/** Resource name → amount, in user units (floats, precise to 1/10000). */
export type ResourceSet = Readonly<Record<string, number>>;

/** The resource name that carries GPU instance ids. */
export const GPU = 'GPU';

/** A validated demand in fixed-point units, positive entries only (zeros are dropped, as Ray does). */
export interface UnitDemand {
  readonly entries: readonly (readonly [name: string, units: number])[];
  /** Units of `GPU` asked for (0 when none). */
  readonly gpuUnits: number;
}

// Demands are Readonly records and typically reused across a whole pick (one `fits` per
// node), so their conversion is cached per object.
const demandCache = new WeakMap<ResourceSet, UnitDemand>();

/**
 * Converts and validates a demand. Amounts must be finite and >= 0; `GPU` above 1 must be
 * whole (Ray's "Accelerator Support" docs). The result is cached per demand object: do not mutate demands.
 *
 * @throws TypeError for a non-number amount; RangeError for a negative, non-finite or
 *   fractional-above-one GPU amount.
 */
export function toUnitDemand(demand: ResourceSet): UnitDemand {
  const cached = demandCache.get(demand);
  if (cached !== undefined) return cached;
  const entries: (readonly [string, number])[] = [];
  let gpuUnits = 0;
  for (const [name, amount] of Object.entries(demand)) {
    const units = checkedUnits(name, amount, 'demand');
    if (units === 0) continue;
    if (name === GPU) {
      if (units > RESOURCE_UNIT_SCALING && units % RESOURCE_UNIT_SCALING !== 0) {
        throw new RangeError(`GPU amounts above 1 must be whole numbers, got ${amount}`);
      }
      gpuUnits = units;
    }
    entries.push([name, units]);
  }
  const result: UnitDemand = { entries, gpuUnits };
  demandCache.set(demand, result);
  return result;
}

/** Converts node totals to units; zero entries are dropped. @throws like `toUnitDemand`. */
export function toUnitTotals(totals: ResourceSet): Map<string, number> {
  const map = new Map<string, number>();
  for (const [name, amount] of Object.entries(totals)) {
    const units = checkedUnits(name, amount, 'total');
    if (units > 0) map.set(name, units);
  }
  return map;
}

/**
 * Converts a unit map back to a plain `ResourceSet`, optionally omitting zero entries (and
 * negative ones: availability is overdrawn while a blocked task's CPU is taken back).
 */
export function fromUnitMap(
  map: ReadonlyMap<string, number>,
  omitZero: boolean,
): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, units] of map) {
    if (omitZero && units <= 0) continue;
    out[name] = fromResourceUnits(name, units);
  }
  return out;
}

/** `{CPU: 1, GPU: 0.5}` for messages. */
export function formatResources(set: ResourceSet): string {
  return `{${Object.entries(set)
    .map(([k, v]) => `${k}: ${v}`)
    .join(', ')}}`;
}

function checkedUnits(name: string, amount: unknown, what: string): number {
  if (typeof amount !== 'number') {
    throw new TypeError(`resource ${what} for "${name}" must be a number, got ${typeof amount}`);
  }
  if (!(amount >= 0) || !Number.isFinite(amount)) {
    throw new RangeError(`resource ${what} for "${name}" must be a finite number >= 0, got ${amount}`);
  }
  return toResourceUnits(name, amount);
}
