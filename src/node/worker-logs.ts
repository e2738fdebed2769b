/**
 * A node's worker log files: each worker's stdout and stderr go to `worker-<id>.out` and
 * `worker-<id>.err` in the node's log directory (RAYBUS_LOG_DIR, else
 * `<tmpdir>/raybus/logs`, then `<nodeId>`), opened by the node and handed to the process as
 * its stdio, so the node copies nothing. `raybus logs` reads them through the node
 * (`read-log`). A node of `raybus start` keeps them; the embedded node and in-process test
 * nodes remove their directory when they stop (their driver got the output already).
 */
import { closeSync, fstatSync, mkdirSync, openSync, promises as fsp, readSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { LogChunkMsg, ReadLogMsg } from '../protocol/messages/state';
import { logger } from '../util/logger';
import { stripMarkers } from '../observability/log-markers';

/** Most bytes one `read-log` answer carries. */
const MAX_LOG_CHUNK = 1024 * 1024;

/** Where a reason gives way to a worker's last lines (see `withTail`). */
const TAIL_MARK = '. The end of its ';

/** Worker ids are lower-case letters and digits: nothing else can name a file here. */
const WORKER_ID = /^[0-9a-z]{1,64}$/;

/** The log directory of node `nodeId`. */
export function nodeLogDir(nodeId: string, base = process.env.RAYBUS_LOG_DIR || path.join(os.tmpdir(), 'raybus', 'logs')): string {
  return path.join(base, nodeId);
}

/** The log files of one node's workers (see the file comment). */
export class WorkerLogs {
  private made = false;
  private warned = false;

  constructor(
    readonly dir: string,
    private readonly keep: boolean,
  ) {}

  /** The file of `workerId`'s `stream`. */
  path(workerId: string, stream: 'out' | 'err'): string {
    return path.join(this.dir, `worker-${workerId}.${stream}`);
  }

  /** Open a new worker's files (append); undefined when they cannot be made (it inherits stdio then). */
  open(workerId: string): { out: number; err: number } | undefined {
    if (!WORKER_ID.test(workerId)) return undefined;
    let out: number | undefined;
    try {
      if (!this.made) {
        mkdirSync(this.dir, { recursive: true, mode: 0o700 });
        this.made = true;
      }
      out = openSync(this.path(workerId, 'out'), 'a', 0o600);
      const err = openSync(this.path(workerId, 'err'), 'a', 0o600);
      return { out, err };
    } catch (e) {
      if (out !== undefined) closeSync(out);
      if (!this.warned) {
        this.warned = true;
        logger.warn(`raybus node: cannot write worker log files in ${this.dir} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); workers write to the node's own output`);
      }
      return undefined;
    }
  }

  /** Close the parent's copies of a worker's file descriptors (the child has its own). */
  static close(files: { out: number; err: number } | undefined): void {
    if (!files) return;
    for (const fd of [files.out, files.err]) {
      try {
        closeSync(fd);
      } catch {
        /* already closed */
      }
    }
  }

  /**
   * The answer to `read-log`: bytes from `offset`, at most `max` (1 MiB). A full chunk ends at
   * its last line break, so no line (or character) is cut in two.
   */
  async read(msg: Pick<ReadLogMsg, 'req' | 'worker' | 'stream' | 'offset' | 'max'>): Promise<LogChunkMsg> {
    const base = { t: 'log-chunk' as const, req: msg.req };
    if (!WORKER_ID.test(msg.worker)) return { ...base, data: '', next: 0, size: 0, err: `not a worker id: '${String(msg.worker).slice(0, 64)}'` };
    let fh: Awaited<ReturnType<typeof fsp.open>> | undefined;
    try {
      fh = await fsp.open(this.path(msg.worker, msg.stream === 'err' ? 'err' : 'out'), 'r');
      const size = (await fh.stat()).size;
      const offset = Math.min(Math.max(0, Math.floor(msg.offset)), size);
      const want = Math.min(Math.max(1, Math.floor(msg.max)), MAX_LOG_CHUNK, size - offset);
      if (want <= 0) return { ...base, data: '', next: offset, size };
      const buf = Buffer.alloc(want);
      const { bytesRead } = await fh.read(buf, 0, want, offset);
      let end = bytesRead;
      if (offset + bytesRead < size) {
        const nl = buf.lastIndexOf(0x0a, bytesRead - 1);
        if (nl >= 0) end = nl + 1;
      }
      return { ...base, data: buf.subarray(0, end).toString('utf8'), next: offset + end, size };
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      return { ...base, data: '', next: 0, size: 0, err: code === 'ENOENT' ? `no log file for worker ${msg.worker} on this node` : (e as Error).message };
    } finally {
      await fh?.close().catch(() => undefined);
    }
  }

  /**
   * The last lines of a worker's stdout or stderr, read at once (at most the file's last `maxBytes`):
   * what a worker printed as it died (an uncaught error's stack) says why it crashed.
   */
  tailNow(workerId: string, stream: 'out' | 'err', lines = 12, maxBytes = 4096): string[] {
    let fd: number | undefined;
    try {
      fd = openSync(this.path(workerId, stream), 'r');
      const size = fstatSync(fd).size;
      const n = Math.min(size, maxBytes);
      const buf = Buffer.alloc(n);
      const read = readSync(fd, buf, 0, n, size - n);
      const text = stripMarkers(buf.subarray(0, read).toString('utf8'));
      // A cut first line is dropped unless it is all there is.
      const all = text.split('\n').filter((l) => l.trim() !== '');
      return (size > n && all.length > 1 ? all.slice(1) : all).slice(-lines);
    } catch {
      return [];
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
  }

  /**
   * `reason` followed by the end of the worker's stderr (or, when that is empty, its output),
   * unless it has it already: what a dying worker printed says why it died.
   */
  withTail(workerId: string, reason: string): string {
    if (WorkerLogs.hasTail(reason)) return reason;
    const err = this.tailNow(workerId, 'err');
    if (err.length > 0) return `${reason}${TAIL_MARK}stderr:\n${err.join('\n')}`;
    const out = this.tailNow(workerId, 'out');
    return out.length > 0 ? `${reason}${TAIL_MARK}output:\n${out.join('\n')}` : reason;
  }

  /** Does `text` carry a worker's last lines already (`withTail`)? */
  static hasTail(text: string): boolean {
    return text.includes(TAIL_MARK);
  }

  /** The node stops: remove the directory unless the files are kept. */
  cleanup(): void {
    if (this.keep || !this.made) return;
    try {
      rmSync(this.dir, { recursive: true, force: true });
    } catch {
      /* best effort */
    }
  }
}
