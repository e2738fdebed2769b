/**
 * Placement group planning (Ray's "Placement Groups" docs): where each bundle goes, or why not now.
 * Planning never changes the ledger: it works on a `clone()`, and a second plan against a
 * clone with everything free tells `wait` (fits once work finishes) from `infeasible`
 * (no current node could ever hold the group; it stays pending, as in Ray).
 *
 * - PACK: all on one node if any can hold them, else first-fit decreasing onto as few
 *   nodes as possible (best effort).
 * - SPREAD: each bundle on a node the group does not use yet, the least utilized first;
 *   when none fits, the fitting node holding the fewest of the group's bundles.
 * - STRICT_PACK: all on one node (first in node order that holds them all).
 * - STRICT_SPREAD: each bundle on a different node (exact, by bipartite matching).
 */
import type { ResourceLedger, ResourceSet } from '../ledger/resource-ledger';
import { matchDistinct } from './bundle-matching';
import type { PlacementGroupStrategy } from './validate-bundles';

/** The outcome of planning: a node per bundle (same order as the bundles), or not now. */
export type PlacementGroupPlan =
  | { readonly kind: 'placed'; readonly nodeIds: string[] }
  | { readonly kind: 'wait' }
  | { readonly kind: 'infeasible' };

type Planner = (scratch: ResourceLedger, bundles: readonly ResourceSet[]) => string[] | null;

const PLANNERS: Record<PlacementGroupStrategy, Planner> = {
  PACK: planPack,
  SPREAD: planSpread,
  STRICT_PACK: planStrictPack,
  STRICT_SPREAD: planStrictSpread,
};

/**
 * Plans a placement group atomically: every bundle gets a node, or none does. Only plans;
 * reserve the result with `reserveBundles`. Bundles are assumed valid (`validateBundles`).
 *
 * @example
 * const plan = planPlacementGroup(ledger, [{ CPU: 1 }, { CPU: 1 }], 'STRICT_SPREAD');
 * if (plan.kind === 'placed') reserveBundles(ledger, bundles, plan.nodeIds);
 */
export function planPlacementGroup(
  ledger: ResourceLedger,
  bundles: readonly ResourceSet[],
  strategy: PlacementGroupStrategy,
): PlacementGroupPlan {
  const planner = PLANNERS[strategy];
  if (strategy === 'STRICT_SPREAD' && bundles.length > ledger.nodeIds().length) return { kind: 'infeasible' };
  const now = planner(ledger.clone(), bundles);
  if (now !== null) return { kind: 'placed', nodeIds: now };
  return planner(ledger.clone({ resetAvailable: true }), bundles) !== null
    ? { kind: 'wait' }
    : { kind: 'infeasible' };
}

function planStrictPack(scratch: ResourceLedger, bundles: readonly ResourceSet[]): string[] | null {
  for (const nodeId of scratch.nodeIds()) {
    if (reserveAllOn(scratch, nodeId, bundles)) return bundles.map(() => nodeId);
  }
  return null;
}

function planPack(scratch: ResourceLedger, bundles: readonly ResourceSet[]): string[] | null {
  const together = planStrictPack(scratch, bundles);
  if (together !== null) return together;
  const used: string[] = [];
  return placeEach(scratch, bundles, (bundle) => {
    const nodeId =
      used.find((id) => scratch.fits(id, bundle)) ??
      scratch.nodeIds().find((id) => !used.includes(id) && scratch.fits(id, bundle));
    if (nodeId !== undefined && !used.includes(nodeId)) used.push(nodeId);
    return nodeId;
  });
}

function planSpread(scratch: ResourceLedger, bundles: readonly ResourceSet[]): string[] | null {
  const count = new Map<string, number>();
  return placeEach(scratch, bundles, (bundle) => {
    let best: string | undefined;
    let bestCount = Infinity;
    let bestUse = Infinity;
    for (const nodeId of scratch.nodeIds()) {
      if (!scratch.fits(nodeId, bundle)) continue;
      const n = count.get(nodeId) ?? 0;
      const use = scratch.utilization(nodeId);
      if (n < bestCount || (n === bestCount && use < bestUse)) {
        best = nodeId;
        bestCount = n;
        bestUse = use;
      }
    }
    if (best !== undefined) count.set(best, bestCount + 1);
    return best;
  });
}

function planStrictSpread(scratch: ResourceLedger, bundles: readonly ResourceSet[]): string[] | null {
  const nodes = scratch.nodeIds();
  return matchDistinct(bundles.map((bundle) => nodes.filter((id) => scratch.fits(id, bundle))));
}

/** Places bundles largest first (dominant share of the cluster), reserving on the scratch. */
function placeEach(
  scratch: ResourceLedger,
  bundles: readonly ResourceSet[],
  choose: (bundle: ResourceSet) => string | undefined,
): string[] | null {
  const cluster = scratch.clusterTotals();
  const share = (b: ResourceSet): number =>
    Math.max(0, ...Object.entries(b).map(([k, v]) => (v === 0 ? 0 : v / (cluster[k] ?? 0))));
  const order = bundles.map((b, i) => ({ i, s: share(b) })).sort((x, y) => y.s - x.s || x.i - y.i);
  const nodeIds = new Array<string>(bundles.length);
  for (const { i } of order) {
    const bundle = bundles[i] as ResourceSet;
    const nodeId = choose(bundle);
    if (nodeId === undefined || scratch.reserveWithIds(nodeId, bundle) === null) return null;
    nodeIds[i] = nodeId;
  }
  return nodeIds;
}

/** Reserves every bundle on one node of the scratch ledger, or none (rolled back). */
function reserveAllOn(scratch: ResourceLedger, nodeId: string, bundles: readonly ResourceSet[]): boolean {
  const taken: { bundle: ResourceSet; gpuIds: number[] }[] = [];
  for (const bundle of bundles) {
    const got = scratch.reserveWithIds(nodeId, bundle);
    if (got === null) {
      for (const t of taken.reverse()) scratch.releaseWithIds(nodeId, t.bundle, t.gpuIds);
      return false;
    }
    taken.push({ bundle, gpuIds: got.gpuIds });
  }
  return true;
}
