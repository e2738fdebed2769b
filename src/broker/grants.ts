/**
 * What the broker has handed out: every grant (a task lease or an actor's lifetime
 * resources) with the reservation behind it, on the node ledger or, for work in a placement
 * group, on the bundle ledger (bundles are pseudo-nodes there). Also the shape of work that
 * waits for resources ({@link PendingPlacement}), shared by every part that queues work.
 */
import { leaseId, type ActorId, type LeaseId, type NodeId, type ReplyQueue } from '../protocol/ids';
import type { Resources, WireStrategy } from '../protocol/wire';
import type { ResourceLedger } from '../scheduling/ledger/resource-ledger';

/** A reservation on a node: a task lease or an actor's lifetime resources. */
export interface Grant {
  readonly id: LeaseId;
  readonly node: NodeId;
  readonly demand: Resources;
  readonly gpuIds: number[];
  readonly owner?: ReplyQueue;
  readonly actor?: ActorId;
  /** Set when reserved from a placement-group bundle (pseudo-node of the bundle ledger). */
  readonly bundle?: string;
  /** GPU ids within the bundle (the bundle ledger's own numbering). */
  readonly bundleGpuIds?: number[];
  /**
   * CPU lent out while the lease's task waits in `get`/`wait` (Ray releases a blocked
   * worker's CPU, and only its CPU): not part of the reservation until it is taken back.
   */
  lentCpu?: number;
}

/** Something waiting for resources. */
export interface PendingPlacement {
  readonly id: string;
  readonly demand: Resources;
  readonly strategy: WireStrategy;
  readonly describe: string;
  readonly actorCreation: boolean;
  /** The submitter's node, preferred by DEFAULT. */
  readonly pref?: string;
  /** The process that asked (task lease requests). */
  readonly owner?: ReplyQueue;
  /** Who is told when it is infeasible (the task's, actor's or group's owner). */
  readonly notify?: ReplyQueue;
  /** A placement that reserves by itself (placement groups): tried instead of a strategy. */
  attempt?(): 'placed' | 'wait' | 'infeasible';
  /** Called with the grant made for it (resources already reserved). */
  place(grant: Grant): void;
  fail(reason: string): void;
  /** Set once it was reported infeasible (warned about once, listed as infeasible). */
  warned?: boolean;
}

/** What a {@link GrantBook} reserves from. */
export interface GrantBookOptions {
  /** The node ledger. */
  readonly nodes: ResourceLedger;
  /** The bundle ledger: one pseudo-node per placement-group bundle. */
  readonly bundles: ResourceLedger;
  /** GPU ids on the real node for GPU ids `ids` of `bundle`. */
  realGpuIds(bundle: string, ids: number[]): number[];
  /** Resources came free: waiting work may fit now. */
  onRelease(): void;
}

let grantSeq = 0;

/** A new lease id; it names its node, so that any later leader can route its release. */
function newGrantId(node: NodeId | '' = ''): LeaseId {
  grantSeq += 1;
  return leaseId(node, grantSeq);
}

/** The grants in force and the reservations behind them; each is released exactly once. */
export class GrantBook {
  private readonly grants = new Map<string, Grant>();

  constructor(private readonly options: GrantBookOptions) {}

  get(lease: LeaseId | string): Grant | undefined {
    return this.grants.get(lease);
  }

  has(lease: LeaseId | string): boolean {
    return this.grants.has(lease);
  }

  /** Every grant in force (a copy: callers release while they iterate). */
  all(): Grant[] {
    return [...this.grants.values()];
  }

  /** Record a grant whose resources are already accounted for (a node's report, a placed request). */
  record(g: Grant): void {
    this.grants.set(g.id, g);
  }

  /** Reserve `demand` on `node` (or in `bundle` of the bundle ledger); null when it does not fit. */
  reserve(node: NodeId, demand: Resources, bundle?: string, extra: Partial<Grant> = {}): Grant | null {
    if (bundle) {
      const a = this.options.bundles.reserveWithIds(bundle, demand);
      if (!a) return null;
      const gpuIds = this.options.realGpuIds(bundle, a.gpuIds);
      return this.add({ id: newGrantId(node), node, demand, gpuIds, bundle, bundleGpuIds: a.gpuIds, ...extra });
    }
    const a = this.options.nodes.reserveWithIds(node, demand);
    if (!a) return null;
    return this.add({ id: newGrantId(node), node, demand, gpuIds: a.gpuIds, ...extra });
  }

  /** Reserve `demand` where `target` was placed (same ledger: node or bundle). */
  reserveLike(target: Grant, demand: Resources, extra: Partial<Grant> = {}): Grant | null {
    return this.reserve(target.node, demand, target.bundle, extra);
  }

  /** Give back a grant's resources; false if it was released already (or never made). */
  release(g: Grant): boolean {
    if (!this.grants.delete(g.id)) return false;
    // The part lent out was given back already.
    const demand = g.lentCpu ? withoutCpu(g.demand) : g.demand;
    if (g.bundle) {
      if (this.options.bundles.hasNode(g.bundle)) this.options.bundles.releaseWithIds(g.bundle, demand, g.bundleGpuIds ?? []);
    } else {
      this.options.nodes.releaseWithIds(g.node, demand, g.gpuIds);
    }
    this.options.onRelease();
    return true;
  }

  /**
   * The task of task lease `g` waits in `get`/`wait`: its CPU (on the node, or in its
   * bundle) is free for other work meanwhile. False when there is nothing to lend.
   */
  lendCpu(g: Grant): boolean {
    const cpu = g.demand.CPU ?? 0;
    if (g.actor || g.lentCpu || !(cpu > 0) || !this.grants.has(g.id)) return false;
    const part = { CPU: cpu };
    if (g.bundle) {
      if (!this.options.bundles.hasNode(g.bundle)) return false;
      this.options.bundles.releaseWithIds(g.bundle, part, []);
    } else {
      this.options.nodes.releaseWithIds(g.node, part, []);
    }
    g.lentCpu = cpu;
    this.options.onRelease();
    return true;
  }

  /** The task goes on: its CPU is taken back at once, even if that overdraws the node for a while. */
  takeBackCpu(g: Grant): void {
    const cpu = g.lentCpu;
    if (!cpu || !this.grants.has(g.id)) return;
    g.lentCpu = undefined;
    if (g.bundle) {
      if (this.options.bundles.hasNode(g.bundle)) this.options.bundles.reserveOverdraw(g.bundle, { CPU: cpu });
    } else {
      this.options.nodes.reserveOverdraw(g.node, { CPU: cpu });
    }
  }

  private add(g: Grant): Grant {
    this.grants.set(g.id, g);
    return g;
  }
}

/** `demand` without its CPU (what a lease with its CPU lent out still holds). */
export function withoutCpu(demand: Resources): Resources {
  const { CPU: _cpu, ...rest } = demand;
  return rest;
}
