/**
 * NODE_AFFINITY: run on one named node (Ray's `NodeAffinitySchedulingStrategy`).
 *
 * - Node alive and feasible: only there, waiting for resources if need be — soft or not.
 *   `spillOnUnavailable` (soft only) falls back to DEFAULT when it is merely busy;
 *   `failOnUnavailable` (hard only) makes a busy node `unschedulable` instead of waiting.
 * - Node dead/unknown, or its totals can never fit the demand: soft → DEFAULT over the
 *   cluster; hard → `unschedulable` (TaskUnschedulableError / ActorUnschedulableError).
 */
import { formatResources } from '../ledger/resource-set';
import { DefaultStrategy } from './default-strategy';
import {
  onNode,
  WAIT,
  type PlacementContext,
  type PlacementDecision,
  type PlacementStrategy,
} from './placement-strategy';

/** The affinity a request carries. */
export interface NodeAffinityTarget {
  readonly nodeId: string;
  readonly soft: boolean;
  /** Ray's `_spill_on_unavailable` (soft only). */
  readonly spillOnUnavailable?: boolean;
  /** Ray's `_fail_on_unavailable` (hard only). */
  readonly failOnUnavailable?: boolean;
}

/** What NODE_AFFINITY requests carry beyond the common context. */
export interface NodeAffinityExtra {
  readonly affinity: NodeAffinityTarget;
}

/** The node affinity strategy. Its soft fallback is a `DefaultStrategy` (stateless). */
export class NodeAffinityStrategy implements PlacementStrategy<NodeAffinityExtra> {
  readonly name = 'NODE_AFFINITY';

  /** @param fallback used for soft affinity when the node cannot take the work. */
  constructor(private readonly fallback: PlacementStrategy = new DefaultStrategy()) {}

  /** Decides for `ctx.affinity` (see the module comment). */
  pick(ctx: PlacementContext & NodeAffinityExtra): PlacementDecision {
    const { ledger, demand, affinity } = ctx;
    const { nodeId, soft } = affinity;
    if (!ledger.isAlive(nodeId)) {
      const state = ledger.hasNode(nodeId) ? 'dead' : 'unknown';
      return soft ? this.fallback.pick(ctx) : unschedulable(`node ${nodeId} is ${state}`);
    }
    if (!ledger.feasibleOn(nodeId, demand)) {
      return soft
        ? this.fallback.pick(ctx)
        : unschedulable(
            `demand ${formatResources(demand)} can never fit on node ${nodeId} ` +
              `(totals ${formatResources(ledger.totals(nodeId))})`,
          );
    }
    if (ledger.fits(nodeId, demand)) return onNode(nodeId);
    if (soft && affinity.spillOnUnavailable === true) return this.fallback.pick(ctx);
    if (!soft && affinity.failOnUnavailable === true) {
      return unschedulable(`node ${nodeId} has no room for ${formatResources(demand)} now`);
    }
    return WAIT;
  }
}

function unschedulable(reason: string): PlacementDecision {
  return { kind: 'unschedulable', reason };
}
