/**
 * The placement strategy port: given the ledger and a demand, say where work goes now.
 * One strategy per file, chosen by name through `strategy-registry.ts`. Strategies only
 * decide; the caller reserves (`ledger.reserveWithIds`) what they pick.
 */
import type { ResourceLedger, ResourceSet } from '../ledger/resource-ledger';

/**
 * What a strategy decided:
 * - `node`: place on `nodeId` now (the demand fits there);
 * - `wait`: feasible, but nothing fits now — keep it queued and retry on the next release;
 * - `infeasible`: no alive node's totals could ever fit — keep it pending and warn once
 *   (as Ray does for infeasible work), without blocking other work;
 * - `unschedulable`: fail the work (`TaskUnschedulableError` / `ActorUnschedulableError`).
 */
export type PlacementDecision =
  | { readonly kind: 'node'; readonly nodeId: string }
  | { readonly kind: 'wait' }
  | { readonly kind: 'infeasible' }
  | { readonly kind: 'unschedulable'; readonly reason: string };

/** What every strategy is given. */
export interface PlacementContext {
  readonly ledger: ResourceLedger;
  readonly demand: ResourceSet;
  /** The submitter's (local) node, preferred by the hybrid policy. */
  readonly preferredNodeId?: string;
  /** Uniform in [0, 1), injected so tests are deterministic (see `mulberry32`). */
  readonly random: () => number;
  /** An actor creation: with an empty demand Ray places it on a random node. */
  readonly actorCreation?: boolean;
}

/** A placement strategy; `Extra` is what its requests carry beyond the common context. */
export interface PlacementStrategy<Extra extends object = object> {
  readonly name: string;
  pick(ctx: PlacementContext & Extra): PlacementDecision;
}

/** The decision when nothing fits now: `wait` if some node could ever fit, else `infeasible`. */
export function noFitDecision(ledger: ResourceLedger, demand: ResourceSet): PlacementDecision {
  return ledger.isFeasible(demand) ? WAIT : INFEASIBLE;
}

/** Shared `wait` decision. */
export const WAIT: PlacementDecision = Object.freeze({ kind: 'wait' });

/** Shared `infeasible` decision. */
const INFEASIBLE: PlacementDecision = Object.freeze({ kind: 'infeasible' });

/** Builds a `node` decision. */
export function onNode(nodeId: string): PlacementDecision {
  return { kind: 'node', nodeId };
}

/** An index in [0, n) from an injected random source (guards against a source returning 1). */
export function randomIndex(random: () => number, n: number): number {
  return Math.min(n - 1, Math.floor(random() * n));
}
