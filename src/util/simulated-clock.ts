/**
 * A clock whose time moves only when a test says so (after XState's `SimulatedClock`):
 * `advance(ms)` runs every timer that falls due, in order, including timers those timers set.
 */
import type { Clock, Timer } from './clock';

interface SimTimer extends Timer {
  readonly id: number;
  due: number;
  readonly every?: number;
  readonly fn: () => void;
  cancelled: boolean;
}

export class SimulatedClock implements Clock {
  private time: number;
  private seq = 0;
  private readonly timers = new Set<SimTimer>();

  constructor(start = 0) {
    this.time = start;
  }

  now(): number {
    return this.time;
  }

  setTimeout(fn: () => void, ms: number): Timer {
    return this.add(fn, ms);
  }

  setInterval(fn: () => void, ms: number): Timer {
    return this.add(fn, ms, Math.max(1, ms));
  }

  clear(timer: Timer | undefined): void {
    if (!timer) return;
    (timer as SimTimer).cancelled = true;
    this.timers.delete(timer as SimTimer);
  }

  /** Timers waiting now. */
  get pending(): number {
    return this.timers.size;
  }

  /**
   * Move time forward by `ms`, running due timers in due-time order (ties in creation order).
   * Microtasks queued by a timer run before the next timer, as they would in real time.
   */
  async advance(ms: number): Promise<void> {
    const target = this.time + ms;
    for (;;) {
      const next = this.nextDue(target);
      if (!next) break;
      this.time = next.due;
      if (next.every !== undefined) next.due += next.every;
      else this.timers.delete(next);
      next.fn();
      // Let promise callbacks of this timer settle before the next one fires.
      await flushMicrotasks();
    }
    this.time = target;
    await flushMicrotasks();
  }

  /** Run the timers due now without moving time. */
  async tick(): Promise<void> {
    await this.advance(0);
  }

  private add(fn: () => void, ms: number, every?: number): Timer {
    const t: SimTimer = {
      id: ++this.seq,
      due: this.time + Math.max(0, ms),
      ...(every !== undefined ? { every } : {}),
      fn,
      cancelled: false,
      unref: () => t,
      ref: () => t,
    };
    this.timers.add(t);
    return t;
  }

  private nextDue(limit: number): SimTimer | undefined {
    let best: SimTimer | undefined;
    for (const t of this.timers) {
      if (t.cancelled || t.due > limit) continue;
      if (!best || t.due < best.due || (t.due === best.due && t.id < best.id)) best = t;
    }
    return best;
  }
}

/** Let queued promise callbacks run (a few rounds, for chains). */
async function flushMicrotasks(): Promise<void> {
  for (let i = 0; i < 10; i++) await Promise.resolve();
}
