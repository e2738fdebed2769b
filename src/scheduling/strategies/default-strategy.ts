/**
 * DEFAULT: Ray's hybrid policy (Ray's "Scheduling" docs; `hybrid_scheduling_policy.cc`).
 *
 * Score = critical resource utilization (`ledger.utilization`, measured before placing),
 * clamped to 0 while below `spreadThreshold`. The preferred (local) node wins when it fits
 * and its score is no worse than the best; otherwise a node is drawn uniformly from the
 * top k lowest-score nodes that fit, k = max(floor(aliveNodes * topKFraction), topKAbsolute).
 * Effect: pack onto the local node until it is 50% used, then spread. Ties keep the ledger's
 * stable node order.
 */
import { toUnitDemand } from '../ledger/resource-set';
import {
  noFitDecision,
  onNode,
  randomIndex,
  type PlacementContext,
  type PlacementDecision,
  type PlacementStrategy,
} from './placement-strategy';

/** Tuning of the hybrid policy; defaults are Ray's config defaults. */
export interface DefaultStrategyOptions {
  /** `scheduler_spread_threshold`: scores below it count as 0. Default 0.5. */
  readonly spreadThreshold?: number;
  /** `scheduler_top_k_fraction`. Default 0.2. */
  readonly topKFraction?: number;
  /** `scheduler_top_k_absolute`. Default 1. */
  readonly topKAbsolute?: number;
}

/** `DefaultStrategyOptions` after defaults. */
export type ResolvedDefaultStrategyOptions = Required<DefaultStrategyOptions>;

/** The hybrid (DEFAULT) strategy. Stateless: one instance may serve every request. */
export class DefaultStrategy implements PlacementStrategy {
  readonly name = 'DEFAULT';
  readonly options: ResolvedDefaultStrategyOptions;

  /** @throws RangeError for options outside their ranges. */
  constructor(options: DefaultStrategyOptions = {}) {
    const resolved = {
      spreadThreshold: options.spreadThreshold ?? 0.5,
      topKFraction: options.topKFraction ?? 0.2,
      topKAbsolute: options.topKAbsolute ?? 1,
    };
    if (!(resolved.spreadThreshold >= 0 && resolved.spreadThreshold <= 1)) {
      throw new RangeError(`spreadThreshold must be in [0, 1], got ${resolved.spreadThreshold}`);
    }
    if (!(resolved.topKFraction >= 0 && resolved.topKFraction <= 1)) {
      throw new RangeError(`topKFraction must be in [0, 1], got ${resolved.topKFraction}`);
    }
    if (!Number.isInteger(resolved.topKAbsolute) || resolved.topKAbsolute < 1) {
      throw new RangeError(`topKAbsolute must be an integer >= 1, got ${resolved.topKAbsolute}`);
    }
    this.options = resolved;
  }

  /** Picks a node (see the module comment). */
  pick(ctx: PlacementContext): PlacementDecision {
    const { ledger, demand, random, preferredNodeId } = ctx;
    const nodes = ledger.nodeIds();
    if (ctx.actorCreation === true && toUnitDemand(demand).entries.length === 0) {
      // Ray places zero-resource actors on a random node, whatever their scores.
      return nodes.length === 0 ? noFitDecision(ledger, demand) : onNode(nodes[randomIndex(random, nodes.length)] as string);
    }
    // Fast path: a fitting local node below the threshold scores 0, the best possible.
    const preferredFits = preferredNodeId !== undefined && ledger.fits(preferredNodeId, demand);
    if (preferredFits && this.score(ctx, preferredNodeId) === 0) return onNode(preferredNodeId);

    const candidates: { nodeId: string; score: number; order: number }[] = [];
    for (let i = 0; i < nodes.length; i++) {
      const nodeId = nodes[i] as string;
      if (ledger.fits(nodeId, demand)) candidates.push({ nodeId, score: this.score(ctx, nodeId), order: i });
    }
    if (candidates.length === 0) return noFitDecision(ledger, demand);
    if (preferredFits) {
      const preferredScore = this.score(ctx, preferredNodeId);
      if (candidates.every((c) => preferredScore <= c.score)) return onNode(preferredNodeId);
    }
    candidates.sort((a, b) => a.score - b.score || a.order - b.order);
    const { topKFraction, topKAbsolute } = this.options;
    const k = Math.min(candidates.length, Math.max(Math.floor(nodes.length * topKFraction), topKAbsolute));
    return onNode((candidates[randomIndex(random, k)] as (typeof candidates)[number]).nodeId);
  }

  private score(ctx: PlacementContext, nodeId: string): number {
    const u = ctx.ledger.utilization(nodeId);
    return u < this.options.spreadThreshold ? 0 : u;
  }
}
