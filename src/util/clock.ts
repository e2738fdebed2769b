/**
 * Time, injected: every heartbeat, timeout, retry, lease and probe in raybus reads one
 * `Clock` (after XState's clock), so tests run them on simulated time (`SimulatedClock`).
 */

/** A timer made by a clock; cancel it with `clock.clear(timer)`. */
export interface Timer {
  /** Let the process exit while this timer waits (the default for raybus's own timers). */
  unref(): Timer;
  /** Keep the process alive while this timer waits. */
  ref(): Timer;
}

/** What raybus needs of time. */
export interface Clock {
  /** Milliseconds since the epoch (or since the simulated clock started). */
  now(): number;
  /** Run `fn` once after `ms`. The timer does not keep the process alive (call `ref()` to make it). */
  setTimeout(fn: () => void, ms: number): Timer;
  /** Run `fn` every `ms`. The timer does not keep the process alive. */
  setInterval(fn: () => void, ms: number): Timer;
  /** Cancel a timer made by this clock (undefined is ignored). */
  clear(timer: Timer | undefined): void;
}

/** Real time, with timers that never hold the process open unless asked to. */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms).unref(),
  setInterval: (fn, ms) => setInterval(fn, ms).unref(),
  clear: (timer) => {
    if (timer) clearTimeout(timer as unknown as NodeJS.Timeout);
  },
};

/**
 * Milliseconds on a monotonic clock, for durations. `performance.now()` would do, but the
 * first use of the `performance` global loads perf_hooks into the process (about 0.3 MB of
 * every worker's RSS).
 */
export function monotonicMs(): number {
  const [s, ns] = process.hrtime();
  return s * 1e3 + ns / 1e6;
}

/** The epoch time, in ms, at which `monotonicMs()` was 0. */
export const MONOTONIC_ORIGIN_MS = Date.now() - monotonicMs();

/** Resolve after `ms` on `clock`. */
export function sleep(clock: Clock, ms: number): Promise<void> {
  return new Promise((resolve) => clock.setTimeout(resolve, ms));
}
