/**
 * SPREAD: best-effort round-robin over the nodes that fit now (Ray's "Scheduling" docs; Ray's
 * `SpreadSchedulingPolicy`). The cursor lives in the instance, so one instance should serve
 * all SPREAD requests of a broker.
 */
import {
  noFitDecision,
  onNode,
  type PlacementContext,
  type PlacementDecision,
  type PlacementStrategy,
} from './placement-strategy';

/** The round-robin SPREAD strategy. Stateful: keeps the next start position. */
export class SpreadStrategy implements PlacementStrategy {
  readonly name = 'SPREAD';
  private cursor = 0;

  /** Picks the first node that fits, starting after the last node chosen. */
  pick(ctx: PlacementContext): PlacementDecision {
    const { ledger, demand } = ctx;
    const nodes = ledger.nodeIds();
    const n = nodes.length;
    for (let i = 0; i < n; i++) {
      const index = (this.cursor + i) % n;
      const nodeId = nodes[index] as string;
      if (ledger.fits(nodeId, demand)) {
        this.cursor = (index + 1) % n;
        return onNode(nodeId);
      }
    }
    return noFitDecision(ledger, demand);
  }
}
