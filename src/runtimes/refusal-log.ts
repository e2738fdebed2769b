/**
 * The refusals of one process's AuthTransports, together: counted by reason (for `raybus
 * status`), and reported once per sender, so that a flood of forged messages does not flood
 * the log.
 */
import { logger } from '../util/logger';

/** Refusals of unauthenticated messages, by reason. */
export class RefusalLog {
  private readonly counts: Record<string, number> = {};

  /** @param warn where the first refusal from each sender is reported. */
  constructor(private readonly warn: (line: string) => void = (line) => logger.warn(line)) {}

  /** The AuthTransport's `onReject`. */
  readonly onReject = (reason: string, where: string, first: boolean, kind: string): void => {
    this.counts[kind] = (this.counts[kind] ?? 0) + 1;
    if (first) this.warn(`raybus: refused a message on ${where}: ${reason}; further refusals from this sender are counted, not logged`);
  };

  /** Refusals so far, by reason. */
  snapshot(): Record<string, number> {
    return { ...this.counts };
  }
}
