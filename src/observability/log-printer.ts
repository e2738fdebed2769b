/**
 * The driver's side of worker output: lines that workers sent (`log-lines`) print on the
 * driver's stdout or stderr, each prefixed as Ray does — `(fnName pid=N node=abcd1234) line`
 * for a task, `(ClassName pid=N node=abcd1234) line` for an actor — with repeats across
 * processes collapsed (log-dedup.ts). Lines held back print once their window passes (a timer
 * on the injected clock) or when the driver stops.
 */
import type { LogLinesMsg } from '../protocol/messages/state';
import type { Clock, Timer } from '../util/clock';
import { LogDeduplicator, type LogBatch } from './log-dedup';

/** How the prefix of a line reads: `(name pid=N node=xxxxxxxx)`. */
export function logPrefix(name: string, pid: number, node: string): string {
  return `(${name} pid=${pid}${node ? ` node=${node.slice(0, 8)}` : ''})`;
}

export interface LogPrinterOptions {
  readonly clock: Clock;
  /** Where stdout lines go (default: this process's stdout). */
  readonly out?: (text: string) => void;
  /** Where stderr lines go (default: this process's stderr). */
  readonly err?: (text: string) => void;
  /** Collapse repeats (default: unless RAYBUS_DEDUP_LOGS=0). */
  readonly dedup?: boolean;
  /** Aggregation window in seconds (default 5, RAYBUS_DEDUP_LOGS_AGG_WINDOW_S). */
  readonly windowS?: number;
}

const NOTICE = '(raybus deduplicates logs by default. Set RAYBUS_DEDUP_LOGS=0 to disable log deduplication.)';

function regexFromEnv(name: string): RegExp | undefined {
  const v = process.env[name];
  if (!v) return undefined;
  try {
    return new RegExp(v);
  } catch {
    return undefined;
  }
}

/** Prints worker output on the driver (see the file comment). */
export class LogPrinter {
  private readonly out: (text: string) => void;
  private readonly err: (text: string) => void;
  private readonly dedupOut?: LogDeduplicator<string>;
  private readonly dedupErr?: LogDeduplicator<string>;
  private timer: Timer | undefined;
  private timerAt = 0;

  constructor(private readonly options: LogPrinterOptions) {
    this.out = options.out ?? ((t) => void process.stdout.write(t));
    this.err = options.err ?? ((t) => void process.stderr.write(t));
    const dedup = options.dedup ?? process.env.RAYBUS_DEDUP_LOGS !== '0';
    if (dedup) {
      const windowS = options.windowS ?? (Number(process.env.RAYBUS_DEDUP_LOGS_AGG_WINDOW_S) || 5);
      const allow = regexFromEnv('RAYBUS_DEDUP_LOGS_ALLOW_REGEX');
      const skip = regexFromEnv('RAYBUS_DEDUP_LOGS_SKIP_REGEX');
      const o = { windowS, firstNotice: NOTICE, ...(allow ? { allow } : {}), ...(skip ? { skip } : {}) };
      const now = (): number => options.clock.now();
      this.dedupOut = new LogDeduplicator<string>(o, now);
      this.dedupErr = new LogDeduplicator<string>(o, now);
    }
  }

  /** Print the lines of one message from a worker. */
  print(msg: LogLinesMsg): void {
    const source = `${msg.node}:${msg.pid}`;
    // Consecutive lines of one name and stream print as one batch.
    let i = 0;
    while (i < msg.lines.length) {
      const first = msg.lines[i]!;
      const err = first.err === true;
      const lines: string[] = [];
      while (i < msg.lines.length && msg.lines[i]!.name === first.name && (msg.lines[i]!.err === true) === err) lines.push(msg.lines[i++]!.text);
      this.emit(err, { source, meta: logPrefix(first.name, msg.pid, msg.node), lines });
    }
    this.schedule();
  }

  /** Print what is held back (the driver stops) and stop the timer. */
  flush(): void {
    this.options.clock.clear(this.timer);
    this.timer = undefined;
    for (const b of this.dedupOut?.flush() ?? []) this.write(false, b);
    for (const b of this.dedupErr?.flush() ?? []) this.write(true, b);
  }

  private emit(err: boolean, batch: LogBatch<string>): void {
    const dedup = err ? this.dedupErr : this.dedupOut;
    if (!dedup) return this.write(err, batch);
    for (const b of dedup.deduplicate(batch)) this.write(err, b);
  }

  private write(err: boolean, batch: LogBatch<string>): void {
    if (batch.lines.length === 0) return;
    const text = batch.lines.map((l) => `${batch.meta} ${l}\n`).join('');
    (err ? this.err : this.out)(text);
  }

  /** Wake up when the oldest held-back pattern's window ends. */
  private schedule(): void {
    const next = Math.min(this.dedupOut?.nextExpiry() ?? Infinity, this.dedupErr?.nextExpiry() ?? Infinity);
    if (next === Infinity || (this.dedupOut?.pending ?? 0) + (this.dedupErr?.pending ?? 0) === 0) return;
    if (this.timer && this.timerAt <= next) return;
    this.options.clock.clear(this.timer);
    this.timerAt = next;
    this.timer = this.options.clock.setTimeout(() => {
      this.timer = undefined;
      for (const b of this.dedupOut?.expire() ?? []) this.write(false, b);
      for (const b of this.dedupErr?.expire() ?? []) this.write(true, b);
      this.schedule();
    }, Math.max(0, next - this.options.clock.now()));
  }
}
