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
import { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
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
}

/** Environment variable telling a worker which fd its node's pipe is. */
export const IPC_FD_VAR = 'RAYBUS_IPC_FD';
/** The fd of that pipe in the worker (stdio index). */
export const IPC_PIPE_FD = 4;
/** From this length a message is written without joining it to its header, and read into one buffer as it arrives. */
const LARGE_MESSAGE_BYTES = 1 << 20;
/** A message above this length is a broken stream, not a message (2 GiB). */
const MAX_MESSAGE_BYTES = 0x7fffffff;
/** The buffer a link reading on its own socket (`PipeLink.onFd`) reads small messages into. */
const READ_BYTES = 64 * 1024;

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
  static onFd(fd: number): PipeLink {
    return PipeLink.readingInto((onread) => new Socket({ fd, readable: true, writable: true, onread } as ConstructorParameters<typeof Socket>[0]));
  }

  /** A link on the socket `open` makes with the given `onread` (tests give a socket of their own). */
  static readingInto(open: (onread: OwnReads) => Duplex): PipeLink {
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
    made.link = new PipeLink(socket, small);
    return made.link;
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
  }

  onMessage(handler: (bytes: Uint8Array) => void): void {
    this.handler = handler;
  }

  /** Length of the message being received, once its 4-byte header is in. */
  private need = -1;
  /** A large message being received: its bytes are copied in as they arrive. */
  private large: { readonly buf: Buffer; filled: number } | undefined;

  private onData(chunk: Buffer): void {
    if (this.large) {
      chunk = this.fillLarge(chunk);
      if (chunk.length === 0) return;
    }
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    if (this.buffered < 4) return;
    if (this.need < 0) {
      const head = this.chunks[0]!.length >= 4 ? this.chunks[0]! : Buffer.concat(this.chunks, this.buffered);
      this.need = head.readUInt32LE(0);
      if (this.need > MAX_MESSAGE_BYTES) return this.dropBrokenStream(this.need);
    }
    if (this.buffered < 4 + this.need && this.need >= LARGE_MESSAGE_BYTES) {
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
    this.need = -1;
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

  /** Where the next read lands (`onFd`): the rest of a large message, or the small buffer. */
  private nextReadBuffer(): Uint8Array {
    const large = this.large;
    return large ? large.buf.subarray(large.filled) : this.readBuffer!;
  }

  /** `n` bytes were read into `into` (`onFd`). */
  private onRead(n: number, into: Uint8Array): void {
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
