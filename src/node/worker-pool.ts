/**
 * Idle workers of a node, pooled by runtime-env key (Ray's worker pool): work runs only on a
 * worker started with its env. Idle workers are reaped after a timeout, except `keepIdle` of
 * the default env (the prestarted ones, kept warm for the next lease or actor).
 */
import { DEFAULT_ENV_KEY } from '../protocol/runtime-env';
import { systemClock, type Clock, type Timer } from '../util/clock';

export interface WorkerPoolOptions<W> {
  /** How long an idle worker is kept (beyond `keepIdle` of the default env). */
  readonly idleTimeoutMs: number;
  /** Idle workers of the default env never reaped (default: all of them). */
  readonly keepIdle?: number;
  /** Called with a worker that stayed idle too long (already out of the pool). */
  readonly reap: (worker: W) => void;
  /** The clock reaping runs on (default: real time; its timers never hold the process open). */
  readonly clock?: Clock;
}

export class WorkerPool<W extends { readonly dead: boolean }> {
  private readonly idle = new Map<string, W[]>();
  private readonly reapTimers = new Map<W, Timer>();
  private readonly clock: Clock;

  constructor(private readonly options: WorkerPoolOptions<W>) {
    this.clock = options.clock ?? systemClock;
  }

  /** An idle live worker of env `key` (the most recently used), or undefined. */
  take(key: string): W | undefined {
    const list = this.idle.get(key);
    while (list && list.length > 0) {
      const w = list.pop()!;
      this.cancelReap(w);
      if (!w.dead) {
        if (list.length === 0) this.idle.delete(key);
        return w;
      }
    }
    this.idle.delete(key);
    return undefined;
  }

  /** A worker of env `key` became idle (putting a worker that is already idle changes nothing). */
  put(key: string, w: W): void {
    if (w.dead) return;
    let list = this.idle.get(key);
    if (!list) this.idle.set(key, (list = []));
    if (list.includes(w)) return;
    list.push(w);
    const keep = key === DEFAULT_ENV_KEY ? (this.options.keepIdle ?? Infinity) : 0;
    if (keep === Infinity) return;
    this.reapTimers.set(
      w,
      this.clock.setTimeout(() => {
        this.reapTimers.delete(w);
        // The longest idle go first (take() hands out the most recent), down to `keep`.
        if (this.size(key) > keep && this.removeIdle(key, w)) this.options.reap(w);
      }, this.options.idleTimeoutMs),
    );
  }

  /** Forget a worker (it died). */
  remove(key: string, w: W): void {
    this.cancelReap(w);
    this.removeIdle(key, w);
  }

  /** Idle workers of env `key`. */
  size(key: string): number {
    return this.idle.get(key)?.length ?? 0;
  }

  /** Empty the pool (node stopping): cancels reaping and returns every idle worker. */
  drain(): W[] {
    for (const h of this.reapTimers.values()) this.clock.clear(h);
    this.reapTimers.clear();
    const all = [...this.idle.values()].flat();
    this.idle.clear();
    return all;
  }

  private cancelReap(w: W): void {
    const h = this.reapTimers.get(w);
    if (h === undefined) return;
    this.reapTimers.delete(w);
    this.clock.clear(h);
  }

  private removeIdle(key: string, w: W): boolean {
    const list = this.idle.get(key);
    const i = list ? list.indexOf(w) : -1;
    if (i < 0) return false;
    list!.splice(i, 1);
    if (list!.length === 0) this.idle.delete(key);
    return true;
  }
}
