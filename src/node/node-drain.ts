/**
 * The waiting part of a node's drain (SIGTERM): running work finishes, each worker's lease goes
 * back once it is between tasks, and the drain ends when no worker holds work any more, or
 * when its timeout passes (work still running then is stopped and fails over). It waits on
 * the workers' state changes and the clock, never by polling.
 */
import type { Clock } from '../util/clock';

/** What a drain watches. */
export interface DrainTarget {
  /** Workers still holding work (a lease or an actor), including work being given back. */
  holding(): number;
  /** Of those, the workers still running work (not yet giving it back). */
  working(): number;
  /** Call `listener` after any worker changes; returns its removal. */
  onChange(listener: () => void): () => void;
}

/** How a drain ended. */
export type DrainOutcome = 'drained' | 'timeout';

/**
 * Resolve once `target.holding()` is 0, or after `timeoutMs` on `clock`. `progress` hears the
 * number of workers still running work whenever it changes, and the timeout.
 */
export function awaitWorkDrained(target: DrainTarget, clock: Clock, timeoutMs: number, progress?: (line: string) => void): Promise<DrainOutcome> {
  return new Promise<DrainOutcome>((resolve) => {
    let reported = -1;
    let done = false;
    const finish = (outcome: DrainOutcome): void => {
      if (done) return;
      done = true;
      off();
      clock.clear(timer);
      resolve(outcome);
    };
    const check = (): void => {
      if (done) return;
      if (target.holding() === 0) return finish('drained');
      const left = target.working();
      if (left > 0 && left !== reported) progress?.(`waiting for ${left} worker${left === 1 ? '' : 's'} to finish ${left === 1 ? 'its' : 'their'} current work`);
      reported = left;
    };
    const off = target.onChange(check);
    const timer = clock.setTimeout(() => {
      const left = target.holding();
      progress?.(`drain timeout (${timeoutMs} ms): stopping ${left} busy worker${left === 1 ? '' : 's'}; their work fails over`);
      finish('timeout');
    }, timeoutMs).ref(); // a drain holds its process open until it ends
    check();
  });
}
