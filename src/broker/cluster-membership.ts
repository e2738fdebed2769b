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
import { isNoSuchQueue, type Transport } from '../transport/transport';
import { BROKER_ELECTED_TOPIC, nodePresenceId, nodeQueue, presenceQueue, nodeOfPresenceId, ownerPresenceId } from '../protocol/queues';
import type { BrokerElectedMsg, PresenceProbeMsg } from '../protocol/messages/presence';
import type { LeasesHeldMsg } from '../protocol/messages/broker';
import type { Clock, Timer } from '../util/clock';
import { LivenessMonitor, type ProbeResult } from './liveness';
import type { Send } from './typed-send';

/** How a broker leader runs in cluster mode. */
export interface BrokerClusterOptions {
  /** This leader's term (new on every election). */
  readonly epoch: string;
  /** The node whose candidate leads. */
  readonly leaderNode?: NodeId;
  /** How long after the election node reports are awaited before the rebuild is final (ms; default 4000). */
  readonly restoreGraceMs?: number;
  /** Probe interval (ms; default 1000). */
  readonly probeIntervalMs?: number;
  /** A presence queue must be missing this long before its process is dead (ms; default 2000). */
  readonly failWindowMs?: number;
  /** A probe that has not answered after this long tells nothing (ms; default 5000). */
  readonly probeTimeoutMs?: number;
}

/** What {@link ClusterMembership} needs of the server and the bus. */
export interface MembershipDeps {
  /** Probes presence queues and announces the election. */
  readonly transport: Pick<Transport, 'publish' | 'broadcast'>;
  readonly clock: Clock;
  readonly send: Send;
  /** This leader knows lease `lease`. */
  hasGrant(lease: LeaseId): boolean;
  /** Node `node` registered with this leader (alive or not). */
  knowsNode(node: NodeId): boolean;
  isAlive(node: NodeId): boolean;
  /** A node is gone (its presence vanished): its work fails over. */
  nodeGone(node: NodeId, reason: string): void;
  /** A driver is gone: its non-detached actors die, its leases are released. */
  ownerDied(owner: ReplyQueue, message: string): void;
  /** The wait for node reports after the election is over. */
  endRestore(): void;
}

const PROBE = encodeEnvelope({ t: 'probe' } satisfies PresenceProbeMsg);

/**
 * Check a duration option: a finite number of ms, at least `min`.
 * @throws RangeError naming the option.
 */
export function checkDurationOption(name: string, value: number | undefined, min = 0): void {
  if (value === undefined) return;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min) {
    throw new RangeError(`${name} must be a finite number of milliseconds >= ${min}, got ${String(value)}`);
  }
}

/** Liveness of nodes and drivers, and the end of a new leader's rebuild. */
export class ClusterMembership {
  readonly epoch: string;
  readonly electedAt: number;
  private readonly monitor: LivenessMonitor;
  /** Presence id → owner reply queue, for watched drivers. */
  private readonly owners = new Map<string, ReplyQueue>();
  /** Leases owners hold that this leader does not know: lease → owner and node. */
  private readonly orphans = new Map<LeaseId, { owner: ReplyQueue; node: NodeId }>();
  private restoreTimer?: Timer;
  private orphanTimer?: Timer;
  /** Node reports are still awaited (no one is infeasible or dead yet). */
  restoring = true;

  constructor(
    private readonly deps: MembershipDeps,
    private readonly options: BrokerClusterOptions,
  ) {
    checkDurationOption('restoreGraceMs', options.restoreGraceMs);
    checkDurationOption('probeIntervalMs', options.probeIntervalMs, 1);
    checkDurationOption('failWindowMs', options.failWindowMs);
    checkDurationOption('probeTimeoutMs', options.probeTimeoutMs, 1);
    this.epoch = options.epoch;
    this.electedAt = deps.clock.now();
    this.monitor = new LivenessMonitor({
      probe: (id) => this.probe(id),
      onDead: (id) => this.onDead(id),
      intervalMs: options.probeIntervalMs ?? 1000,
      failWindowMs: options.failWindowMs ?? 2000,
      graceMs: options.restoreGraceMs ?? 4000,
      clock: deps.clock,
    });
  }

  /** Start probing, start the restore grace and the orphan checks, announce the election. */
  start(): void {
    const { clock } = this.deps;
    this.monitor.start();
    this.restoreTimer = clock.setTimeout(() => {
      this.restoring = false;
      this.deps.endRestore();
    }, this.options.restoreGraceMs ?? 4000);
    this.orphanTimer = clock.setInterval(() => this.checkOrphans(), this.options.probeIntervalMs ?? 1000);
    const hello: BrokerElectedMsg = { t: 'broker-elected', epoch: this.epoch };
    this.deps.transport.broadcast(BROKER_ELECTED_TOPIC, encodeEnvelope(hello)).catch(() => undefined);
  }

  /** Stop every timer. */
  stop(): void {
    this.monitor.stop();
    this.deps.clock.clear(this.restoreTimer);
    this.deps.clock.clear(this.orphanTimer);
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
      if (this.deps.hasGrant(lease)) continue;
      this.orphans.set(lease, { owner: msg.owner, node });
      if (!this.deps.knowsNode(node)) this.watchNode(node);
    }
  }

  private checkOrphans(): void {
    for (const [lease, o] of this.orphans) {
      if (this.deps.hasGrant(lease)) {
        this.orphans.delete(lease);
        continue;
      }
      if (!this.deps.knowsNode(o.node)) continue;
      // The node is known and did not report the lease (or is dead): it is gone.
      this.orphans.delete(lease);
      this.deps.send(o.owner, { t: 'lease-lost', lease, reason: `its node ${o.node} no longer has it` });
      if (this.deps.isAlive(o.node)) this.deps.send(nodeQueue(o.node), { t: 'release-lease', lease });
    }
  }

  private probe(id: string): Promise<ProbeResult> {
    const { clock } = this.deps;
    let timer: Timer | undefined;
    const probe = this.deps.transport.publish(presenceQueue(id), PROBE).then(
      (): ProbeResult => 'alive',
      (err: unknown): ProbeResult => (isNoSuchQueue(err) ? 'missing' : 'unknown'),
    );
    // A publish that hangs (broker blocked) tells nothing.
    const timeout = new Promise<ProbeResult>((resolve) => {
      timer = clock.setTimeout(() => resolve('unknown'), this.options.probeTimeoutMs ?? 5000);
    });
    return Promise.race([probe, timeout]).finally(() => clock.clear(timer));
  }

  private onDead(id: string): void {
    const node = nodeOfPresenceId(id);
    if (node) {
      for (const [lease, o] of this.orphans) {
        if (o.node !== node) continue;
        this.orphans.delete(lease);
        this.deps.send(o.owner, { t: 'lease-lost', lease, reason: `its node ${node} died` });
      }
      this.deps.nodeGone(node, `its node ${node} died (its connection to the broker is gone)`);
      return;
    }
    const owner = this.owners.get(id);
    this.owners.delete(id);
    if (owner) this.deps.ownerDied(owner, `The actor's owner (driver ${id}) died: its connection to the broker is gone.`);
  }
}
