/**
 * The nodes a broker leader knows: every node that ever registered (Ray lists dead nodes too,
 * with alive: false), which of them are draining (they take no new work), and their entries
 * in the node ledger (added on registration, marked dead when they drain or go).
 */
import type { NodeId } from '../protocol/ids';
import type { NodeRegisterMsg } from '../protocol/messages/broker';
import type { ResourceLedger } from '../scheduling/ledger/resource-ledger';

/** What a registration did: `joined` (new), `back` (after this leader declared it dead) or `ignored`. */
export type Registration = 'joined' | 'back' | 'ignored';

/** What a node process refused, as its last lease report said. */
export interface NodeRefusals {
  /** Unauthenticated messages, by reason. */
  readonly refused?: Record<string, number>;
  /** Malformed messages. */
  readonly malformed?: number;
}

/** Known nodes, their draining state and refusals, kept in step with the node ledger. */
export class NodeDirectory {
  private readonly known = new Set<NodeId>();
  private readonly draining = new Set<NodeId>();
  private readonly refusals = new Map<NodeId, NodeRefusals>();
  /** When each node registered first, and when it died or left (ms, the broker's clock). */
  private readonly lifetimes = new Map<NodeId, { start?: number; end?: number }>();

  /** @param now the broker's clock (times shown by the state API) */
  constructor(
    private readonly ledger: ResourceLedger,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * A node (re-)registers: it registers again after a reconnect and after an election, and the
   * first one counts. The caller marks it draining (`drain`) once its report is adopted.
   */
  register(msg: NodeRegisterMsg): Registration {
    const { node } = msg;
    if (this.ledger.hasNode(node) && (this.ledger.isAlive(node) || this.draining.has(node))) return 'ignored';
    const cameBack = this.ledger.hasNode(node);
    this.known.add(node);
    const t = this.lifetimes.get(node);
    if (!t) this.lifetimes.set(node, { start: this.now() });
    else t.end = undefined;
    this.ledger.addNode(node, msg.resources, msg.labels);
    return cameBack ? 'back' : 'joined';
  }

  /** A node stops taking new work; releases of its running work are still accepted. */
  drain(node: NodeId): void {
    this.draining.add(node);
    this.ledger.removeNode(node);
  }

  /** A node died or left; false if it never registered. */
  remove(node: NodeId): boolean {
    if (!this.ledger.hasNode(node)) return false;
    this.draining.delete(node);
    const t = this.lifetimes.get(node);
    if (t) t.end = this.now();
    this.ledger.removeNode(node);
    return true;
  }

  isDraining(node: NodeId): boolean {
    return this.draining.has(node);
  }

  /** Remember what node `node` reported it refused (for `raybus status`). */
  recordRefusals(node: NodeId, refused: Record<string, number> | undefined, malformed: number | undefined): void {
    if (!this.known.has(node)) return;
    this.refusals.set(node, { ...(refused ? { refused } : {}), ...(malformed ? { malformed } : {}) });
  }

  /** What node `node` last reported it refused. */
  refusalsOf(node: NodeId): NodeRefusals | undefined {
    return this.refusals.get(node);
  }

  /** When `node` registered first, and when it died or left. */
  times(node: NodeId): { start?: number; end?: number } {
    return this.lifetimes.get(node) ?? {};
  }

  /** Every node that ever registered, in order of first registration. */
  all(): NodeId[] {
    return [...this.known];
  }
}
