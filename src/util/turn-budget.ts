/**
 * A budget of work per event-loop turn, for work that can pile up in one turn without any I/O
 * in between: a program that `get`s slice after slice of results that are already here runs
 * through them in one chain of microtasks, and the collector can report a few hundred thousand
 * dead ObjectRefs in one finalization task. Past the budget, the rest waits for the next turn,
 * so that timers and I/O run between (a driver with a million queued tasks stays responsive).
 * A turn here ends at the event loop's check phase (`setImmediate`).
 */
export class TurnBudget {
  private used = 0;
  private resetting = false;

  /** @param perTurn  units of work one turn may take before the rest is deferred */
  constructor(private readonly perTurn: number) {}

  /**
   * Charge `n` units to this turn. True: go on now. False: this turn's budget is spent, defer
   * the work (`nextTurn`). The first charge of a turn always goes on, however large.
   */
  take(n: number): boolean {
    if (!this.resetting) {
      this.resetting = true;
      setImmediate(this.reset);
    }
    if (this.used >= this.perTurn) return false;
    this.used += n;
    return true;
  }

  private readonly reset = (): void => {
    this.used = 0;
    this.resetting = false;
  };
}

/** Resolves on the event loop's next check phase, after timers and I/O have had their turn. */
export function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
