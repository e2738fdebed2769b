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
 * that no caller reports is noticed too).
 */
export class KeepAlive {
  private timer: Timer | undefined;
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
    const done = (): void => {
      this.waits -= 1;
      this.check();
    };
    p.then(done, done);
    return p;
  }

  /** Work started: hold the process until `busy()` turns false. */
  poke(): void {
    if (this.timer || this.stopped) return;
    this.timer = this.clock.setInterval(() => this.check(), this.periodMs).ref();
  }

  /** Let go now if nothing is outstanding (a caller saw work end). */
  check(): void {
    if (this.timer && (this.stopped || !this.busy())) {
      this.clock.clear(this.timer);
      this.timer = undefined;
    }
  }

  /** True while the process is held. */
  get holding(): boolean {
    return this.timer !== undefined;
  }

  /** Never hold again (the runtime stopped). */
  stop(): void {
    this.stopped = true;
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
