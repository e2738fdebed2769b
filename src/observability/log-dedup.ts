/**
 * Ray's log deduplication (`ray._private.ray_logging.LogDeduplicator`), for worker output
 * printed by the driver: the first line of each pattern prints at once; the same pattern
 * (words with digits or hex ignored) from other processes within the aggregation window (5 s)
 * is held back and printed once the window passes as `<line> [repeated Nx across cluster]`.
 * Lines repeated by one process print as they come. RAYBUS_DEDUP_LOGS=0 turns it off;
 * RAYBUS_DEDUP_LOGS_AGG_WINDOW_S, RAYBUS_DEDUP_LOGS_ALLOW_REGEX and RAYBUS_DEDUP_LOGS_SKIP_REGEX
 * tune it as Ray's variables do.
 */

/** Lines from one process, with what identifies it. */
export interface LogBatch<M = unknown> {
  /** Where the lines come from (node, pid): lines of one source never collapse. */
  readonly source: string;
  /** What to print them with (the prefix's parts). */
  readonly meta: M;
  readonly lines: string[];
}

interface DedupState<M> {
  /** When the first line of this pattern in the current window was seen (ms). */
  timestamp: number;
  /** Occurrences held back, not printed yet. */
  count: number;
  /** The latest occurrence. */
  line: string;
  meta: M;
  sources: Set<string>;
}

const NUMBERS = /(\d+|0x[0-9a-fA-F]+)/;

/** The pattern of a line: its words without the ones that carry numbers. */
export function canonicalLine(line: string): string {
  return line
    .split(/\s+/)
    .filter((w) => w !== '' && !NUMBERS.test(w))
    .join(' ');
}

export interface LogDedupOptions {
  /** The aggregation window in seconds (Ray's default: 5). */
  readonly windowS: number;
  /** Lines matching this are never held back. */
  readonly allow?: RegExp;
  /** Lines matching this are not printed at all. */
  readonly skip?: RegExp;
  /** Suffix of the first collapsed line ever (how to turn this off). */
  readonly firstNotice?: string;
}

/** Collapses repeated lines across processes (see the file comment). */
export class LogDeduplicator<M = unknown> {
  private readonly recent = new Map<string, DedupState<M>>();
  private noticed = false;

  constructor(
    private readonly options: LogDedupOptions,
    private readonly now: () => number,
  ) {}

  /** Lines held back now (a timer flushes them once their window passes). */
  get pending(): number {
    let n = 0;
    for (const s of this.recent.values()) n += s.count;
    return n;
  }

  /** When the oldest window ends (ms), if a pattern is being aggregated. */
  nextExpiry(): number | undefined {
    const first = this.recent.values().next();
    return first.done ? undefined : first.value.timestamp + this.options.windowS * 1000;
  }

  /**
   * The batches to print for `batch`: its lines that print now, then the lines of patterns
   * whose window has passed (collapsed, with their count).
   */
  deduplicate(batch: LogBatch<M>): Array<LogBatch<M>> {
    const now = this.now();
    const out: Array<LogBatch<M>> = [{ source: batch.source, meta: batch.meta, lines: [] }];
    const print = out[0]!.lines;
    for (const line of batch.lines) {
      if (this.options.allow?.test(line)) {
        print.push(line);
        continue;
      }
      if (this.options.skip?.test(line)) continue;
      const key = canonicalLine(line);
      // Nothing but numbers: that is all there is to see.
      if (key === '') {
        print.push(line);
        continue;
      }
      const state = this.recent.get(key);
      if (!state) {
        this.recent.set(key, { timestamp: now, count: 0, line, meta: batch.meta, sources: new Set([batch.source]) });
        print.push(line);
        continue;
      }
      state.sources.add(batch.source);
      if (state.sources.size > 1) {
        state.count += 1;
        state.line = line;
        state.meta = batch.meta;
      } else print.push(line);
    }
    out.push(...this.expire(now));
    return out;
  }

  /** The lines of patterns whose window has passed. */
  expire(now = this.now()): Array<LogBatch<M>> {
    const out: Array<LogBatch<M>> = [];
    const windowMs = this.options.windowS * 1000;
    for (const [key, state] of [...this.recent]) {
      if (now - state.timestamp < windowMs) break;
      this.recent.delete(key);
      if (state.count > 1) {
        out.push({ source: '', meta: state.meta, lines: [this.formatted(state)] });
        // Keep aggregating this pattern from now on.
        state.timestamp = now;
        state.count = 0;
        this.recent.set(key, state);
      } else if (state.count > 0) out.push({ source: '', meta: state.meta, lines: [state.line] });
    }
    return out;
  }

  /** Everything held back, now (shutdown). */
  flush(): Array<LogBatch<M>> {
    const out: Array<LogBatch<M>> = [];
    for (const state of this.recent.values()) {
      if (state.count > 1) out.push({ source: '', meta: state.meta, lines: [this.formatted(state)] });
      else if (state.count > 0) out.push({ source: '', meta: state.meta, lines: [state.line] });
    }
    this.recent.clear();
    return out;
  }

  private formatted(state: DedupState<M>): string {
    let notice = '';
    if (!this.noticed && this.options.firstNotice) {
      this.noticed = true;
      notice = ` ${this.options.firstNotice}`;
    }
    return `${state.line} [repeated ${state.count}x across cluster]${notice}`;
  }
}
