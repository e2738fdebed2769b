/**
 * The broker leader's view of who is alive in cluster mode: nodes and drivers are watched
 * through their presence queues (liveness.ts); a dead node's work fails over, a dead driver's
 * non-detached actors die and its leases are released. After an election it also resolves
 * leases that owners still hold but that no node reported (they ran on a node that died
 * together with the previous leader), and ends the rebuild of the actor registry once nodes
 * had time to report.
 */
import type { LeaseId, NodeId, ReplyQueue } from '../protocol/ids';
import { encodeEnvelope } from '../serialization/serializer';
import { isNoSuchQueue } from '../transport/transport';
import { BROKER_ELECTED_TOPIC, nodePresenceId, nodeQueue, presenceQueue, nodeOfPresenceId } from '../protocol/queues';
import type { BrokerElectedMsg } from '../protocol/messages/presence';
import type { LeasesHeldMsg } from '../protocol/messages/broker';
import { LivenessMonitor, type LivenessClock, type ProbeResult } from './liveness';
import type { ResourceBroker } from './resource-broker';

/** How a broker leader runs in cluster mode. */
export interface BrokerClusterOptions {
  /** This leader's term (new on every election). */
  readonly epoch: string;
  /** The node whose candidate leads. */
  readonly leaderNode?: NodeId;
  /** How long after the election node reports are awaited before the rebuild is final (ms). */
  readonly restoreGraceMs?: number;
  /** Probe interval (ms; default 1000). */
  readonly probeIntervalMs?: number;
  /** A presence queue must be missing this long before its process is dead (ms; default 2000). */
  readonly failWindowMs?: number;
  readonly clock?: LivenessClock;
}

const PROBE = encodeEnvelope({ t: 'probe' });
const DRIVER_REPLY_PREFIX = 'raybus.reply.driver-';

/** The presence id of a driver, from its reply queue (undefined for workers, which have none). */
export function ownerPresenceId(owner: ReplyQueue): string | undefined {
  return owner.startsWith(DRIVER_REPLY_PREFIX) ? owner.slice('raybus.reply.'.length) : undefined;
}

export class ClusterMembership {
  readonly epoch: string;
  readonly electedAt = Date.now();
  private readonly monitor: LivenessMonitor;
  /** Presence id → owner reply queue, for watched drivers. */
  private readonly owners = new Map<string, ReplyQueue>();
  /** Leases owners hold that this leader does not know: lease → owner and node. */
  private readonly orphans = new Map<LeaseId, { owner: ReplyQueue; node: NodeId }>();
  private restoreTimer?: NodeJS.Timeout;
  private orphanTimer?: NodeJS.Timeout;
  restoring = true;

  constructor(
    private readonly broker: ResourceBroker,
    private readonly options: BrokerClusterOptions,
  ) {
    this.epoch = options.epoch;
    const graceMs = options.restoreGraceMs ?? 4000;
    this.monitor = new LivenessMonitor({
      probe: (id) => this.probe(id),
      onDead: (id) => this.onDead(id),
      intervalMs: options.probeIntervalMs ?? 1000,
      failWindowMs: options.failWindowMs ?? 2000,
      graceMs,
      ...(options.clock ? { clock: options.clock } : {}),
    });
  }

  start(): void {
    this.monitor.start();
    this.restoreTimer = setTimeout(() => {
      this.restoring = false;
      this.broker.actors.endRestore();
      this.broker.scheduleDispatch();
    }, this.options.restoreGraceMs ?? 4000);
    this.restoreTimer.unref();
    this.orphanTimer = setInterval(() => this.checkOrphans(), this.options.probeIntervalMs ?? 1000);
    this.orphanTimer.unref();
    const hello: BrokerElectedMsg = { t: 'broker-elected', epoch: this.epoch };
    this.broker.transport.broadcast(BROKER_ELECTED_TOPIC, encodeEnvelope(hello)).catch(() => undefined);
  }

  stop(): void {
    this.monitor.stop();
    clearTimeout(this.restoreTimer);
    clearInterval(this.orphanTimer);
  }

  watchNode(node: NodeId): void {
    this.monitor.watch(nodePresenceId(node));
  }

  unwatchNode(node: NodeId): void {
    this.monitor.unwatch(nodePresenceId(node));
  }

  /** Watch a driver (by its reply queue) so that its death is noticed. */
  watchOwner(owner: ReplyQueue, presence = ownerPresenceId(owner)): void {
    if (!presence) return;
    this.owners.set(presence, owner);
    this.monitor.watch(presence);
  }

  unwatchOwner(owner: ReplyQueue): void {
    const presence = ownerPresenceId(owner);
    if (!presence) return;
    this.owners.delete(presence);
    this.monitor.unwatch(presence);
  }

  /** An owner's leases after an election: those this leader does not know are checked. */
  onLeasesHeld(msg: LeasesHeldMsg): void {
    for (const [lease, node] of msg.leases) {
      if (this.broker.hasGrant(lease)) continue;
      this.orphans.set(lease, { owner: msg.owner, node });
      if (!this.broker.ledger.hasNode(node)) this.watchNode(node);
    }
  }

  private checkOrphans(): void {
    for (const [lease, o] of this.orphans) {
      if (this.broker.hasGrant(lease)) {
        this.orphans.delete(lease);
        continue;
      }
      if (!this.broker.ledger.hasNode(o.node)) continue;
      // The node is known and did not report the lease (or is dead): it is gone.
      this.orphans.delete(lease);
      this.broker.send(o.owner, { t: 'lease-lost', lease, reason: `its node ${o.node} no longer has it` });
      if (this.broker.ledger.isAlive(o.node)) this.broker.send(nodeQueue(o.node), { t: 'release-lease', lease });
    }
  }

  private probe(id: string): Promise<ProbeResult> {
    let timer: NodeJS.Timeout | undefined;
    const probe = this.broker.transport.publish(presenceQueue(id), PROBE).then(
      (): ProbeResult => 'alive',
      (err: unknown): ProbeResult => (isNoSuchQueue(err) ? 'missing' : 'unknown'),
    );
    // A publish that hangs (broker blocked) tells nothing.
    const timeout = new Promise<ProbeResult>((resolve) => {
      timer = setTimeout(() => resolve('unknown'), 5000);
      timer.unref();
    });
    return Promise.race([probe, timeout]).finally(() => clearTimeout(timer));
  }

  private onDead(id: string): void {
    const node = nodeOfPresenceId(id);
    if (node) {
      for (const [lease, o] of this.orphans) {
        if (o.node !== node) continue;
        this.orphans.delete(lease);
        this.broker.send(o.owner, { t: 'lease-lost', lease, reason: `its node ${node} died` });
      }
      this.broker.nodeGone(node, `its node ${node} died (its connection to the broker is gone)`);
      return;
    }
    const owner = this.owners.get(id);
    this.owners.delete(id);
    if (owner) this.broker.ownerDied(owner, `The actor's owner (driver ${id}) died: its connection to the broker is gone.`);
  }
}
