/**
 * Liveness of the processes the broker depends on (nodes, drivers that own actors or leases),
 * read from their presence queues: a presence queue is auto-delete and consumed by its
 * process, so it exists exactly while that process's broker connection lives. A process is
 * dead once probes have found its queue missing for `failWindowMs` — a SIGKILLed process is
 * noticed within about two seconds, while a driver whose event loop is busy with user code
 * is not (its connection, and so its queue, lives on). Right after a broker election (or a
 * broker restart) clients may still be reconnecting, so no one is declared dead before
 * `graceMs` has passed.
 */

/** What a probe found. */
export type ProbeResult = 'alive' | 'missing' | 'unknown';

/** The clock and timers the monitor uses (tests pass fakes). */
export interface LivenessClock {
  now(): number;
  every(ms: number, fn: () => void): () => void;
}

export const realClock: LivenessClock = {
  now: () => Date.now(),
  every: (ms, fn) => {
    const h = setInterval(fn, ms);
    h.unref();
    return () => clearInterval(h);
  },
};

export interface LivenessOptions {
  /** Look for the presence queue of `id`. */
  probe(id: string): Promise<ProbeResult>;
  /** `id` is dead (it is no longer watched). */
  onDead(id: string): void;
  readonly intervalMs?: number;
  readonly failWindowMs?: number;
  readonly graceMs?: number;
  readonly clock?: LivenessClock;
}

interface Watched {
  firstMissing?: number;
  probing: boolean;
}

export class LivenessMonitor {
  private readonly watched = new Map<string, Watched>();
  private readonly clock: LivenessClock;
  private stopTimer?: () => void;
  private startedAt = 0;

  constructor(private readonly options: LivenessOptions) {
    this.clock = options.clock ?? realClock;
  }

  start(): void {
    this.startedAt = this.clock.now();
    this.stopTimer = this.clock.every(this.options.intervalMs ?? 1000, () => this.tick());
  }

  stop(): void {
    this.stopTimer?.();
    this.stopTimer = undefined;
    this.watched.clear();
  }

  watch(id: string): void {
    if (!this.watched.has(id)) this.watched.set(id, { probing: false });
  }

  unwatch(id: string): void {
    this.watched.delete(id);
  }

  isWatched(id: string): boolean {
    return this.watched.has(id);
  }

  /** Probe every watched process once (called by the timer; tests call it directly). */
  tick(): void {
    for (const [id, w] of this.watched) {
      if (w.probing) continue;
      w.probing = true;
      this.options.probe(id).then(
        (result) => this.onProbe(id, w, result),
        () => this.onProbe(id, w, 'unknown'),
      );
    }
  }

  private onProbe(id: string, w: Watched, result: ProbeResult): void {
    w.probing = false;
    if (this.watched.get(id) !== w) return;
    const now = this.clock.now();
    if (result === 'alive') {
      w.firstMissing = undefined;
      return;
    }
    if (result !== 'missing') return;
    w.firstMissing ??= now;
    const failWindow = this.options.failWindowMs ?? 2000;
    if (now - w.firstMissing >= failWindow && now - this.startedAt >= (this.options.graceMs ?? 0)) {
      this.watched.delete(id);
      this.options.onDead(id);
    }
  }
}
