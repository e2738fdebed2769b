/**
 * A worker's stdout and stderr, on their way to the driver: every write still goes to the
 * process's own stream (its node points them at the worker's log files), and, unless the
 * driver turned it off, each line is also tagged with what wrote it — the running task's
 * function, or the actor's class — and sent to the owner of that work in batches (every
 * 50 ms, and before a call's result, so a task's output prints before `get` returns it).
 * In the log files, a marker line says which task wrote what follows (`raybus logs --task`).
 */
import type { ReplyQueue, TaskId } from '../protocol/ids';
import type { LogLine, LogLinesMsg } from '../protocol/messages/state';
import type { ExecutionLog } from '../observability/execution-log';
import { taskMarker } from '../observability/log-markers';
import { slot } from '../core/runtime-state';
import type { Clock, Timer } from '../util/clock';
import { LOG_FILES_VAR } from '../protocol/worker-process';

/** How often pending lines are sent (ms). */
export const LOG_BATCH_MS = 50;
/** Most text held for one flush; more is counted and dropped (it stays in the log file). */
const MAX_PENDING_CHARS = 1024 * 1024;
/** Longest line sent (longer ones are cut; the file keeps them whole). */
const MAX_LINE_CHARS = 64 * 1024;

type Write = (chunk: unknown, encoding?: unknown, cb?: unknown) => boolean;

interface Identity {
  readonly pid: number;
  readonly node: LogLinesMsg['node'];
  readonly worker: LogLinesMsg['worker'];
}

/** Captures a worker's output (see the file comment). */
export class LogCapture {
  private readonly pending = new Map<ReplyQueue, LogLine[]>();
  private pendingChars = 0;
  private droppedLines = 0;
  private readonly partial = { out: '', err: '' };
  private readonly lastMarker: { out?: string; err?: string } = {};
  private timer: Timer | undefined;

  /** @param markers write task markers into the streams (they are the node's log files) */
  constructor(
    private readonly identity: Identity,
    private readonly executions: ExecutionLog,
    private readonly send: (owner: ReplyQueue, msg: LogLinesMsg) => void,
    private readonly clock: Clock,
    private readonly markers = process.env[LOG_FILES_VAR] === '1',
  ) {}

  /** Wrap this process's stdout and stderr (or the streams given). */
  install(streams: { out: { write: unknown }; err: { write: unknown } } = { out: process.stdout, err: process.stderr }): void {
    this.wrap(streams.out, 'out');
    this.wrap(streams.err, 'err');
  }

  private wrap(stream: { write: unknown }, which: 'out' | 'err'): void {
    const original = (stream.write as Write).bind(stream);
    const wrapped = (chunk: unknown, encoding?: unknown, cb?: unknown): boolean => {
      const taskId = slot.taskContext.getStore()?.taskId;
      if (this.markers && this.lastMarker[which] !== (taskId ?? '-')) {
        this.lastMarker[which] = taskId ?? '-';
        original(taskMarker(taskId));
      }
      try {
        this.take(which, chunk, encoding, taskId);
      } catch {
        /* never let capture break a write */
      }
      return original(chunk, encoding, cb);
    };
    (stream as unknown as { write: Write }).write = wrapped;
  }

  private take(which: 'out' | 'err', chunk: unknown, encoding: unknown, taskId: TaskId | undefined): void {
    const dest = this.executions.destination(taskId);
    if (!dest || dest.nolog) return;
    const text = typeof chunk === 'string' ? chunk : chunk instanceof Uint8Array ? Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength).toString(typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8') : String(chunk);
    const all = this.partial[which] + text;
    const parts = all.split('\n');
    this.partial[which] = parts.pop()!;
    if (parts.length === 0) return;
    let lines = this.pending.get(dest.owner);
    if (!lines) this.pending.set(dest.owner, (lines = []));
    for (const p of parts) {
      const line = p.endsWith('\r') ? p.slice(0, -1) : p;
      if (this.pendingChars + line.length > MAX_PENDING_CHARS) {
        this.droppedLines += 1;
        continue;
      }
      this.pendingChars += line.length;
      lines.push(which === 'err' ? { name: dest.name, text: line.slice(0, MAX_LINE_CHARS), err: true } : { name: dest.name, text: line.slice(0, MAX_LINE_CHARS) });
    }
    this.timer ??= this.clock.setTimeout(() => this.flush(), LOG_BATCH_MS);
  }

  /** Send what is pending now (before a result, before the process exits). */
  flush(): void {
    this.clock.clear(this.timer);
    this.timer = undefined;
    if (this.pending.size === 0) return;
    const { pid, node, worker } = this.identity;
    for (const [owner, lines] of this.pending) {
      if (this.droppedLines > 0) {
        lines.push({ name: lines[0]?.name ?? 'worker', text: `[raybus: ${this.droppedLines} lines not forwarded (too much output at once); the worker's log file has them]`, err: true });
        this.droppedLines = 0;
      }
      if (lines.length > 0) this.send(owner, { t: 'log-lines', pid, node, worker, lines });
    }
    this.pending.clear();
    this.pendingChars = 0;
  }

  /** True when lines wait to be sent. */
  get hasPending(): boolean {
    return this.pending.size > 0;
  }
}
