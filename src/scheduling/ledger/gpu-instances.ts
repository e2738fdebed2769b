/**
 * GPU instance accounting for one node: ids 0..N-1, each with its own free amount in units.
 * Fractional demands (< 1 GPU) share one id, chosen best fit; whole demands take that many
 * completely free ids, lowest first — so two 0.5 tasks can see the same `CUDA_VISIBLE_DEVICES`.
 */
import { RESOURCE_UNIT_SCALING } from './fixed-point';

const FULL = RESOURCE_UNIT_SCALING;

/** Per-node GPU ids with fixed-point free amounts. */
export class GpuInstances {
  private readonly capacity: number[];
  private readonly free: number[];

  /**
   * @param totalUnits the node's GPU total in units; a non-whole total gets a last, partial id.
   * @param free free units per id to start from (a copy is taken); defaults to all free.
   */
  constructor(totalUnits: number, free?: readonly number[]) {
    this.capacity = [];
    for (let left = totalUnits; left > 0; left -= FULL) this.capacity.push(Math.min(left, FULL));
    this.free = free !== undefined ? [...free] : [...this.capacity];
  }

  /** Whether `units` could ever be assigned on this node (against capacities). */
  feasible(units: number): boolean {
    return this.choose(units, this.capacity) !== null;
  }

  /** Whether `units` can be assigned now. */
  canAllocate(units: number): boolean {
    return this.choose(units, this.free) !== null;
  }

  /** Assigns ids for `units` and marks them used; null when they cannot be assigned now. */
  allocate(units: number): number[] | null {
    const ids = this.choose(units, this.free);
    if (ids === null) return null;
    const each = units < FULL ? units : FULL;
    for (const id of ids) this.free[id] = (this.free[id] ?? 0) - each;
    return ids;
  }

  /**
   * Gives back `units` assigned as `ids`.
   * @throws Error when the ids do not match the amount or would rise above capacity: a
   *   bookkeeping bug must be loud.
   */
  release(units: number, ids: readonly number[]): void {
    const fractional = units < FULL;
    const expected = fractional ? 1 : units / FULL;
    const each = fractional ? units : FULL;
    if (ids.length !== expected || new Set(ids).size !== ids.length) {
      throw new Error(`GPU release of ${units / FULL} does not match ids [${ids.join(', ')}]`);
    }
    for (const id of ids) {
      const cap = this.capacity[id];
      const free = this.free[id];
      if (cap === undefined || free === undefined || free + each > cap) {
        throw new Error(`GPU release of ${each / FULL} on id ${id} was never reserved`);
      }
    }
    for (const id of ids) this.free[id] = (this.free[id] ?? 0) + each;
  }

  /** Free units per id (a copy). */
  freeUnits(): number[] {
    return [...this.free];
  }

  /** A copy; with `reset` every id is free again. */
  clone(reset: boolean): GpuInstances {
    const total = this.capacity.reduce((a, b) => a + b, 0);
    return new GpuInstances(total, reset ? undefined : this.free);
  }

  private choose(units: number, free: readonly number[]): number[] | null {
    if (units <= 0) return [];
    if (units < FULL) {
      // Best fit: the id whose free amount is the smallest that still holds the demand.
      let best = -1;
      for (let id = 0; id < free.length; id++) {
        const f = free[id] ?? 0;
        if (f >= units && (best < 0 || f < (free[best] ?? 0))) best = id;
      }
      return best < 0 ? null : [best];
    }
    const want = units / FULL;
    const ids: number[] = [];
    for (let id = 0; id < free.length && ids.length < want; id++) {
      if (free[id] === FULL) ids.push(id);
    }
    return ids.length === want ? ids : null;
  }
}
