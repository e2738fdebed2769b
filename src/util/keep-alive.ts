/**
 * What keeps a driver process alive. Its worker processes, their links and an idle broker
 * connection do not (a script ends when its work ends, as a Python driver does); instead one
 * ref'd timer holds the process while work is outstanding, and lets go once it is not.
 */
import { systemClock, type Clock, type Timer } from './clock';

/** Longest period a Node timer takes (ms). */
const LONGEST = 2 ** 31 - 1;

/**
 * Holds the process while `busy()` says work is outstanding. `poke()` when work starts; the
 * hold re-checks every `periodMs` and lets go once nothing is outstanding (so a completion
 * that no caller reports is noticed too). Letting go unrefs the timer rather than clearing
 * it, so a driver making one call after another toggles a flag instead of making a timer per
 * call; a timer that stayed unref'd for a whole period is cleared.
 */
export class KeepAlive {
  private timer: Timer | undefined;
  private held = false;
  private stopped = false;
  /** Promises held by `hold` and not yet settled (waits no other outstanding work covers). */
  private waits = 0;
  private readonly busy: () => boolean;

  constructor(
    busy: () => boolean,
    private readonly clock: Clock = systemClock,
    private readonly periodMs = 100,
  ) {
    this.busy = () => this.waits > 0 || busy();
  }

  /** Hold the process until `p` settles too. */
  hold<T>(p: Promise<T>): Promise<T> {
    this.waits += 1;
    this.poke();
    p.then(this.settled, this.settled);
    return p;
  }

  private readonly settled = (): void => {
    this.waits -= 1;
    this.check();
  };

  /** Work started: hold the process until `busy()` turns false. */
  poke(): void {
    if (this.held || this.stopped) return;
    this.held = true;
    if (this.timer) this.timer.ref();
    else this.timer = this.clock.setInterval(() => this.tick(), this.periodMs).ref();
  }

  private tick(): void {
    if (this.held) return this.check();
    // Not held for a whole period: no timer while idle.
    this.clock.clear(this.timer);
    this.timer = undefined;
  }

  /** Let go now if nothing is outstanding (a caller saw work end). */
  check(): void {
    if (!this.held || (!this.stopped && this.busy())) return;
    this.held = false;
    if (this.stopped) {
      this.clock.clear(this.timer);
      this.timer = undefined;
    } else this.timer?.unref();
  }

  /** True while the process is held. */
  get holding(): boolean {
    return this.held;
  }

  /** Never hold again (the runtime stopped). */
  stop(): void {
    this.stopped = true;
    this.held = true;
    this.check();
  }
}

/** Keep the process alive until `p` settles (init and shutdown: they wait on unref'd handles). */
export function holdProcessUntil<T>(p: Promise<T>, clock: Clock = systemClock): Promise<T> {
  const timer = clock.setInterval(() => undefined, LONGEST).ref();
  const release = (): void => clock.clear(timer);
  p.then(release, release);
  return p;
}
