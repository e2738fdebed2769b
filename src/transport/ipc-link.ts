/**
 * The byte link between a worker and its node, carrying one encoded batch of frames per
 * message (see ipc-protocol.ts).
 *
 * - `PipeLink`: a dedicated pipe (the child's fd 4, a Unix socket pair), each message a 4-byte
 *   little-endian length and its bytes. A message costs one write and no serializer; the
 *   reader takes whatever arrived in one read, however many messages that is.
 * - `ChannelLink`: Node's IPC channel (`process.send` with advanced serialization), used where
 *   no such pipe is made (Windows).
 *
 * A worker with a pipe has no IPC channel: Node loads child_process and its serializer into a
 * process that has one (about 0.7 MB of every worker's RSS). The link closing is how a worker
 * learns its node is gone, either way.
 */
import { readSync } from 'node:fs';
import { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { GATHER_BYTES, GatheredBytes, type Hole } from '../serialization/gathered-bytes';
import { logger } from '../util/logger';

export interface FrameLink {
  /**
   * Send one message, made of `parts` in order (a large part is written as it is, not joined);
   * `written` runs once it was handed to the OS (or could not be).
   */
  send(parts: readonly Uint8Array[], written?: () => void): void;
  /** Receive messages (one handler). */
  onMessage(handler: (bytes: Uint8Array) => void): void;
  /** Called once when the other side is gone (its end of the link closed). */
  onClose(listener: () => void): void;
  /** False once the other side is gone. */
  readonly open: boolean;
  /**
   * Hand a message that came in several reads out gathered over them (a `GatheredBytes`, for
   * `decodeFrames`), not joined, while `test` says its reader takes it so (`PipeLink` only).
   */
  gatherWhen?(test: () => boolean): void;
}

/** Environment variable telling a worker which fd its node's pipe is. */
export const IPC_FD_VAR = 'RAYBUS_IPC_FD';
/** The fd of that pipe in the worker (stdio index). */
export const IPC_PIPE_FD = 4;
/** From this length a message is written without joining it to its header, and read into one buffer as it arrives. */
const LARGE_MESSAGE_BYTES = 1 << 20;
/**
 * The longest message a link gathering its reads (`gatherWhen`) hands out over them: a chunk
 * of a value on a broker (RabbitMQ's 16 MiB by default). Longer ones are read into one buffer
 * as they arrive, so that one does not hold its reads and their copy at once.
 */
const GATHER_MAX_BYTES = 64 << 20;
/**
 * The most reads a message is gathered over (GATHER_MAX_BYTES in 16 KiB reads); a message that
 * comes in more (a worker writing it a few bytes at a time) is joined as before, or read into
 * one buffer from 1 MiB, rather than held as that many small buffers.
 */
const GATHER_MAX_READS = 4096;
/** A message above this length is a broken stream, not a message (2 GiB). */
const MAX_MESSAGE_BYTES = 0x7fffffff;
/** The buffer a link reading on its own socket (`PipeLink.onFd`) reads small messages into. */
const READ_BYTES = 64 * 1024;
/** Environment variable: how long a worker polls its pipe after it wrote (µs; 0: never). */
export const WORKER_POLL_VAR = 'RAYBUS_WORKER_POLL_US';
/** The default of WORKER_POLL_VAR (µs). */
const WORKER_POLL_US = 120;

/** How long a worker polls its pipe after it wrote (µs): WORKER_POLL_VAR, else the default. */
export function workerPollUs(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env[WORKER_POLL_VAR];
  if (raw === undefined || raw === '') return WORKER_POLL_US;
  const us = Number(raw);
  if (!Number.isInteger(us) || us < 0 || us > 10_000) throw new RangeError(`${WORKER_POLL_VAR} must be an integer from 0 to 10000 (µs), got '${raw}'`);
  return us;
}
/** A message that came within this many budgets of a write came soon (a loop of calls). */
const POLL_GAP_FACTOR = 2;
/**
 * A worker first polls once this many messages came soon after its writes. An actor called
 * now and then never polls: the poll's loop, once hot, has V8 compile it, which touches about
 * 4 MB more of the node binary in a worker that otherwise sits idle at about 45 MB.
 */
const POLL_AFTER = 64;
/**
 * After this many misses in a row (polls that caught nothing, each followed soon by the message
 * they missed), a worker polls again only after 2^(this − 1) − 1 messages soon after its writes
 * went by unpolled (1,023): once every thousand calls or so, whether its caller can now send
 * while it polls.
 */
const MAX_POLL_BACKOFF = 11;

/** Read what `fd` has now into `into`: the bytes read, -1 when nothing is there, 0 at its end or on an error. */
function readNow(fd: number, into: Uint8Array): number {
  try {
    return readSync(fd, into, 0, into.length, null);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EAGAIN' ? -1 : 0;
  }
}

/** A socket's `onread` option: where its next read lands, and what it read. */
export interface OwnReads {
  buffer(): Uint8Array;
  callback(n: number, into: Uint8Array): boolean;
}

export class PipeLink implements FrameLink {
  private handler: ((bytes: Uint8Array) => void) | undefined;
  private chunks: Buffer[] = [];
  private buffered = 0;
  private closed = false;
  private readonly closeListeners: Array<() => void> = [];

  /**
   * A link on a socket opened here on `fd` (a worker's end of its pipe), reading into buffers
   * of its own (the socket's `onread`): the reads of a large message go straight into the
   * buffer it is handed over in, where a socket's reads are copied into it one by one (for 100
   * MB, the copy of every 64 KiB read into memory the process touches for the first time).
   */
  static onFd(fd: number, pollUs = 0, pollAfter = POLL_AFTER): PipeLink {
    return PipeLink.readingInto(
      (onread) => new Socket({ fd, readable: true, writable: true, onread } as ConstructorParameters<typeof Socket>[0]),
      pollUs > 0 ? { us: pollUs, after: pollAfter, read: (into) => readNow(fd, into) } : undefined,
    );
  }

  /**
   * A link on the socket `open` makes with the given `onread`; with `poll`, it polls after its
   * writes with `poll.read` once `poll.after` messages came soon after a write (tests give a
   * socket, a read and a clock of their own: `poll.now` in ns, `process.hrtime.bigint` if absent).
   */
  static readingInto(
    open: (onread: OwnReads) => Duplex,
    poll?: { readonly us: number; readonly after: number; read(into: Uint8Array): number; now?(): bigint },
  ): PipeLink {
    const small = Buffer.allocUnsafe(READ_BYTES);
    // The socket asks for a buffer as it opens, before the link exists.
    const made: { link?: PipeLink } = {};
    const socket = open({
      buffer: () => made.link?.nextReadBuffer() ?? small,
      callback: (n, into) => {
        made.link!.onRead(n, into);
        return true;
      },
    });
    const link = (made.link = new PipeLink(socket, small));
    if (poll) link.poll = { read: poll.read, now: poll.now ?? process.hrtime.bigint, ns: BigInt(Math.round(poll.us * 1000)), after: poll.after, soon: 0, sentAt: 0n, scheduled: false, on: poll.after === 0, missed: false, misses: 0, skip: 0, polls: 0, caught: 0 };
    return link;
  }

  /**
   * Polling after a write (`onFd` with a budget): a worker that answered a caller who calls
   * again at once (a loop of calls, one at a time) reads the next message itself, while the
   * caller makes it, instead of going to sleep and having the caller's write wake it (on a VM a
   * wake-up costs more than the call). It polls only while messages arrive within a few
   * budgets of its writes: a worker called now and then never polls for long.
   */
  private poll:
    | {
        read(into: Uint8Array): number;
        now(): bigint;
        readonly ns: bigint;
        /** Messages that came soon after a write, until `after` of them did (then polling may start). */
        soon: number;
        readonly after: number;
        sentAt: bigint;
        scheduled: boolean;
        on: boolean;
        /** The last poll caught nothing: the next message says whether that counts as a miss. */
        missed: boolean;
        /** Polls in a row that caught nothing, each followed soon by the message (`onRead`). */
        misses: number;
        /** Messages soon after a write to let pass before polling again: a backoff after misses. */
        skip: number;
        polls: number;
        caught: number;
      }
    | undefined;

  /** Polls made and messages they caught (tests, benchmarks). */
  get pollStats(): { polls: number; caught: number } {
    return { polls: this.poll?.polls ?? 0, caught: this.poll?.caught ?? 0 };
  }

  constructor(
    private readonly socket: Duplex,
    /** The buffer small reads land in, where this link reads on its own socket (`onFd`). */
    private readonly readBuffer?: Buffer,
  ) {
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', () => {
      this.closed = true;
    });
    socket.on('close', () => {
      this.closed = true;
      for (const l of this.closeListeners.splice(0)) l();
    });
  }

  onClose(listener: () => void): void {
    this.closeListeners.push(listener);
  }

  get open(): boolean {
    return !this.closed && this.socket.writable;
  }

  send(parts: readonly Uint8Array[], written?: () => void): void {
    if (!this.open) {
      written?.();
      return;
    }
    let length = 0;
    for (const p of parts) length += p.byteLength;
    const done = written ? () => written() : undefined;
    if (length >= LARGE_MESSAGE_BYTES) {
      // The header and the parts in one writev, without copying them into one buffer.
      const head = Buffer.allocUnsafe(4);
      head.writeUInt32LE(length, 0);
      this.socket.cork();
      this.socket.write(head);
      parts.forEach((p, i) => this.socket.write(p, i === parts.length - 1 ? done : undefined));
      this.socket.uncork();
      this.afterSend();
      return;
    }
    const out = Buffer.allocUnsafe(4 + length);
    out.writeUInt32LE(length, 0);
    let at = 4;
    for (const p of parts) {
      out.set(p, at);
      at += p.byteLength;
    }
    this.socket.write(out, done);
    this.afterSend();
  }

  /** A write went out: poll for the answer's successor once this turn's work is done. */
  private afterSend(): void {
    const poll = this.poll;
    if (!poll) return;
    poll.sentAt = poll.now();
    if (poll.on && !poll.scheduled) {
      poll.scheduled = true;
      // In the check phase: after this turn's callbacks and microtasks (the tasks and calls
      // that were ready have run), and after the loop looked for I/O without waiting.
      setImmediate(this.pollOnce);
    }
  }

  private readonly pollOnce = (): void => {
    const poll = this.poll!;
    poll.scheduled = false;
    // Not while a large message comes in: the socket reads it into the part of its buffer
    // that the last read left to fill, and a read here would move that part under it.
    if (!poll.on || this.closed || this.large) return;
    poll.polls += 1;
    const deadline = poll.now() + poll.ns;
    // A read that finds nothing throws EAGAIN: without a stack it costs far less.
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    try {
      do {
        // The small buffer only (a large message begun here is read on by the socket).
        const into = this.readBuffer!;
        const n = poll.read(into);
        if (n < 0) continue;
        if (n === 0) return; // the socket's own read reports errors and the end
        poll.caught += 1;
        poll.misses = 0;
        Error.stackTraceLimit = limit;
        this.onRead(n, into);
        return;
      } while (poll.now() < deadline);
      // Nothing came: no more polling until a message follows a write closely again.
      poll.on = false;
      poll.missed = true;
    } finally {
      Error.stackTraceLimit = limit;
    }
  };

  onMessage(handler: (bytes: Uint8Array) => void): void {
    this.handler = handler;
  }

  /** Length of the message being received, once its 4-byte header is in. */
  private need = -1;
  /** A large message being received: its bytes are copied in as they arrive. */
  private large: { readonly buf: Buffer; filled: number } | undefined;
  /** Whether a message of several reads is handed out over them (`gatherWhen`). */
  private gather: (() => boolean) | undefined;
  /** The message being received goes out gathered (decided once its length is in). */
  private gathering = false;

  /**
   * A node's link: a worker's publish of a chunk of a large value (up to a message of the
   * bus) comes in reads of 64 KiB, which joining costs a copy into new memory; its node's
   * AuthTransport seals it from the reads themselves, copying each once into the sealed
   * message.
   */
  gatherWhen(test: () => boolean): void {
    this.gather = test;
  }

  private onData(chunk: Buffer): void {
    if (this.large) {
      chunk = this.fillLarge(chunk);
      if (chunk.length === 0) return;
    }
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    if (this.gathering && this.chunks.length > GATHER_MAX_READS) this.gathering = false;
    if (this.buffered < 4) return;
    if (this.need < 0) {
      const head = this.chunks[0]!.length >= 4 ? this.chunks[0]! : Buffer.concat(this.chunks, this.buffered);
      this.need = head.readUInt32LE(0);
      if (this.need > MAX_MESSAGE_BYTES) return this.dropBrokenStream(this.need);
      this.gathering = this.gather !== undefined && this.need >= GATHER_BYTES && this.need <= GATHER_MAX_BYTES && this.gather();
    }
    if (!this.gathering && this.buffered < 4 + this.need && this.need >= LARGE_MESSAGE_BYTES) {
      // A large message arrives in many reads: copy each in while the sender still writes,
      // rather than join them all once the last one is in.
      const head = Buffer.concat(this.chunks, this.buffered);
      const buf = Buffer.allocUnsafe(this.need);
      head.copy(buf, 0, 4);
      this.large = { buf, filled: head.length - 4 };
      this.chunks = [];
      this.buffered = 0;
      this.need = -1;
      return;
    }
    // Smaller messages split across reads are joined once complete, not at every read.
    if (this.buffered < 4 + this.need) return;
    if (this.gathering && this.chunks.length > 1) return this.handOutGathered();
    this.need = -1;
    this.gathering = false;
    let buf = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.buffered);
    let at = 0;
    while (buf.length - at >= 4) {
      const n = buf.readUInt32LE(at);
      if (n > MAX_MESSAGE_BYTES) return this.dropBrokenStream(n);
      if (buf.length - at - 4 < n) break;
      const message = buf.subarray(at + 4, at + 4 + n);
      at += 4 + n;
      this.handler?.(message);
    }
    buf = buf.subarray(at);
    this.chunks = buf.length > 0 ? [buf] : [];
    this.buffered = buf.length;
  }

  /**
   * The message in `chunks` (all of them, and the start of the last) handed out gathered over
   * them; what follows it in the last is read on. Its own buffer is written only where it is
   * read as fields (`decodeFrames`): memory allocated and never touched costs no page faults.
   */
  private handOutGathered(): void {
    const need = this.need;
    const chunks = this.chunks;
    this.need = -1;
    this.gathering = false;
    this.chunks = [];
    this.buffered = 0;
    const holes: Hole[] = [];
    let rest: Buffer | undefined;
    // Each chunk's place in the stream, which begins with the message's 4-byte length.
    let pos = 0;
    for (const c of chunks) {
      const from = Math.max(4, pos);
      const to = Math.min(4 + need, pos + c.length);
      if (to > from) holes.push({ at: from - 4, bytes: c.subarray(from - pos, to - pos) });
      if (pos + c.length > 4 + need) rest = c.subarray(4 + need - pos);
      pos += c.length;
    }
    this.handler?.(GatheredBytes.over(Buffer.allocUnsafe(need), holes));
    if (rest) this.onData(rest);
  }

  /** Where the next read lands (`onFd`): the rest of a large message, or the small buffer. */
  private nextReadBuffer(): Uint8Array {
    const large = this.large;
    return large ? large.buf.subarray(large.filled) : this.readBuffer!;
  }

  /** `n` bytes were read into `into` (`onFd`). */
  private onRead(n: number, into: Uint8Array): void {
    const poll = this.poll;
    if (poll && poll.sentAt !== 0n) {
      // Poll while messages follow writes closely (once `after` of them did); a long gap turns
      // polling off until a message follows a write closely again.
      const soon = poll.now() - poll.sentAt < poll.ns * BigInt(POLL_GAP_FACTOR);
      if (poll.missed) {
        // A poll missed this message. If it came just after the poll, the caller could not send
        // while the worker polled (it runs on the worker's CPU): after misses in a row, polling
        // waits for twice as many such messages as the time before. If it came later, the
        // caller paused: no backoff.
        poll.missed = false;
        poll.misses = soon ? Math.min(poll.misses + 1, MAX_POLL_BACKOFF) : 0;
        poll.skip = soon ? (1 << (poll.misses - 1)) - 1 : 0;
      }
      if (soon && poll.soon < poll.after) poll.soon += 1;
      if (soon && poll.skip > 0) {
        poll.skip -= 1;
        poll.on = false;
      } else poll.on = soon && poll.soon >= poll.after;
      poll.sentAt = 0n;
    }
    const large = this.large;
    if (large && into.buffer === large.buf.buffer) {
      large.filled += n;
      if (large.filled === large.buf.length) {
        this.large = undefined;
        this.handler?.(large.buf);
      }
      return;
    }
    // The small buffer is read into again: what this read brought is copied out of it (a
    // short read lands in Node's buffer pool).
    const chunk = Buffer.allocUnsafe(n);
    chunk.set(into.subarray(0, n));
    this.onData(chunk);
  }

  /** Copy `chunk` into the large message; hand it over once full. Returns what follows it. */
  private fillLarge(chunk: Buffer): Buffer {
    const large = this.large!;
    const take = Math.min(chunk.length, large.buf.length - large.filled);
    chunk.copy(large.buf, large.filled, 0, take);
    large.filled += take;
    if (large.filled === large.buf.length) {
      this.large = undefined;
      this.handler?.(large.buf);
    }
    return chunk.subarray(take);
  }

  /** Not our framing: drop what is buffered rather than misread everything after it. */
  private dropBrokenStream(length: number): void {
    logger.warn(`raybus: dropped a broken IPC stream (message length ${length})`);
    this.chunks = [];
    this.buffered = 0;
    this.need = -1;
  }
}

/** Node's IPC channel as a link (one `send` per message). */
interface Channel {
  send(message: unknown, sendHandle?: undefined, options?: object, callback?: (err: Error | null) => void): boolean;
  on(event: 'message', listener: (m: unknown) => void): unknown;
  on(event: 'disconnect', listener: () => void): unknown;
  connected?: boolean;
}

export class ChannelLink implements FrameLink {
  constructor(private readonly channel: Channel) {}

  get open(): boolean {
    return this.channel.connected !== false;
  }

  send(parts: readonly Uint8Array[], written?: () => void): void {
    if (!this.open) {
      written?.();
      return;
    }
    this.channel.send(parts.length === 1 ? parts[0] : Buffer.concat(parts), undefined, {}, () => written?.());
  }

  onMessage(handler: (bytes: Uint8Array) => void): void {
    this.channel.on('message', (m) => {
      if (m instanceof Uint8Array) handler(m);
    });
  }

  onClose(listener: () => void): void {
    this.channel.on('disconnect', listener);
  }
}
