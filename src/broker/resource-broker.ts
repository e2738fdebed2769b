/**
 * The resource broker: a singleton actor on the bus (queue `raybus.broker`) that owns the
 * cluster's resource ledger. Nodes register their totals; owners ask for worker leases;
 * actors are placed through it. Nothing is granted beyond a node's capacity; work that does
 * not fit waits in submission order and starts as soon as it fits; infeasible work waits
 * visibly (a warning naming it and its demand, once) without blocking feasible work.
 */
import { leaseId, nodeOfLease, workerIdPrefix, type ActorId, type LeaseId, type NodeId, type ReplyQueue, type WorkerId } from '../protocol/ids';
import type { Delivery, Subscription, Transport } from '../transport/transport';
import { decodeEnvelope, encodeEnvelope } from '../serialization/serializer';
import { encodeError } from '../serialization/error-codec';
import { TaskUnschedulableError } from '../errors/ray-errors';
import { BROKER_QUEUE, OWNER_DIED_TOPIC, nodeQueue, replyQueue } from '../protocol/queues';
import type { BrokerMsg, NodeRegisterMsg, RequestLeaseMsg } from '../protocol/messages/broker';
import type { ClusterInfo, ClusterState, Resources, WireStrategy } from '../protocol/wire';
import { ResourceLedger } from '../scheduling/ledger/resource-ledger';
import { createStrategies, type StrategyByName } from '../scheduling/strategies/strategy-registry';
import type { PlacementDecision } from '../scheduling/strategies/placement-strategy';
import { ActorRegistry } from './actor-registry';
import { formatResources } from '../scheduling/ledger/resource-set';
import { PlacementGroupManager } from './placement-group-manager';
import { ClusterMembership, type BrokerClusterOptions } from './cluster-membership';

/** Options of a {@link ResourceBroker}. */
export interface ResourceBrokerOptions {
  readonly random?: () => number;
  readonly preferredNodeId?: string;
  readonly warn?: (msg: string) => void;
  /** Cluster mode (one leader among candidates on a broker): liveness, failover, durable registry. */
  readonly cluster?: BrokerClusterOptions;
}

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
  private ownerGoneSub?: Subscription;
  private dispatchScheduled = false;
  /** Cluster mode: liveness of nodes and drivers, failover after an election. */
  readonly membership?: ClusterMembership;
  /** Nodes that stopped taking new work. */
  private readonly draining = new Set<string>();

  constructor(
    readonly transport: Transport,
    private readonly options: ResourceBrokerOptions = {},
  ) {
    if (options.cluster) this.membership = new ClusterMembership(this, options.cluster);
    this.actors = new ActorRegistry(this);
    this.placementGroups = new PlacementGroupManager(this);
  }

  /** True when this broker is a cluster leader (see broker-election.ts). */
  get clusterMode(): boolean {
    return this.options.cluster !== undefined;
  }

  async start(): Promise<void> {
    await this.transport.assertQueue(BROKER_QUEUE, { singleActiveConsumer: true });
    this.subscription = await this.transport.consume(BROKER_QUEUE, (d) => this.onDelivery(d), { prefetch: 0 });
    // A worker that exited (even on purpose, e.g. after maxCalls) takes its non-detached actors with it.
    this.ownerGoneSub = await this.transport.subscribe(OWNER_DIED_TOPIC, (body) => {
      try {
        const { owner } = decodeEnvelope(body) as { owner: ReplyQueue };
        this.ownerDied(owner, `The actor died because its owner (${owner}) has died.`);
      } catch {
        /* malformed notice: ignored */
      }
    });
    this.membership?.start();
  }

  async stop(): Promise<void> {
    this.membership?.stop();
    await this.ownerGoneSub?.cancel().catch(() => undefined);
    await this.subscription?.cancel();
    await this.actors.stop();
  }

  private malformed = 0;

  private onDelivery(d: Delivery): void {
    let msg: BrokerMsg;
    try {
      msg = decodeEnvelope(d.body) as BrokerMsg;
      if (typeof msg !== 'object' || msg === null || typeof msg.t !== 'string') throw new Error('no message tag');
    } catch (err) {
      d.nack(false, `malformed envelope: ${(err as Error).message}`);
      // One line per 100, not one per message: a flood must not flood the log.
      if (this.malformed++ % 100 === 0) process.emitWarning(`raybus broker: rejected a malformed message (${this.malformed} so far): ${(err as Error).message}`);
      return;
    }
    if (msg.t === 'create-actor' || msg.t === 'actor-record') {
      // Held until the actor is dead (cluster mode), so that a new leader learns about it.
      try {
        this.actors.onDurable(msg, d, this.membership?.restoring ?? false);
      } catch (err) {
        d.ack();
        process.emitWarning(`raybus broker: failed to handle '${msg.t}': ${(err as Error).stack}`);
      }
      return;
    }
    d.ack();
    try {
      this.onMessage(msg);
    } catch (err) {
      process.emitWarning(`raybus broker: failed to handle '${msg.t}': ${(err as Error).stack}`);
    }
  }

  send(queue: string, msg: object): void {
    this.transport.publish(queue, encodeEnvelope(msg)).catch(() => undefined);
  }

  private onMessage(msg: BrokerMsg): void {
    switch (msg.t) {
      case 'node-register':
        return this.registerNode(msg);
      case 'owner-register':
        this.membership?.watchOwner(msg.owner, msg.presence);
        return;
      case 'owner-exit':
        return this.ownerDied(msg.owner, 'The actor died because its owner (the driver that created it) exited.');
      case 'leases-held':
        this.membership?.onLeasesHeld(msg);
        return;
      case 'node-draining':
        this.draining.add(msg.node);
        // A draining node takes no new work; releases of its running work are still accepted.
        this.ledger.removeNode(msg.node);
        return;
      case 'lease-revoked': {
        const g = this.grants.get(msg.lease);
        if (!g) return;
        this.release(g);
        if (g.owner) this.send(g.owner, { t: 'lease-lost', lease: g.id, reason: msg.reason });
        return;
      }
      case 'cluster-state-request':
        this.send(msg.reply, { t: 'cluster-state', req: msg.req, state: this.clusterState() });
        return;
      case 'actor-record':
      case 'create-actor':
        return;
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
        if (!g) {
          // Granted by an earlier leader and never reported to this one: the node still frees it.
          const node = nodeOfLease(msg.lease);
          if (node) this.send(nodeQueue(node), { t: 'release-lease', lease: msg.lease });
          return;
        }
        this.release(g);
        this.send(nodeQueue(g.node), { t: 'release-lease', lease: g.id });
        return;
      }
      case 'worker-died': {
        const g = msg.lease ? this.grants.get(msg.lease) : undefined;
        if (g) this.release(g);
        if (msg.actor) this.actors.onWorkerDied(msg.actor, msg.reason, msg.lease);
        else if (g?.owner) this.send(g.owner, { t: 'lease-lost', lease: g.id, reason: msg.reason });
        // What the dead worker owned dies with it (actors it created, leases it held).
        this.ownerDied(replyQueue(msg.worker), `The actor died because its owner (worker ${msg.worker}) died: ${msg.reason}`);
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
  private readonly knownNodes = new Set<NodeId>();

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
  private onNodeGone(node: NodeId): void {
    if (!this.ledger.hasNode(node)) return;
    this.membership?.unwatchNode(node);
    this.draining.delete(node);
    this.ledger.removeNode(node);
    // Actors created by the node's workers die with their owners.
    const workers = replyQueue(workerIdPrefix(node) as WorkerId);
    this.ownerDied((owner) => owner.startsWith(workers), `The actor died because its owner (a worker on node ${node}) died with its node.`);
    for (const g of [...this.grants.values()]) {
      if (g.node !== node) continue;
      this.release(g);
      if (g.actor) this.actors.onWorkerDied(g.actor, `The actor died because its node ${node} has died.`, g.id);
      else if (g.owner) this.send(g.owner, { t: 'lease-lost', lease: g.id, reason: `its node ${node} died` });
    }
    this.scheduleDispatch();
  }

  // ---------------------------------------------------------------- cluster mode

  /** A node (re-)registers; after an election its report rebuilds the ledger and registry. */
  private registerNode(msg: NodeRegisterMsg): void {
    // A node registers again after a reconnect and after an election; the first one counts.
    if (this.ledger.hasNode(msg.node) && this.ledger.isAlive(msg.node)) return;
    if (this.ledger.hasNode(msg.node) && this.draining.has(msg.node)) return;
    // Back after this leader declared it dead: its task leases were already given up (their
    // owners retried the tasks), so their workers are stopped rather than adopted.
    const cameBack = this.ledger.hasNode(msg.node);
    this.knownNodes.add(msg.node);
    this.ledger.addNode(msg.node, msg.resources, msg.labels);
    this.membership?.watchNode(msg.node);
    for (const l of msg.leases ?? []) {
      if (this.grants.has(l.lease)) continue;
      if (cameBack && !l.actor) {
        this.send(nodeQueue(msg.node), { t: 'kill-worker', lease: l.lease });
        continue;
      }
      // Reserve what the lease holds; a report beyond capacity is recorded without a reservation.
      const a = this.ledger.reserveWithIds(msg.node, l.demand);
      const g: Grant = {
        id: l.lease,
        node: msg.node,
        demand: a ? l.demand : {},
        gpuIds: a ? a.gpuIds : [],
        ...(l.owner ? { owner: l.owner } : {}),
        ...(l.actor ? { actor: l.actor.actorId } : {}),
      };
      this.grants.set(g.id, g);
      if (l.actor) this.actors.restoreReported(l.actor, g, l.worker);
      else if (l.owner) this.membership?.watchOwner(l.owner);
    }
    if (msg.draining) {
      this.draining.add(msg.node);
      this.ledger.removeNode(msg.node);
    }
    this.scheduleDispatch();
  }

  hasGrant(lease: LeaseId): boolean {
    return this.grants.has(lease);
  }

  /** A node is gone (its presence vanished): its work fails over. */
  nodeGone(node: NodeId, reason: string): void {
    if (this.ledger.hasNode(node) && this.ledger.isAlive(node)) {
      (this.options.warn ?? ((m: string) => process.emitWarning(m)))(`raybus broker: node ${node} is gone: ${reason}`);
    }
    this.onNodeGone(node);
  }

  /** Watch a driver's presence (cluster mode), so that its death is noticed. */
  watchOwner(owner: ReplyQueue): void {
    this.membership?.watchOwner(owner);
  }

  /**
   * An owner (a driver, or a worker) died or left: its non-detached actors die, its task
   * leases are released and their workers stopped, its waiting lease requests dropped.
   */
  ownerDied(owner: ReplyQueue | ((owner: ReplyQueue) => boolean), message: string): void {
    const match = typeof owner === 'string' ? (o: string) => o === owner : owner;
    if (typeof owner === 'string') this.membership?.unwatchOwner(owner);
    this.actors.onOwnersDied(match, message);
    for (const g of [...this.grants.values()]) {
      if (g.actor || !g.owner || !match(g.owner)) continue;
      this.release(g);
      this.send(nodeQueue(g.node), { t: 'kill-worker', lease: g.id });
    }
    for (const [req, p] of [...this.leaseRequests]) {
      if (!p.owner || !match(p.owner)) continue;
      this.leaseRequests.delete(req);
      this.removePending(p);
    }
  }

  /** The live cluster for `raybus status` / `raybus list`. */
  clusterState(): ClusterState {
    const info = this.clusterInfo();
    return {
      leader: {
        epoch: this.membership?.epoch ?? 'embedded',
        electedAt: this.membership?.electedAt ?? 0,
        ...(this.options.cluster?.leaderNode ? { nodeId: this.options.cluster.leaderNode } : {}),
      },
      nodes: info.nodes.map((n) => ({
        ...n,
        alive: n.alive || this.draining.has(n.nodeId),
        draining: this.draining.has(n.nodeId),
        available: { ...this.ledger.available(n.nodeId) },
      })),
      actors: this.actors.list(),
      leases: [...this.grants.values()].map((g) => ({
        lease: g.id,
        nodeId: g.node,
        ...(g.owner ? { owner: g.owner } : {}),
        ...(g.actor ? { actorId: g.actor } : {}),
        demand: { ...g.demand },
      })),
      pending: this.pending.map((p) => ({
        id: p.id,
        kind: p.attempt ? 'placement-group' : p.actorCreation ? 'actor' : 'task',
        description: p.describe,
        demand: { ...p.demand },
        infeasible: p.warned === true,
      })),
      placementGroups: this.placementGroups.table(),
    };
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
      owner: msg.owner,
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
      const g: Grant = { id: this.newGrantId(target.node), node: target.node, demand, gpuIds: this.placementGroups.realGpuIds(target.bundle, a.gpuIds), bundle: target.bundle, bundleGpuIds: a.gpuIds, ...extra };
      this.grants.set(g.id, g);
      return g;
    }
    const a = this.ledger.reserveWithIds(target.node, demand);
    if (!a) return null;
    const g: Grant = { id: this.newGrantId(target.node), node: target.node, demand, gpuIds: a.gpuIds, ...extra };
    this.grants.set(g.id, g);
    return g;
  }

  /** A new lease id; it names its node, so that any later leader can route its release. */
  newGrantId(node: NodeId | '' = ''): LeaseId {
    grantSeq += 1;
    return leaseId(node, grantSeq);
  }

  /** Try waiting work again (e.g. once a new leader's rebuild is over). */
  scheduleDispatch(): void {
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
        const grant = this.reserveLike({ id: '' as LeaseId, node: decision.nodeId as NodeId, demand: {}, gpuIds: [], ...(bundle ? { bundle } : {}) }, p.demand);
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
    // A new leader does not know every node yet: nothing is infeasible before they reported.
    if (p.warned || this.membership?.restoring) return;
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

