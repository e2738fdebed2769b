/**
 * The broker server (Ray's GCS): the single consumer of `raybus.broker`. It composes the
 * broker's parts — lease dispatch and the ledger (lease-dispatcher.ts), the actor registry,
 * placement groups, the node directory and, in cluster mode, membership (liveness, failover,
 * the rebuild after an election) — owns the transport subscription, and routes each message
 * by its tag. The parts never see the server or each other: each receives the narrow
 * interface and callbacks it needs, wired here.
 *
 * Malformed messages are rejected (nack with a reason, a counted warning once per 100); a
 * handler that throws is reported and the broker goes on.
 */
import { workerIdPrefix, type NodeId, type ReplyQueue, type WorkerId } from '../protocol/ids';
import { capabilitiesOf, type Delivery, type Subscription, type Transport } from '../transport/transport';
import { brokerQueueDeclaration } from '../transport/queue-policy';
import { encodeEnvelope } from '../serialization/serializer';
import { decodeMessage, decodeTopicMessage, RejectionCounter } from '../serialization/message-codec';
import { BROKER_QUEUE, OWNER_DIED_TOPIC, nodeQueue, replyQueue } from '../protocol/queues';
import type { BrokerMsg, LeasesReportMsg, NodeRegisterMsg } from '../protocol/messages/broker';
import type { ClusterInfo, ClusterState } from '../protocol/wire';
import { ResourceLedger } from '../scheduling/ledger/resource-ledger';
import { systemClock, type Clock } from '../util/clock';
import { ActorRecordKeeper } from './actor-records';
import { ActorRegistry } from './actor-registry';
import { ClusterMembership, type BrokerClusterOptions } from './cluster-membership';
import { clusterInfo, clusterState } from './cluster-views';
import { DeadMailboxes, DEAD_MAILBOX_RESPONDER_MS } from './dead-actor-mailbox';
import { LeaseDispatcher } from './lease-dispatcher';
import { NodeDirectory } from './node-directory';
import { PlacementGroupManager } from './placement-group-manager';
import { typedSender, type Send } from './typed-send';
import { answerStateRequest } from './state-views';
import { OwnerDeaths } from './owner-deaths';
import { isReplyQueue } from '../observability/state-responder';
import type { StateAnswerMsg, StateRequestMsg } from '../protocol/messages/state';
import { logger } from '../util/logger';

/** Options of a {@link BrokerServer}. */
export interface BrokerServerOptions {
  /** Uniform in [0, 1) for the placement strategies (default Math.random). */
  readonly random?: () => number;
  /** The node DEFAULT prefers when a request names none. */
  readonly preferredNodeId?: string;
  /** Where warnings go (infeasible work, nodes gone, rejected messages; default: the raybus logger). */
  readonly warn?: (msg: string) => void;
  /** Cluster mode (one leader among candidates on a broker): liveness, failover, durable registry. */
  readonly cluster?: BrokerClusterOptions;
  /** Time for every timer of the broker (default systemClock). */
  readonly clock?: Clock;
  /** Dead actors the registry remembers, the oldest forgotten first (default 100,000, as Ray's GCS). */
  readonly maxDeadActors?: number;
}

/**
 * The broker: composes its parts and serves `raybus.broker`.
 *
 * @example
 * const broker = new BrokerServer(bus.connect(), { preferredNodeId: nodeId });
 * await broker.start();
 * // ... later
 * await broker.stop();
 */
export class BrokerServer {
  private readonly ledger = new ResourceLedger();
  private readonly nodes = new NodeDirectory(this.ledger, () => (this.options.clock ?? systemClock).now());
  private readonly send: Send;
  private readonly warn: (msg: string) => void;
  private readonly dispatcher: LeaseDispatcher;
  private readonly actors: ActorRegistry;
  private readonly placementGroups: PlacementGroupManager;
  /** Cluster mode: liveness of nodes and drivers, failover after an election. */
  private readonly membership?: ClusterMembership;
  private subscription?: Subscription;
  private ownerGoneSub?: Subscription;
  private readonly malformed: RejectionCounter;
  /** A node has registered since this broker started. */
  private nodeSeen = false;
  /** The bus has no queue expiry: delete the queues of the dead. */
  /** What goes with a dead owner (owner-deaths.ts). */
  private readonly owners: OwnerDeaths;

  constructor(
    private readonly transport: Transport,
    private readonly options: BrokerServerOptions = {},
  ) {
    const send = (this.send = typedSender(transport));
    const clock = options.clock ?? systemClock;
    // A dead actor's mailbox the broker answers, then deletes, on every bus: a queue it consumes
    // never expires.
    const cleanup = { afterMs: DEAD_MAILBOX_RESPONDER_MS, clock };
    // Half the consumers the broker's connection can hold, where the bus limits them.
    const consumers = capabilitiesOf(transport).maxConsumers;
    const deadMailboxes = new DeadMailboxes(transport, send, cleanup, consumers === undefined ? undefined : Math.max(1, Math.floor(consumers / 2)));
    this.warn = options.warn ?? ((m: string) => logger.warn(m));
    this.malformed = new RejectionCounter('raybus broker', this.warn);
    const bundles = new ResourceLedger();
    this.dispatcher = new LeaseDispatcher({
      nodes: this.ledger,
      bundles,
      placementGroups: {
        decide: (pg, index, demand) => this.placementGroups.decide(pg, index, demand),
        realGpuIds: (bundle, ids) => this.placementGroups.realGpuIds(bundle, ids),
      },
      send,
      warn: (message, owner) => this.warnInfeasible(message, owner),
      // Before any node registered (the embedded node starts beside the first `.remote()`),
      // work waits without being called infeasible.
      restoring: () => (this.membership?.restoring ?? false) || !this.nodeSeen,
      ...(options.random ? { random: options.random } : {}),
      ...(options.preferredNodeId ? { preferredNodeId: options.preferredNodeId } : {}),
    });
    const dispatcher = this.dispatcher;
    this.placementGroups = new PlacementGroupManager({
      nodes: this.ledger,
      bundles,
      enqueue: (p) => dispatcher.enqueue(p),
      removePending: (p) => dispatcher.removePending(p),
      send,
    });
    this.actors = new ActorRegistry({
      enqueue: (p) => dispatcher.enqueue(p),
      release: (g) => dispatcher.release(g),
      reserveLike: (target, demand, extra) => dispatcher.reserveLike(target, demand, extra),
      send,
      watchOwner: (owner) => this.membership?.watchOwner(owner),
      answerDeadMailbox: (actor, err) => deadMailboxes.answer(actor, err),
      ...(options.maxDeadActors !== undefined ? { maxDeadActors: options.maxDeadActors } : {}),
      ...(options.cluster ? { records: new ActorRecordKeeper((msg) => transport.publish(BROKER_QUEUE, encodeEnvelope(msg))) } : {}),
    });
    // Where queues never expire, the broker deletes those of processes it knows are dead.
    const cleansQueues = !capabilitiesOf(transport).queueExpiry;
    const { actors, placementGroups } = this;
    this.owners = new OwnerDeaths({ actors, dispatcher, placementGroups, transport, cleansQueues, unwatchOwner: (owner) => this.membership?.unwatchOwner(owner) });
    if (options.cluster) {
      this.membership = new ClusterMembership(
        {
          transport,
          clock,
          send,
          hasGrant: (lease) => dispatcher.hasGrant(lease),
          knowsNode: (node) => this.ledger.hasNode(node),
          isAlive: (node) => this.ledger.isAlive(node),
          nodeGone: (node, reason) => this.nodeGone(node, reason),
          ownerDied: (owner, message) => this.owners.driverDied(owner, message),
          endRestore: () => {
            this.actors.endRestore();
            dispatcher.scheduleDispatch();
          },
        },
        options.cluster,
      );
    }
  }

  /** Consume `raybus.broker` and the owner-died topic; in cluster mode, start watching and announce the election. */
  async start(): Promise<void> {
    await this.transport.assertQueue(BROKER_QUEUE, brokerQueueDeclaration(this.transport));
    this.subscription = await this.transport.consume(BROKER_QUEUE, (d) => this.onDelivery(d), { prefetch: 0 });
    // A worker that exited (even on purpose, e.g. after maxCalls) takes its non-detached actors with it.
    this.ownerGoneSub = await this.transport.subscribe(OWNER_DIED_TOPIC, (body) => {
      let owner: ReplyQueue;
      try {
        owner = decodeTopicMessage('owner-died', body).owner;
      } catch (err) {
        this.malformed.drop(OWNER_DIED_TOPIC, err);
        return;
      }
      try {
        this.owners.ownerDied(owner, `The actor died because its owner (${owner}) has died.`);
      } catch (err) {
        this.warn(`raybus broker: failed to handle an owner-died notice: ${(err as Error).stack}`);
      }
    });
    this.membership?.start();
  }

  /** Stop consuming (what is held goes back to the queue) and stop every timer. */
  async stop(): Promise<void> {
    this.membership?.stop();
    await this.ownerGoneSub?.cancel().catch(() => undefined);
    await this.subscription?.cancel();
    await this.actors.stop();
  }

  /** Nodes and resources (as `ray.nodes()` sees them). */
  clusterInfo(): ClusterInfo {
    return clusterInfo(this.ledger, this.nodes);
  }

  /** The live cluster for `raybus status` / `raybus list`. */
  clusterState(): ClusterState {
    const { membership, dispatcher } = this;
    const leaderNode = this.options.cluster?.leaderNode;
    return clusterState({
      ledger: this.ledger,
      nodes: this.nodes,
      leader: {
        epoch: membership?.epoch ?? 'embedded',
        electedAt: membership?.electedAt ?? 0,
        ...(leaderNode ? { nodeId: leaderNode } : {}),
        ...(this.malformed.count > 0 ? { malformed: this.malformed.count } : {}),
      },
      grants: () => dispatcher.grants(),
      pending: () => dispatcher.pendingList(),
      actors: () => this.actors.list(),
      placementGroups: () => this.placementGroups.table(),
    });
  }

  /** The state API's rows of actors, nodes and placement groups (state-views.ts). */
  private answerState(msg: StateRequestMsg): StateAnswerMsg {
    const { nodes, ledger } = this;
    const head = this.options.cluster?.leaderNode ?? this.options.preferredNodeId;
    return answerStateRequest(msg, {
      actors: this.actors.view,
      nodes: { ledger, all: () => nodes.all(), isDraining: (n) => nodes.isDraining(n), times: (n) => nodes.times(n), ...(head ? { head } : {}) },
      placementGroups: () => this.placementGroups.items(),
    });
  }

  private onDelivery(d: Delivery): void {
    let msg: BrokerMsg;
    try {
      msg = decodeMessage('broker', d.body);
    } catch (err) {
      // Dead-lettered: a poison message never comes back to this leader or the next.
      this.malformed.reject(d, err);
      return;
    }
    if (msg.t === 'create-actor' || msg.t === 'actor-record') {
      // Held until the actor is dead (cluster mode), so that a new leader learns about it.
      try {
        this.actors.onDurable(msg, d, this.membership?.restoring ?? false);
      } catch (err) {
        d.ack();
        this.warn(`raybus broker: failed to handle '${msg.t}': ${(err as Error).stack}`);
      }
      return;
    }
    d.ack();
    try {
      this.onMessage(msg);
    } catch (err) {
      this.warn(`raybus broker: failed to handle '${msg.t}': ${(err as Error).stack}`);
    }
  }

  private onMessage(msg: BrokerMsg): void {
    const { dispatcher, send } = this;
    switch (msg.t) {
      case 'node-register':
        return this.registerNode(msg);
      case 'node-draining':
        this.nodes.drain(msg.node);
        return;
      case 'node-gone':
        return this.onNodeGone(msg.node);
      case 'owner-register':
        this.membership?.watchOwner(msg.owner, msg.presence);
        return;
      case 'owner-exit':
        return this.owners.ownerDied(msg.owner, 'The actor died because its owner (the driver that created it) exited.');
      case 'leases-held':
        this.membership?.onLeasesHeld(msg);
        return;
      case 'request-lease':
        return dispatcher.requestLease(msg);
      case 'cancel-lease-request':
        return dispatcher.cancelLeaseRequest(msg.req);
      case 'return-lease':
        return dispatcher.returnLease(msg.lease);
      case 'lease-revoked':
        return dispatcher.revokeLease(msg.lease, msg.reason);
      case 'lease-blocked':
        return dispatcher.leaseBlocked(msg.lease, msg.blocked === true);
      case 'worker-died': {
        const g = dispatcher.releaseLease(msg.lease);
        if (msg.actor) this.actors.onWorkerDied(msg.actor, msg.reason, msg.lease);
        else if (g?.owner) send(g.owner, { t: 'lease-lost', lease: g.id, reason: msg.reason });
        // What the dead worker owned dies with it (actors it created, leases it held).
        this.owners.ownerDied(replyQueue(msg.worker), `The actor died because its owner (worker ${msg.worker}) died: ${msg.reason}`);
        return;
      }
      case 'create-pg':
        return this.placementGroups.create(msg);
      case 'remove-pg':
        this.owners.removePlacementGroup(msg.pg);
        send(msg.reply, { t: 'ack', req: msg.req });
        return;
      case 'pg-table':
        send(msg.reply, { t: 'pg-table-reply', req: msg.req, table: this.placementGroups.table() });
        return;
      case 'cluster-info-request':
        send(msg.reply, { t: 'cluster-info', req: msg.req, info: this.clusterInfo() });
        return;
      case 'cluster-state-request':
        send(msg.reply, { t: 'cluster-state', req: msg.req, state: this.clusterState() });
        return;
      case 'leases-report':
        return this.reconcileLeases(msg);
      case 'state-request':
        // Answers go to reply queues only (anyone on the bus may ask).
        if (isReplyQueue(msg.reply)) send(msg.reply, this.answerState(msg));
        return;
      case 'actor-record':
      case 'create-actor':
        return;
      default:
        return this.actors.onMessage(msg);
    }
  }

  /** A node (re-)registers; after an election its report rebuilds the ledger and registry. */
  private registerNode(msg: NodeRegisterMsg): void {
    const registration = this.nodes.register(msg);
    if (registration === 'ignored') return;
    this.nodeSeen = true;
    this.membership?.watchNode(msg.node);
    for (const l of msg.leases ?? []) {
      // Back after this leader declared it dead: its task leases were already given up (their
      // owners retried the tasks), so their workers are stopped rather than adopted.
      if (registration === 'back' && !l.actor) {
        if (!this.dispatcher.hasGrant(l.lease)) this.send(nodeQueue(msg.node), { t: 'kill-worker', lease: l.lease });
        continue;
      }
      const g = this.dispatcher.adoptReported(msg.node, l);
      if (!g) continue;
      if (l.actor) this.actors.restoreReported(l.actor, g, l.worker);
      else if (l.owner) this.membership?.watchOwner(l.owner);
    }
    if (msg.draining) this.nodes.drain(msg.node);
    this.dispatcher.scheduleDispatch();
  }

  /**
   * A node's periodic lease report: workers of leases this leader does not know (never granted,
   * or given up) are stopped. Not while the registry is rebuilt after an election, when the
   * nodes' registrations are still being adopted.
   */
  private reconcileLeases(msg: LeasesReportMsg): void {
    if (!this.membership || !this.ledger.hasNode(msg.node)) return;
    this.nodes.recordRefusals(msg.node, msg.refused, msg.malformed);
    // Draining and dead nodes stop their workers themselves.
    if (this.membership.restoring || !this.ledger.isAlive(msg.node)) return;
    for (const lease of msg.leases) {
      if (!this.dispatcher.hasGrant(lease)) this.send(nodeQueue(msg.node), { t: 'kill-worker', lease });
    }
  }

  /** A node is gone (its presence vanished): its work fails over. */
  private nodeGone(node: NodeId, reason: string): void {
    if (this.ledger.hasNode(node) && this.ledger.isAlive(node)) this.warn(`raybus broker: node ${node} is gone: ${reason}`);
    this.onNodeGone(node);
  }

  /** A node died or left: its work fails over (leases are lost, actors restart elsewhere). */
  private onNodeGone(node: NodeId): void {
    if (!this.nodes.remove(node)) return;
    this.membership?.unwatchNode(node);
    // Actors created by the node's workers die with their owners.
    const workers = replyQueue(workerIdPrefix(node) as WorkerId);
    this.owners.ownerDied((owner) => owner.startsWith(workers), `The actor died because its owner (a worker on node ${node}) died with its node.`);
    for (const g of this.dispatcher.releaseNode(node)) {
      if (g.actor) this.actors.onWorkerDied(g.actor, `The actor died because its node ${node} has died.`, g.id);
      else if (g.owner) this.send(g.owner, { t: 'lease-lost', lease: g.id, reason: `its node ${node} died` });
    }
  }

  /**
   * Infeasible work is logged here and, in a cluster (where this process is not the owner's),
   * told to its owner too, which prints it as a line of this broker's (Ray's driver shows the
   * infeasible warnings of the cluster).
   */
  private warnInfeasible(message: string, owner: ReplyQueue | undefined): void {
    this.warn(message);
    const node = this.options.cluster?.leaderNode;
    if (!owner || node === undefined) return;
    this.send(owner, { t: 'log-lines', pid: process.pid, node, worker: 'broker' as WorkerId, lines: [{ name: 'raybus broker', text: message, err: true }] });
  }
}
