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
import { systemClock, type Clock, type Timer } from '../util/clock';

/** What a probe found. */
export type ProbeResult = 'alive' | 'missing' | 'unknown';

/** Options of a {@link LivenessMonitor}. */
export interface LivenessOptions {
  /** Look for the presence queue of `id`. */
  probe(id: string): Promise<ProbeResult>;
  /** `id` is dead (it is no longer watched). */
  onDead(id: string): void;
  readonly intervalMs?: number;
  readonly failWindowMs?: number;
  readonly graceMs?: number;
  /** Time for the probe interval, the fail window and the grace (default systemClock). */
  readonly clock?: Clock;
}

interface Watched {
  firstMissing?: number;
  probing: boolean;
}

/** Probes watched processes on an interval and reports those whose presence stays missing. */
export class LivenessMonitor {
  private readonly watched = new Map<string, Watched>();
  private readonly clock: Clock;
  private timer?: Timer;
  private startedAt = 0;

  constructor(private readonly options: LivenessOptions) {
    this.clock = options.clock ?? systemClock;
  }

  /** Probe every `intervalMs`; the grace starts now. */
  start(): void {
    this.startedAt = this.clock.now();
    this.timer = this.clock.setInterval(() => this.tick(), this.options.intervalMs ?? 1000);
  }

  /** Stop probing and forget every watched process. */
  stop(): void {
    this.clock.clear(this.timer);
    this.timer = undefined;
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
