/**
 * Leader election on a bus without single active consumers (NATS JetStream): the candidates
 * compete for one transport lease, `raybus.broker.leader`. A candidate tries to take it every
 * third of its TTL; the holder renews it as often, and loses the lead as soon as a renewal
 * says the lease is gone, or no renewal succeeded for a whole TTL (the bus was unreachable:
 * the lease may have expired and been taken). Releasing the lease (a clean stop) hands it to
 * the next candidate at once; a holder that died leaves it to expire.
 *
 * There is no fencing beyond the lease: a leader paused for longer than the TTL may act for
 * a moment after its successor took over (adapters/nats/README.md, "Leases").
 */
import type { Transport, TransportLease } from '../transport/transport';
import type { Clock, Timer } from '../util/clock';

/** The lease the broker leader holds. */
export const BROKER_LEADER_LEASE = 'raybus.broker.leader';
/** Its TTL by default (ms): how long a dead leader's lease outlives it. */
export const DEFAULT_LEADER_LEASE_TTL_MS = 6000;

/** What a {@link LeaseElection} needs. */
export interface LeaseElectionOptions {
  readonly transport: Pick<Transport, 'acquireLease'>;
  readonly clock: Clock;
  readonly ttlMs: number;
  /** This candidate now holds the lease: lead. */
  readonly elected: () => void;
  /** This candidate lost the lease: stop leading at once. */
  readonly lost: (reason: string) => void;
}

/** One candidate's hold on the leader lease. */
export class LeaseElection {
  private lease?: TransportLease;
  private lastRenewed = 0;
  private timer?: Timer;
  private busy = false;
  private stopped = false;

  constructor(private readonly options: LeaseElectionOptions) {
    if (typeof options.transport.acquireLease !== 'function') throw new TypeError('LeaseElection: the transport has no acquireLease()');
  }

  /** True while this candidate holds the lease. */
  get holding(): boolean {
    return this.lease !== undefined;
  }

  /** Start competing: try now, then every third of the TTL. */
  start(): void {
    this.stopped = false;
    this.timer = this.options.clock.setInterval(() => void this.tick(), Math.max(1, Math.floor(this.options.ttlMs / 3)));
    void this.tick();
  }

  /** Stop competing and give the lease up (so that another candidate takes it at once). */
  async stop(): Promise<void> {
    this.stopped = true;
    this.options.clock.clear(this.timer);
    this.timer = undefined;
    const lease = this.lease;
    this.lease = undefined;
    await lease?.release().catch(() => undefined);
  }

  /** Stop leading without giving the lease up (it cannot be reached now); keep competing. */
  drop(reason: string): void {
    if (!this.lease) return;
    this.lease = undefined;
    this.options.lost(reason);
  }

  private async tick(): Promise<void> {
    if (this.busy || this.stopped) return;
    this.busy = true;
    try {
      if (this.lease) await this.renew(this.lease);
      else await this.acquire();
    } finally {
      this.busy = false;
    }
  }

  private async acquire(): Promise<void> {
    const { transport, ttlMs, clock } = this.options;
    let lease: TransportLease | null;
    try {
      lease = await transport.acquireLease!(BROKER_LEADER_LEASE, ttlMs);
    } catch {
      return; // the bus is unreachable: try again next tick
    }
    if (!lease) return;
    if (this.stopped) {
      await lease.release().catch(() => undefined);
      return;
    }
    this.lease = lease;
    this.lastRenewed = clock.now();
    this.options.elected();
  }

  private async renew(lease: TransportLease): Promise<void> {
    const { clock, ttlMs } = this.options;
    let kept: boolean | undefined;
    try {
      kept = await lease.renew();
    } catch {
      kept = undefined;
    }
    if (this.lease !== lease) return;
    if (kept === true) {
      this.lastRenewed = clock.now();
      return;
    }
    if (kept === false) return this.drop('the leader lease was lost (expired or taken)');
    if (clock.now() - this.lastRenewed >= ttlMs) this.drop(`the leader lease could not be renewed for ${ttlMs} ms`);
  }
}
