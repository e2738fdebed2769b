/**
 * Atomic reservation of a planned placement group: all bundles or none.
 */
import type { ResourceLedger, ResourceSet } from '../ledger/resource-ledger';

/** One reserved bundle: its node and the GPU ids it holds. */
export interface ReservedBundle {
  readonly nodeId: string;
  readonly gpuIds: number[];
}

/**
 * Reserves `bundles[i]` on `nodeIds[i]` for every i, or nothing: on the first failure the
 * bundles already taken are released again and null is returned.
 *
 * @throws RangeError when the two arrays differ in length.
 * @example
 * const plan = planPlacementGroup(ledger, bundles, 'PACK');
 * const reserved = plan.kind === 'placed' ? reserveBundles(ledger, bundles, plan.nodeIds) : null;
 */
export function reserveBundles(
  ledger: ResourceLedger,
  bundles: readonly ResourceSet[],
  nodeIds: readonly string[],
): ReservedBundle[] | null {
  if (bundles.length !== nodeIds.length) {
    throw new RangeError(`${bundles.length} bundles but ${nodeIds.length} node ids`);
  }
  const reserved: ReservedBundle[] = [];
  for (let i = 0; i < bundles.length; i++) {
    const nodeId = nodeIds[i] as string;
    const got = ledger.reserveWithIds(nodeId, bundles[i] as ResourceSet);
    if (got === null) {
      releaseBundles(ledger, bundles.slice(0, reserved.length), reserved);
      return null;
    }
    reserved.push({ nodeId, gpuIds: got.gpuIds });
  }
  return reserved;
}

/**
 * Releases bundles taken with `reserveBundles` (e.g. on `removePlacementGroup`).
 * @throws RangeError when the arrays differ in length; Error (from the ledger) on a
 *   release that was never reserved.
 */
export function releaseBundles(
  ledger: ResourceLedger,
  bundles: readonly ResourceSet[],
  reserved: readonly ReservedBundle[],
): void {
  if (bundles.length !== reserved.length) {
    throw new RangeError(`${bundles.length} bundles but ${reserved.length} reservations`);
  }
  for (let i = reserved.length - 1; i >= 0; i--) {
    const r = reserved[i] as ReservedBundle;
    ledger.releaseWithIds(r.nodeId, bundles[i] as ResourceSet, r.gpuIds);
  }
}
