/**
 * Leases on the in-memory bus (`InMemoryBus` with `capabilities.leases`): at most one holder
 * per name until its TTL runs out on the bus's clock or it is released. The reference for
 * what `Transport.acquireLease` promises, and how tests run lease-based leader election on
 * simulated time.
 */
import { randomBytes } from 'node:crypto';
import type { Clock } from '../util/clock';
import type { TransportLease } from './transport';

interface Held {
  readonly id: string;
  expires: number;
}

/** The lease table of one bus. */
export class InMemoryLeases {
  private readonly held = new Map<string, Held>();

  constructor(private readonly clock: Clock) {}

  /** Hold `name` for `ttlMs`, or null while someone else does. */
  acquire(name: string, ttlMs: number): TransportLease | null {
    if (!(Number.isFinite(ttlMs) && ttlMs > 0)) throw new RangeError(`acquireLease: ttlMs must be a number > 0, got ${String(ttlMs)}`);
    const now = this.clock.now();
    const current = this.held.get(name);
    if (current && current.expires > now) return null;
    const mine: Held = { id: randomBytes(8).toString('hex'), expires: now + ttlMs };
    this.held.set(name, mine);
    const holds = (): boolean => this.held.get(name) === mine && mine.expires > this.clock.now();
    return {
      id: mine.id,
      renew: async () => {
        if (!holds()) return false;
        mine.expires = this.clock.now() + ttlMs;
        return true;
      },
      release: async () => {
        if (this.held.get(name) === mine) this.held.delete(name);
      },
    };
  }
}
