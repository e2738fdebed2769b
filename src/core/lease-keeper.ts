/**
 * The task submitter's lease returns: a lease whose key has no queued work left is kept idle
 * for LEASE_IDLE_MS for the key's next task, then goes back to the broker (at once when the
 * broker says that work waits for resources); a return that could not be sent is sent again.
 * It sees the submitter's tables (keys, leases, lease requests), never the submitter.
 */
import { BROKER_QUEUE } from '../protocol/queues';
import type { BrokerMsg } from '../protocol/messages/broker';
import type { Clock } from '../util/clock';
import type { KeyState, Lease, SubmitterOutbox } from './submitter-state';

/** Wait before sending again a lease request or return that could not be sent. */
export const LEASE_REQUEST_RETRY_MS = 100;
/** How long a lease with nothing to run is kept for its key's next task before it goes back. */
const LEASE_IDLE_MS = 50;

/** The submitter's state the keeper reads and updates. */
export interface LeaseKeeperSlice {
  readonly clock: Clock;
  readonly outbox: SubmitterOutbox;
  readonly keys: Map<string, KeyState>;
  readonly leases: Map<string, Lease>;
  readonly requests: Map<string, KeyState>;
  /** The submitter was shut down: nothing more is sent. */
  stopped(): boolean;
}

/** Keeps idle leases for a while and returns them (see the file comment). */
export class LeaseKeeper {
  constructor(private readonly s: LeaseKeeperSlice) {}

  /**
   * Once the current burst of work has been handed out: cancel the lease requests left, and
   * keep the leases with nothing to run idle for LEASE_IDLE_MS.
   */
  scheduleReturn(ks: KeyState): void {
    if (ks.returnScheduled) return;
    ks.returnScheduled = true;
    setImmediate(() => {
      ks.returnScheduled = false;
      if (ks.queue.length > 0 || this.s.stopped()) return;
      for (const req of ks.requests) this.s.outbox.send(BROKER_QUEUE, { t: 'cancel-lease-request', req });
      for (const req of ks.requests) this.s.requests.delete(req);
      ks.requests.clear();
      ks.infeasible = false;
      const now = this.s.clock.now();
      for (const lease of ks.leases.values()) if (lease.inflight.size === 0) lease.idleSince ??= now;
      this.returnIdle(ks);
    });
  }

  /**
   * Return the leases of `ks` idle for LEASE_IDLE_MS (all idle ones with `now`), and wake up
   * when the next one will have been; forget the key once it has no lease, work or request.
   */
  private returnIdle(ks: KeyState, all = false): void {
    const { clock } = this.s;
    clock.clear(ks.idleTimer);
    ks.idleTimer = undefined;
    const now = clock.now();
    let next = Infinity;
    for (const lease of [...ks.leases.values()]) {
      if (lease.idleSince === undefined || lease.inflight.size > 0) continue;
      const due = lease.idleSince + LEASE_IDLE_MS;
      if (all || due <= now) this.returnLease(lease);
      else next = Math.min(next, due);
    }
    if (next !== Infinity) ks.idleTimer = clock.setTimeout(() => this.returnIdle(ks), next - now);
    else if (ks.leases.size === 0 && ks.queue.length === 0 && ks.requests.size === 0 && this.s.keys.get(ks.key) === ks) this.s.keys.delete(ks.key);
  }

  /** Work of some owner waits for resources (`leases-wanted`): give back every idle lease now. */
  returnIdleLeases(): void {
    if (this.s.stopped()) return;
    for (const ks of [...this.s.keys.values()]) {
      if (ks.queue.length > 0) continue;
      for (const lease of ks.leases.values()) if (lease.inflight.size === 0 && !lease.blocked) lease.idleSince ??= this.s.clock.now();
      this.returnIdle(ks, true);
    }
  }

  /** Give `lease` back to the broker and forget it. */
  returnLease(lease: Lease): void {
    const ks = this.s.keys.get(lease.key);
    ks?.leases.delete(lease.id);
    this.s.leases.delete(lease.id);
    this.s.outbox.send(BROKER_QUEUE, { t: 'return-lease', lease: lease.id }, undefined, this.returnFailed);
  }

  /**
   * A return that could not be sent (the bus is down or reconnecting) is sent again shortly:
   * a lost return would leave the worker leased, its resources held, to an owner that forgot it.
   */
  private readonly returnFailed = (_err: Error, msg: BrokerMsg): void => {
    if (msg.t !== 'return-lease' || this.s.stopped()) return;
    this.s.clock.setTimeout(() => {
      if (!this.s.stopped()) this.s.outbox.send(BROKER_QUEUE, msg, undefined, this.returnFailed);
    }, LEASE_REQUEST_RETRY_MS);
  };

  /**
   * The submitter shuts down: leases kept idle go back (the broker hears it even once the
   * runtime closed its outbox); those running tasks are released when the broker hears that
   * this owner left.
   */
  shutdown(): void {
    for (const ks of this.s.keys.values()) {
      this.s.clock.clear(ks.idleTimer);
      for (const lease of ks.leases.values()) if (lease.inflight.size === 0) this.s.outbox.send(BROKER_QUEUE, { t: 'return-lease', lease: lease.id });
    }
  }
}
