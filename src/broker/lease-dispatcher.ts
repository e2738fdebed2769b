/**
 * Lease dispatch (Ray's GCS resource manager with the raylet's lease granting folded in):
 * owners ask for worker leases, the placement strategy picks a node, the resources are
 * reserved in the ledger and the node is told to hand a worker to the owner. Nothing is
 * granted beyond a node's capacity; work that does not fit waits in submission order
 * (placement-queue.ts); every release retries the waiting work. The strategies themselves
 * are pure (src/scheduling/strategies); this module only applies their decisions.
 */
import { nodeOfLease, type LeaseId, type NodeId, type ReplyQueue, type RequestId } from '../protocol/ids';
import { nodeQueue } from '../protocol/queues';
import type { RequestLeaseMsg } from '../protocol/messages/broker';
import type { NodeLeaseReport, Resources } from '../protocol/wire';
import { encodeError } from '../serialization/error-codec';
import { TaskUnschedulableError } from '../errors/ray-errors';
import type { ResourceLedger } from '../scheduling/ledger/resource-ledger';
import { formatResources } from '../scheduling/ledger/resource-set';
import { createStrategies, type StrategyByName } from '../scheduling/strategies/strategy-registry';
import { GrantBook, withoutCpu, type Grant, type PendingPlacement } from './grants';
import { PlacementQueue, type QueueDecision } from './placement-queue';
import type { Send } from './typed-send';

/** What a {@link LeaseDispatcher} needs to know of placement groups. */
export interface BundleDirectory {
  /** Where work scheduled into group `pg` (bundle `index`, -1 = any) goes now. */
  decide(pg: string, index: number, demand: Resources): QueueDecision;
  /** GPU ids on the real node for GPU ids `ids` of `bundle`. */
  realGpuIds(bundle: string, ids: number[]): number[];
}

/** Options of a {@link LeaseDispatcher}. */
export interface LeaseDispatcherOptions {
  readonly nodes: ResourceLedger;
  /** The bundle ledger (placement-group bundles as pseudo-nodes). */
  readonly bundles: ResourceLedger;
  readonly placementGroups: BundleDirectory;
  readonly send: Send;
  /** Infeasible work (and the owner to tell, when known). */
  readonly warn: (message: string, owner?: ReplyQueue) => void;
  /** A new leader still waits for node reports (nothing is infeasible yet). */
  readonly restoring: () => boolean;
  /** Uniform in [0, 1) for the strategies (default Math.random). */
  readonly random?: () => number;
  /** The node DEFAULT prefers when a request names none (the embedded default's only node). */
  readonly preferredNodeId?: string;
}

/** Task leases, the grants behind them, and the queue of work waiting for resources. */
export class LeaseDispatcher {
  private readonly strategies: StrategyByName = createStrategies();
  private readonly book: GrantBook;
  private readonly queue: PlacementQueue;
  private readonly leaseRequests = new Map<string, PendingPlacement>();

  constructor(private readonly options: LeaseDispatcherOptions) {
    this.book = new GrantBook({
      nodes: options.nodes,
      bundles: options.bundles,
      realGpuIds: (bundle, ids) => options.placementGroups.realGpuIds(bundle, ids),
      onRelease: () => this.queue.scheduleDispatch(),
    });
    this.queue = new PlacementQueue({
      decide: (p) => this.decide(p),
      reserve: (node, demand, bundle) => this.book.reserve(node, demand, bundle),
      restoring: options.restoring,
      warn: options.warn,
      // A task lease request's owner hears it as a message too (its process need not wait for it).
      infeasible: (p) => {
        if (!p.actorCreation && p.owner && !p.attempt) options.send(p.owner, { t: 'lease-infeasible', req: p.id as RequestId });
      },
      waiting: () => this.wantLeases(),
    });
  }

  /**
   * Work waits for resources: owners keep a task lease idle for a short while after their
   * last task (task-submitter.ts), so ask each owner holding task leases to give back the
   * idle ones now. An owner whose leases all run tasks ignores it.
   */
  private wantLeases(): void {
    const owners = new Set<ReplyQueue>();
    for (const g of this.book.all()) if (g.owner && !g.actor) owners.add(g.owner);
    for (const owner of owners) this.options.send(owner, { t: 'leases-wanted' });
  }

  // ------------------------------------------------------------------ the queue and the ledger

  /** Queue a placement; it is tried at once and again after every release. */
  enqueue(p: PendingPlacement): void {
    this.queue.enqueue(p);
  }

  removePending(p: PendingPlacement): void {
    this.queue.remove(p);
  }

  /** Try waiting work again (after a node joined, or once a new leader's rebuild is over). */
  scheduleDispatch(): void {
    this.queue.scheduleDispatch();
  }

  /** Give back a grant's resources (once; later calls are no-ops) and retry waiting work. */
  release(g: Grant): void {
    this.book.release(g);
  }

  /** Reserve `demand` where `target` was placed (same ledger: node or bundle). */
  reserveLike(target: Grant, demand: Resources, extra: Partial<Grant> = {}): Grant | null {
    return this.book.reserveLike(target, demand, extra);
  }

  hasGrant(lease: LeaseId): boolean {
    return this.book.has(lease);
  }

  /** Every grant in force. */
  grants(): Grant[] {
    return this.book.all();
  }

  /** What waits, as `raybus status` lists it. */
  pendingList(): ReturnType<PlacementQueue['list']> {
    return this.queue.list();
  }

  // ------------------------------------------------------------------ task leases

  requestLease(msg: RequestLeaseMsg): void {
    const { send } = this.options;
    const p: PendingPlacement = {
      id: msg.req,
      demand: msg.demand,
      strategy: msg.strategy,
      ...(msg.pref ? { pref: msg.pref } : {}),
      describe: `a task needing ${formatResources(msg.demand)}${msg.desc ? ` (${msg.desc})` : ''}`,
      actorCreation: false,
      owner: msg.owner,
      notify: msg.owner,
      place: (grant) => {
        this.leaseRequests.delete(msg.req);
        this.book.record({ ...grant, owner: msg.owner });
        send(nodeQueue(grant.node), { t: 'start-lease', lease: grant.id, req: msg.req, owner: msg.owner, demand: msg.demand, gpuIds: grant.gpuIds, ...(msg.env ? { env: msg.env } : {}) });
      },
      fail: (reason) => {
        this.leaseRequests.delete(msg.req);
        send(msg.owner, { t: 'lease-failed', req: msg.req, err: encodeError(new TaskUnschedulableError(reason)) });
      },
    };
    this.leaseRequests.set(msg.req, p);
    this.enqueue(p);
  }

  cancelLeaseRequest(req: RequestId): void {
    const p = this.leaseRequests.get(req);
    this.leaseRequests.delete(req);
    if (p) this.removePending(p);
  }

  /** The owner gives a lease back: the node frees the worker. */
  returnLease(lease: LeaseId): void {
    const g = this.book.get(lease);
    if (!g) {
      // Granted by an earlier leader and never reported to this one: the node still frees it.
      const node = nodeOfLease(lease);
      if (node) this.options.send(nodeQueue(node), { t: 'release-lease', lease });
      return;
    }
    this.release(g);
    this.options.send(nodeQueue(g.node), { t: 'release-lease', lease: g.id });
  }

  /**
   * The task on `lease` waits in `get`/`wait` (`blocked`): its CPU goes to waiting work; or
   * it goes on: its CPU is taken back even beyond availability (Ray's
   * Release/ReturnCpuResources for blocked workers). Unknown leases are ignored.
   */
  leaseBlocked(lease: LeaseId, blocked: boolean): void {
    const g = this.book.get(lease);
    if (!g) return;
    if (blocked) this.book.lendCpu(g);
    else this.book.takeBackCpu(g);
  }

  /** A draining node gave an idle lease back: its owner loses it. */
  revokeLease(lease: LeaseId, reason: string): void {
    const g = this.book.get(lease);
    if (!g) return;
    this.release(g);
    if (g.owner) this.options.send(g.owner, { t: 'lease-lost', lease: g.id, reason });
  }

  /** The worker of `lease` died: its grant is released and returned (undefined if unknown). */
  releaseLease(lease: LeaseId | undefined): Grant | undefined {
    const g = lease ? this.book.get(lease) : undefined;
    if (g) this.release(g);
    return g;
  }

  /** Node `node` is gone: every grant on it is released and returned (the caller fails them over). */
  releaseNode(node: NodeId): Grant[] {
    const out: Grant[] = [];
    for (const g of this.book.all()) {
      if (g.node !== node) continue;
      this.release(g);
      out.push(g);
    }
    this.scheduleDispatch();
    return out;
  }

  /** Owners matching `match` are gone: their task leases are released (workers stopped) and requests dropped. */
  dropOwners(match: (owner: ReplyQueue) => boolean): void {
    for (const g of this.book.all()) {
      if (g.actor || !g.owner || !match(g.owner)) continue;
      this.release(g);
      this.options.send(nodeQueue(g.node), { t: 'kill-worker', lease: g.id });
    }
    for (const [req, p] of [...this.leaseRequests]) {
      if (!p.owner || !match(p.owner)) continue;
      this.leaseRequests.delete(req);
      this.removePending(p);
    }
  }

  /** Placement group `pg` was removed: its running tasks fail (without retry), its waiting work fails. */
  dropPlacementGroup(pg: string): void {
    const { send } = this.options;
    for (const g of this.book.all()) {
      if (!g.bundle?.startsWith(`${pg}#`) || g.actor) continue;
      this.release(g);
      send(nodeQueue(g.node), { t: 'kill-worker', lease: g.id });
      if (g.owner) send(g.owner, { t: 'lease-lost', lease: g.id, reason: `its placement group ${pg} was removed`, fatal: true });
    }
    for (const p of this.queue.items()) {
      if (p.strategy.kind === 'PLACEMENT_GROUP' && p.strategy.pg === pg) {
        this.removePending(p);
        p.fail(`its placement group ${pg} was removed`);
      }
    }
    this.scheduleDispatch();
  }

  /**
   * A lease a (re-)registering node reports: recorded as a grant (reserving what it holds; a
   * report beyond capacity is recorded without a reservation). Undefined if already known.
   */
  adoptReported(node: NodeId, l: NodeLeaseReport): Grant | undefined {
    if (this.book.has(l.lease)) return undefined;
    // A task waiting in get/wait holds all but its CPU, which stays lent out.
    const lent = l.blocked === true && !l.actor && (l.demand.CPU ?? 0) > 0;
    const a = this.options.nodes.reserveWithIds(node, lent ? withoutCpu(l.demand) : l.demand);
    const g: Grant = {
      id: l.lease,
      node,
      demand: a ? l.demand : {},
      gpuIds: a ? a.gpuIds : [],
      ...(l.owner ? { owner: l.owner } : {}),
      ...(l.actor ? { actor: l.actor.actorId } : {}),
      ...(a && lent ? { lentCpu: l.demand.CPU } : {}),
    };
    this.book.record(g);
    return g;
  }

  private decide(p: PendingPlacement): QueueDecision {
    const { options } = this;
    const base = { ledger: options.nodes, demand: p.demand, random: options.random ?? Math.random, actorCreation: p.actorCreation };
    const pref = p.pref ?? options.preferredNodeId;
    switch (p.strategy.kind) {
      case 'PLACEMENT_GROUP':
        return options.placementGroups.decide(p.strategy.pg, p.strategy.bundle, p.demand);
      case 'SPREAD':
        return this.strategies.SPREAD.pick(base);
      case 'NODE_AFFINITY':
        return this.strategies.NODE_AFFINITY.pick({ ...base, affinity: { nodeId: p.strategy.nodeId, soft: p.strategy.soft } });
      default:
        return this.strategies.DEFAULT.pick({ ...base, ...(pref ? { preferredNodeId: pref } : {}) });
    }
  }
}
