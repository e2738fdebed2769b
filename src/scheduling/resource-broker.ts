/**
 * The resource broker: a singleton actor on the bus (queue `raybus.broker`) that owns the
 * cluster's resource ledger. Nodes register their totals; owners ask for worker leases;
 * actors are placed through it. Nothing is granted beyond a node's capacity; work that does
 * not fit waits in submission order and starts as soon as it fits; infeasible work waits
 * visibly (a warning naming it and its demand, once) without blocking feasible work.
 */
import type { Subscription, Transport } from '../transport/transport';
import { decodeEnvelope, encodeEnvelope } from '../serialization/serializer';
import { encodeError } from '../serialization/error-codec';
import { TaskUnschedulableError } from '../errors/ray-errors';
import {
  BROKER_QUEUE,
  nodeQueue,
  type BrokerMsg,
  type ClusterInfo,
  type RequestLeaseMsg,
  type Resources,
  type WireStrategy,
} from '../core/protocol';
import { ResourceLedger } from './ledger/resource-ledger';
import { createStrategies, type StrategyByName } from './strategies/strategy-registry';
import type { PlacementDecision } from './strategies/placement-strategy';
import { ActorRegistry } from '../actors/actor-registry';
import { formatResources } from './ledger/resource-set';
import { PlacementGroupManager } from './placement-group-manager';

/** A reservation on a node: a task lease or an actor's lifetime resources. */
export interface Grant {
  readonly id: string;
  readonly node: string;
  readonly demand: Resources;
  readonly gpuIds: number[];
  readonly owner?: string;
  readonly actor?: string;
  /** Set when reserved from a placement-group bundle (pseudo-node of the bundle ledger). */
  readonly bundle?: string;
  /** GPU ids within the bundle (the bundle ledger's own numbering). */
  readonly bundleGpuIds?: number[];
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
  /** A placement that reserves by itself (placement groups): tried instead of a strategy. */
  attempt?(): 'placed' | 'wait' | 'infeasible';
  /** Called with the node chosen (resources already reserved). */
  place(grant: Grant): void;
  fail(reason: string): void;
  warned?: boolean;
}

let grantSeq = 0;

export class ResourceBroker {
  readonly ledger = new ResourceLedger();
  private readonly strategies: StrategyByName = createStrategies();
  private readonly pending: PendingPlacement[] = [];
  private readonly grants = new Map<string, Grant>();
  private readonly leaseRequests = new Map<string, PendingPlacement>();
  readonly actors: ActorRegistry;
  readonly placementGroups: PlacementGroupManager;
  private subscription?: Subscription;
  private dispatchScheduled = false;

  constructor(
    readonly transport: Transport,
    private readonly options: { random?: () => number; preferredNodeId?: string; warn?: (msg: string) => void } = {},
  ) {
    this.actors = new ActorRegistry(this);
    this.placementGroups = new PlacementGroupManager(this);
  }

  async start(): Promise<void> {
    await this.transport.assertQueue(BROKER_QUEUE, { singleActiveConsumer: true });
    this.subscription = await this.transport.consume(
      BROKER_QUEUE,
      (d) => {
        d.ack();
        let msg: BrokerMsg;
        try {
          msg = decodeEnvelope(d.body) as BrokerMsg;
          if (typeof msg?.t !== 'string') throw new Error('no message tag');
        } catch (err) {
          process.emitWarning(`raybus broker: rejected a malformed message: ${(err as Error).message}`);
          return;
        }
        try {
          this.onMessage(msg);
        } catch (err) {
          process.emitWarning(`raybus broker: failed to handle '${msg.t}': ${(err as Error).stack}`);
        }
      },
      { prefetch: 0 },
    );
  }

  async stop(): Promise<void> {
    await this.subscription?.cancel();
    await this.actors.stop();
  }

  send(queue: string, msg: object): void {
    this.transport.publish(queue, encodeEnvelope(msg)).catch(() => undefined);
  }

  private onMessage(msg: BrokerMsg): void {
    switch (msg.t) {
      case 'node-register':
        this.knownNodes.add(msg.node);
        this.ledger.addNode(msg.node, msg.resources, msg.labels);
        return this.scheduleDispatch();
      case 'node-gone':
        return this.onNodeGone(msg.node);
      case 'create-pg':
        return this.placementGroups.create(msg);
      case 'remove-pg':
        this.removePlacementGroup(msg.pg);
        this.send(msg.reply, { t: 'ack', req: msg.req });
        return;
      case 'pg-table':
        this.send(msg.reply, { t: 'pg-table-reply', req: msg.req, table: this.placementGroups.table() });
        return;
      case 'request-lease':
        return this.requestLease(msg);
      case 'cancel-lease-request': {
        const p = this.leaseRequests.get(msg.req);
        this.leaseRequests.delete(msg.req);
        if (p) this.removePending(p);
        return;
      }
      case 'return-lease': {
        const g = this.grants.get(msg.lease);
        if (!g) return;
        this.release(g);
        this.send(nodeQueue(g.node), { t: 'release-lease', lease: g.id });
        return;
      }
      case 'worker-died': {
        const g = msg.lease ? this.grants.get(msg.lease) : undefined;
        if (g) this.release(g);
        if (msg.actor) this.actors.onWorkerDied(msg.actor, msg.reason, msg.lease);
        else if (g?.owner) this.send(g.owner, { t: 'lease-lost', lease: g.id, reason: msg.reason });
        return;
      }
      case 'cluster-info-request':
        this.send(msg.reply, { t: 'cluster-info', req: msg.req, info: this.clusterInfo() });
        return;
      default:
        return this.actors.onMessage(msg);
    }
  }

  /** Every node that ever registered (dead ones are listed with alive: false, as in Ray). */
  private readonly knownNodes = new Set<string>();

  clusterInfo(): ClusterInfo {
    return {
      nodes: [...this.knownNodes].map((nodeId) => ({
        nodeId,
        alive: this.ledger.isAlive(nodeId),
        resources: { ...this.ledger.totals(nodeId) },
        labels: { ...this.ledger.labels(nodeId) },
      })),
      total: { ...this.ledger.clusterTotals() },
      available: { ...this.ledger.clusterAvailable() },
    };
  }

  /** A node died or left: its work fails over (leases are lost, actors restart elsewhere). */
  private onNodeGone(node: string): void {
    if (!this.ledger.hasNode(node)) return;
    this.ledger.removeNode(node);
    for (const g of [...this.grants.values()]) {
      if (g.node !== node) continue;
      this.release(g);
      if (g.actor) this.actors.onWorkerDied(g.actor, `The actor died because its node ${node} has died.`, g.id);
      else if (g.owner) this.send(g.owner, { t: 'lease-lost', lease: g.id, reason: `its node ${node} died` });
    }
    this.scheduleDispatch();
  }

  /** Remove a placement group: kill its actors, fail its running tasks, free its bundles. */
  private removePlacementGroup(pg: string): void {
    for (const g of [...this.grants.values()]) {
      if (!g.bundle?.startsWith(`${pg}#`)) continue;
      if (g.actor) continue;
      this.release(g);
      this.send(nodeQueue(g.node), { t: 'kill-worker', lease: g.id });
      if (g.owner) this.send(g.owner, { t: 'lease-lost', lease: g.id, reason: `its placement group ${pg} was removed`, fatal: true });
    }
    this.actors.killPlacementGroupActors(pg);
    for (const p of [...this.pending]) {
      if (p.strategy.kind === 'PLACEMENT_GROUP' && p.strategy.pg === pg) {
        this.removePending(p);
        p.fail(`its placement group ${pg} was removed`);
      }
    }
    this.placementGroups.remove(pg);
    this.scheduleDispatch();
  }

  private requestLease(msg: RequestLeaseMsg): void {
    const p: PendingPlacement = {
      id: msg.req,
      demand: msg.demand,
      strategy: msg.strategy,
      ...(msg.pref ? { pref: msg.pref } : {}),
      describe: `a task needing ${formatResources(msg.demand)}${msg.desc ? ` (${msg.desc})` : ''}`,
      actorCreation: false,
      place: (grant) => {
        this.leaseRequests.delete(msg.req);
        this.grants.set(grant.id, { ...grant, owner: msg.owner });
        this.send(nodeQueue(grant.node), { t: 'start-lease', lease: grant.id, req: msg.req, owner: msg.owner, demand: msg.demand, gpuIds: grant.gpuIds, ...(msg.env ? { env: msg.env } : {}) });
      },
      fail: (reason) => {
        this.leaseRequests.delete(msg.req);
        this.send(msg.owner, { t: 'lease-failed', req: msg.req, err: encodeError(new TaskUnschedulableError(reason)) });
      },
    };
    this.leaseRequests.set(msg.req, p);
    this.enqueue(p);
  }

  /** Queue a placement; it is tried at once and again after every release. */
  enqueue(p: PendingPlacement): void {
    this.pending.push(p);
    this.scheduleDispatch();
  }

  removePending(p: PendingPlacement): void {
    const i = this.pending.indexOf(p);
    if (i >= 0) this.pending.splice(i, 1);
  }

  /** Give back a grant's resources and retry waiting work. */
  release(g: Grant): void {
    if (!this.grants.delete(g.id)) return;
    if (g.bundle) {
      if (this.placementGroups.bundles.hasNode(g.bundle)) this.placementGroups.bundles.releaseWithIds(g.bundle, g.demand, g.bundleGpuIds ?? []);
    } else {
      this.ledger.releaseWithIds(g.node, g.demand, g.gpuIds);
    }
    this.scheduleDispatch();
  }

  /** Reserve `demand` where `target` was placed (same ledger: node or bundle). */
  reserveLike(target: Grant, demand: Resources, extra: Partial<Grant> = {}): Grant | null {
    if (target.bundle) {
      const a = this.placementGroups.bundles.reserveWithIds(target.bundle, demand);
      if (!a) return null;
      const g: Grant = { id: this.newGrantId(), node: target.node, demand, gpuIds: this.placementGroups.realGpuIds(target.bundle, a.gpuIds), bundle: target.bundle, bundleGpuIds: a.gpuIds, ...extra };
      this.grants.set(g.id, g);
      return g;
    }
    const a = this.ledger.reserveWithIds(target.node, demand);
    if (!a) return null;
    const g: Grant = { id: this.newGrantId(), node: target.node, demand, gpuIds: a.gpuIds, ...extra };
    this.grants.set(g.id, g);
    return g;
  }

  newGrantId(): string {
    grantSeq += 1;
    return `g${grantSeq.toString(16)}${Math.random().toString(16).slice(2, 8)}`;
  }

  private scheduleDispatch(): void {
    if (this.dispatchScheduled) return;
    this.dispatchScheduled = true;
    queueMicrotask(() => {
      this.dispatchScheduled = false;
      this.dispatch();
    });
  }

  /** Try every waiting placement in order; those that do not fit stay, others go on. */
  private dispatch(): void {
    const blockedShapes = new Set<string>();
    for (let i = 0; i < this.pending.length; ) {
      const p = this.pending[i]!;
      if (p.attempt) {
        const r = p.attempt();
        if (r === 'placed') {
          this.pending.splice(i, 1);
          if (p.warned) this.infeasible.delete(p.describe);
          continue;
        }
        if (r === 'infeasible') this.warnInfeasible(p);
        i++;
        continue;
      }
      const shape = JSON.stringify(p.demand) + JSON.stringify(p.strategy);
      if (blockedShapes.has(shape)) {
        i++;
        continue;
      }
      const decision = this.decide(p);
      if (decision.kind === 'node') {
        const bundle = (decision as { bundle?: string }).bundle;
        const grant = this.reserveLike({ id: '', node: decision.nodeId, demand: {}, gpuIds: [], ...(bundle ? { bundle } : {}) }, p.demand);
        if (!grant) {
          blockedShapes.add(shape);
          i++;
          continue;
        }
        this.pending.splice(i, 1);
        if (p.warned) this.infeasible.delete(p.describe);
        p.place(grant);
        continue;
      }
      if (decision.kind === 'unschedulable') {
        this.pending.splice(i, 1);
        p.fail(decision.reason);
        continue;
      }
      if (decision.kind === 'infeasible') this.warnInfeasible(p);
      // Same shape later in the queue cannot fit either: keep FIFO within a shape.
      blockedShapes.add(shape);
      i++;
    }
  }

  private warnInfeasible(p: PendingPlacement): void {
    if (p.warned) return;
    p.warned = true;
    this.infeasible.add(p.describe);
    (this.options.warn ?? ((m: string) => process.emitWarning(m)))(
      `raybus: ${p.describe} is infeasible: no node in the cluster could ever provide it. It stays pending until a node that fits joins.`,
    );
  }

  /** Descriptions of work that waited as infeasible (for status displays). */
  readonly infeasible = new Set<string>();

  private decide(p: PendingPlacement): PlacementDecision {
    const base = { ledger: this.ledger, demand: p.demand, random: this.options.random ?? Math.random, actorCreation: p.actorCreation };
    const pref = p.pref ?? this.options.preferredNodeId;
    const preferred = pref ? { preferredNodeId: pref } : {};
    switch (p.strategy.kind) {
      case 'PLACEMENT_GROUP':
        return this.placementGroups.decide(p.strategy.pg, p.strategy.bundle, p.demand);
      case 'SPREAD':
        return this.strategies.SPREAD.pick(base);
      case 'NODE_AFFINITY':
        return this.strategies.NODE_AFFINITY.pick({ ...base, affinity: { nodeId: p.strategy.nodeId, soft: p.strategy.soft } });
      default:
        return this.strategies.DEFAULT.pick({ ...base, ...preferred });
    }
  }
}
