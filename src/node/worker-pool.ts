/**
 * Idle workers of a node, pooled by runtime-env key (Ray's worker pool): work runs only on a
 * worker started with its env. Idle workers are reaped after a timeout, except `keepIdle` of
 * the default env that have run nothing yet (the prestarted ones, kept warm for the next lease
 * or actor).
 *
 * A worker that has run work (`used`) holds what that work left: a grown heap and young
 * generation that V8 keeps, code, buffers the allocator does not give back (a worker that ran
 * the bench's tasks idles at 57-110 MB, a fresh one at 44.5). So leases take a used worker
 * first, actors (which keep their process as long as they live) take only a fresh one, and
 * a used worker is reaped after the idle timeout even where `keepIdle` would keep a fresh one.
 */
import { DEFAULT_ENV_KEY } from '../protocol/runtime-env';
import { systemClock, type Clock, type Timer } from '../util/clock';

export interface WorkerPoolOptions<W> {
  /** How long an idle worker is kept (beyond `keepIdle` fresh ones of the default env). */
  readonly idleTimeoutMs: number;
  /** Idle workers of the default env that have run nothing, never reaped (default: all idle workers of the default env, used or not). */
  readonly keepIdle?: number;
  /** Called with a worker that stayed idle too long (already out of the pool). */
  readonly reap: (worker: W) => void;
  /** The clock reaping runs on (default: real time; its timers never hold the process open). */
  readonly clock?: Clock;
}

/** What a worker is taken for: a task lease (any idle worker, used ones first) or an actor (a fresh one only). */
export type PoolUse = 'lease' | 'actor';

export class WorkerPool<W extends { readonly dead: boolean; readonly used?: boolean }> {
  private readonly idle = new Map<string, W[]>();
  private readonly reapTimers = new Map<W, Timer>();
  private readonly clock: Clock;

  constructor(private readonly options: WorkerPoolOptions<W>) {
    this.clock = options.clock ?? systemClock;
  }

  /**
   * An idle live worker of env `key`, or undefined: for a lease the most recently pooled used
   * one, else the most recently pooled fresh one; for an actor only a fresh one.
   */
  take(key: string, use: PoolUse = 'lease'): W | undefined {
    const list = this.idle.get(key);
    if (!list) return undefined;
    for (let i = list.length - 1; i >= 0; i--) if (list[i]!.dead) this.removeAt(key, list, i);
    let i = use === 'lease' ? lastIndex(list, (w) => w.used === true) : -1;
    if (i < 0) i = lastIndex(list, (w) => w.used !== true);
    if (i < 0) return undefined;
    const w = list[i]!;
    this.removeAt(key, list, i);
    return w;
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
        // Used workers go; fresh ones, the longest idle first (take() hands out the most
        // recent), down to `keep`.
        if ((w.used === true || this.fresh(key) > keep) && this.removeIdle(key, w)) this.options.reap(w);
      }, this.options.idleTimeoutMs),
    );
  }

  /** Idle workers of env `key` that have run nothing. */
  fresh(key: string): number {
    let n = 0;
    for (const w of this.idle.get(key) ?? []) if (w.used !== true && !w.dead) n++;
    return n;
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
    this.removeAt(key, list!, i);
    return true;
  }

  private removeAt(key: string, list: W[], i: number): void {
    this.cancelReap(list[i]!);
    list.splice(i, 1);
    if (list.length === 0) this.idle.delete(key);
  }
}

function lastIndex<T>(list: readonly T[], test: (x: T) => boolean): number {
  for (let i = list.length - 1; i >= 0; i--) if (test(list[i]!)) return i;
  return -1;
}
