/**
 * The broker as a singleton on the bus: every node runs a `BrokerCandidate`, and exactly one
 * of them — the leader — runs the `BrokerServer` (consumes `raybus.broker`).
 *
 * Election: the queue `raybus.broker.election` has a single active consumer. Each candidate
 * consumes it (prefetch 0, never acknowledging what it keeps) and publishes one token. The
 * bus delivers every token to the active consumer only, so whoever receives a token is the
 * leader; it keeps the newest token unacknowledged and acknowledges the others. When the
 * leader's connection dies, the bus requeues its token and activates the next candidate,
 * which receives it and takes over, rebuilding the ledger and the actor registry from the
 * nodes' reports and the records held in the broker queue.
 *
 * A leader also sends itself a fresh token every `refreshMs`: it keeps the kept token younger
 * than the broker's consumer timeout, and a token that does not come back in time means the
 * leader lost the queue without noticing (it then steps down). A candidate whose connection
 * drops steps down at once; after reconnecting it publishes a new token and waits in line.
 *
 * On a bus without single active consumers (NATS JetStream) the candidates compete for a
 * transport lease instead (lease-election.ts), and only the holder consumes `raybus.broker`.
 * A bus with neither cannot elect a leader: `start()` rejects saying so.
 */
import type { NodeId } from '../protocol/ids';
import { randomBytes } from 'node:crypto';
import type { Subscription as RxSubscription } from 'rxjs';
import { capabilitiesOf, type Delivery, type Subscription, type Transport } from '../transport/transport';
import { brokerQueueDeclaration } from '../transport/queue-policy';
import { decodeMessage, RejectionCounter } from '../serialization/message-codec';
import { BROKER_ELECTION_QUEUE, BROKER_QUEUE } from '../protocol/queues';
import type { ElectionTokenMsg } from '../protocol/messages/presence';
import { systemClock, type Clock, type Timer } from '../util/clock';
import { BrokerServer } from './broker-server';
import { checkDurationOption, type BrokerClusterOptions } from './cluster-membership';
import { typedSender, type Send } from './typed-send';
import { DEFAULT_LEADER_LEASE_TTL_MS, LeaseElection } from './lease-election';

/** Options of a {@link BrokerCandidate}. */
export interface BrokerCandidateOptions {
  /** Connection of this candidate (also used by the broker while leading). */
  readonly transport: Transport;
  /** Who this candidate is (a node id), for logs. */
  readonly candidateId: NodeId;
  /** Progress lines ("elected", "stepped down"). */
  readonly log?: (line: string) => void;
  /** Self-sent token interval while leading (ms; default 30 000). */
  readonly refreshMs?: number;
  /** Cluster options of the broker it runs when elected (the epoch is made up per election). */
  readonly broker?: Omit<BrokerClusterOptions, 'epoch'>;
  /** Time for the refresh and for every timer of the broker it runs (default systemClock). */
  readonly clock?: Clock;
  /** Where the broker's warnings go (default: the raybus logger). */
  readonly warn?: (msg: string) => void;
  /** TTL of the leader lease on a bus without single active consumers (ms; default 6000). */
  readonly leaseTtlMs?: number;
}

/** One node's place in the election; runs the broker server while it leads. */
export class BrokerCandidate {
  private broker?: BrokerServer;
  private becoming?: Promise<void>;
  private kept?: Delivery;
  private subscription?: Subscription;
  private status?: RxSubscription;
  private refreshTimer?: Timer;
  private awaitedRefresh?: number;
  private seq = 0;
  private stopped = false;
  private lastStatus?: string;
  private readonly clock: Clock;
  private readonly send: Send;
  private readonly malformed: RejectionCounter;
  /** Lease-based election (a bus without single active consumers). */
  private election?: LeaseElection;

  constructor(private readonly options: BrokerCandidateOptions) {
    checkDurationOption('refreshMs', options.refreshMs, 1);
    checkDurationOption('leaseTtlMs', options.leaseTtlMs, 3);
    checkDurationOption('broker.restoreGraceMs', options.broker?.restoreGraceMs);
    checkDurationOption('broker.probeIntervalMs', options.broker?.probeIntervalMs, 1);
    checkDurationOption('broker.failWindowMs', options.broker?.failWindowMs);
    checkDurationOption('broker.probeTimeoutMs', options.broker?.probeTimeoutMs, 1);
    this.clock = options.clock ?? systemClock;
    this.send = typedSender(options.transport);
    this.malformed = new RejectionCounter('raybus broker candidate', options.warn);
  }

  /** True while this candidate runs the broker. */
  get isLeader(): boolean {
    return this.broker !== undefined;
  }

  /** The broker this candidate runs now (tests and status). */
  get activeBroker(): BrokerServer | undefined {
    return this.broker;
  }

  /**
   * Join the election: consume the election queue and publish a token, or, on a bus without
   * single active consumers, compete for the leader lease.
   * @throws when the bus has neither (no leader could ever be elected).
   */
  async start(): Promise<void> {
    const t = this.options.transport;
    const caps = capabilitiesOf(t);
    const leases = !caps.singleActiveConsumer;
    if (leases && !(caps.leases && typeof t.acquireLease === 'function')) {
      throw new Error(
        `raybus: the '${t.kind}' transport has neither single active consumers nor leases (its capabilities), so the nodes cannot ` +
          'elect a broker leader. Use a bus that has one of them (RabbitMQ, NATS JetStream), or give the adapter acquireLease().',
      );
    }
    await t.assertQueue(BROKER_QUEUE, brokerQueueDeclaration(t));
    this.status = t.status$.subscribe((s) => {
      const previous = this.lastStatus;
      this.lastStatus = s;
      if (s === 'reconnecting' || s === 'closed') {
        const reason = s === 'closed' ? 'connection closed' : 'connection to the broker lost';
        // The lease cannot be renewed now: lead no more; it expires unless renewed in time.
        if (this.election) this.election.drop(reason);
        else void this.stepDown(reason);
      }
      // Back in line after a reconnect (the bus forgot tokens of a non-durable queue on restart).
      else if (s === 'connected' && previous === 'reconnecting' && !this.election) this.publishToken();
    });
    if (leases) {
      this.election = new LeaseElection({
        transport: t,
        clock: this.clock,
        ttlMs: this.options.leaseTtlMs ?? DEFAULT_LEADER_LEASE_TTL_MS,
        elected: () => {
          if (!this.broker && !this.becoming) this.becoming = this.becomeLeader().finally(() => (this.becoming = undefined));
        },
        lost: (reason) => void this.stepDown(reason),
      });
      this.election.start();
      return;
    }
    await t.assertQueue(BROKER_ELECTION_QUEUE, { singleActiveConsumer: true });
    this.subscription = await t.consume(BROKER_ELECTION_QUEUE, (d) => this.onToken(d), { prefetch: 0 });
    this.publishToken();
  }

  /**
   * Leave the election. The broker stops first (what it held goes back to its queue), then the
   * election consumer is cancelled, which hands the kept token to the next candidate.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    this.status?.unsubscribe();
    await this.stepDown('stopping');
    // After the broker stopped (what it held is back in its queue): the next candidate leads.
    await this.election?.stop();
    await this.subscription?.cancel().catch(() => undefined);
  }

  private publishToken(): void {
    if (this.stopped) return;
    this.seq += 1;
    this.send(BROKER_ELECTION_QUEUE, { t: 'election-token', candidate: this.options.candidateId, n: this.seq });
  }

  private onToken(d: Delivery): void {
    let token: ElectionTokenMsg;
    try {
      token = decodeMessage('election', d.body);
    } catch (err) {
      // Dead-lettered, never kept: junk on the election queue must not make anyone leader.
      this.malformed.reject(d, err);
      return;
    }
    // Stopping: leave it unacknowledged, so it goes to the next candidate with our channel.
    if (this.stopped) return;
    // Keep the newest token; acknowledge the one it replaces.
    const previous = this.kept;
    this.kept = d;
    previous?.ack();
    if (token.candidate === this.options.candidateId && token.n === this.awaitedRefresh) this.awaitedRefresh = undefined;
    if (!this.broker && !this.becoming) this.becoming = this.becomeLeader().finally(() => (this.becoming = undefined));
  }

  private async becomeLeader(): Promise<void> {
    const epoch = randomBytes(6).toString('hex');
    const broker = new BrokerServer(this.options.transport, {
      cluster: { ...this.options.broker, epoch, leaderNode: this.options.candidateId },
      clock: this.clock,
      ...(this.options.warn ? { warn: this.options.warn } : {}),
    });
    this.broker = broker;
    try {
      await broker.start();
    } catch (err) {
      if (this.broker === broker) this.broker = undefined;
      await broker.stop().catch(() => undefined);
      this.options.log?.(`broker candidate: could not start the broker: ${(err as Error).message}`);
      return;
    }
    if (this.broker !== broker) return;
    this.options.log?.(`elected broker leader (term ${epoch}${this.election ? ', leader lease' : ''})`);
    // The lease is renewed by the election itself; tokens need refreshing.
    if (this.election) return;
    const refreshMs = this.options.refreshMs ?? 30_000;
    this.refreshTimer = this.clock.setInterval(() => {
      if (this.awaitedRefresh !== undefined) {
        void this.stepDown('the election queue went to another candidate');
        return;
      }
      this.publishToken();
      this.awaitedRefresh = this.seq;
    }, refreshMs);
  }

  private async stepDown(reason: string): Promise<void> {
    this.clock.clear(this.refreshTimer);
    this.refreshTimer = undefined;
    this.awaitedRefresh = undefined;
    // A kept token goes back to the queue with the election channel (lost connection, or stop()).
    this.kept = undefined;
    await this.becoming?.catch(() => undefined);
    const broker = this.broker;
    this.broker = undefined;
    if (!broker) return;
    this.options.log?.(`stepped down as broker leader: ${reason}`);
    await broker.stop().catch(() => undefined);
  }
}
