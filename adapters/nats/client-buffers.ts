/**
 * Large messages through the NATS client without its extra copies. The client exposes neither
 * its parser nor its outgoing buffer, so this reaches into its internals and does nothing where
 * they differ (`clientBuffersInstalled` says whether it took; a test checks it on a real
 * connection, so a client whose internals moved is caught).
 *
 * - Receiving: the client collects a message that spans several socket reads (anything over
 *   about 64 KiB) in a buffer that it grows by doubling as the reads come: a 1 MiB chunk of a
 *   large value is allocated about five times over (3.6 MiB in all) and 1.6 MiB of it copied,
 *   and the collector, driven by that external memory, runs a full mark-compact every few dozen
 *   milliseconds while a value of 100 MB streams in. The go client (`nats.go`'s parser) sizes
 *   that buffer from the message's header instead; so does this: once the client starts
 *   collecting a message, its buffer is grown once to hold the size the header gives (plus the
 *   bytes of its first read, at most 64 KiB, which the client's growth adds). It is allocated
 *   before the bytes arrive, at most the server's `max_payload`: the server is trusted.
 * - Sending: the client joins what a turn published (protocol lines, headers, payloads) into one
 *   new buffer before it writes it, a copy of every payload. A turn of 64 KiB or more in at most
 *   16 parts (a large payload, its protocol line and what little came with it) is written as
 *   its parts instead, in one `writev` (over TLS, Node joins them itself). The socket then
 *   holds a payload until it is written, where the client held it until its flush: every
 *   payload raybus publishes is a buffer nothing writes to afterwards (a sealed message, an
 *   envelope, a blob's stored bytes), as `Transport.publish` requires.
 */

/** What of the client's parser and its buffer this uses (nats.js `Parser`, `DenoBuffer`). */
interface CollectBuffer {
  readonly length: number;
  readonly capacity: number;
  grow(n: number): void;
}
interface ClientParser {
  parse(buf: Uint8Array): void;
  msgBuf?: CollectBuffer;
  ma?: { size?: unknown };
  raybusReserve?: true;
}
/** nats.js `DataBuffer`: what a turn published, joined (copied) when written. */
interface Outbound {
  buffers?: unknown;
  byteLength?: unknown;
  reset(): void;
}
interface ClientProtocol {
  parser?: ClientParser;
  info?: { max_payload?: unknown };
  outbound?: Outbound;
  transport?: { socket?: { cork?: unknown; uncork?: unknown }; send?: unknown };
  infoReceived?: unknown;
  connected?: unknown;
  flushPending?: () => void;
}

/** From this many bytes in one write the parts go out as they are (the pipe's large-body size). */
const WRITE_PARTS_FROM = 64 * 1024;
/** ...and while they are at most this many (a turn of many small messages is joined, as before). */
const WRITE_PARTS_MAX = 16;

const MARK = Symbol.for('raybus.nats.clientBuffers');

/**
 * Make `nc`'s parser, and every parser the client makes after a disconnect, grow the buffer of
 * a message that spans reads once to hold the message's size (at most the server's
 * `max_payload`, which the server holds every message to); and make it write a large turn as
 * its parts. True if both could be done.
 */
export function installClientBuffers(nc: unknown): boolean {
  const protocol = (nc as { protocol?: ClientProtocol & { [MARK]?: true } } | undefined)?.protocol;
  if (!protocol || typeof protocol !== 'object') return false;
  if (protocol[MARK]) return true;
  const first = protocol.parser;
  if (!isParser(first) || !writesParts(protocol)) return false;
  let current = withReserve(first, protocol);
  // The client makes a new parser when it resets after a disconnect: wrap that one too.
  Object.defineProperty(protocol, 'parser', {
    configurable: true,
    enumerable: true,
    get: () => current,
    set: (p: ClientParser) => {
      current = isParser(p) ? withReserve(p, protocol) : p;
    },
  });
  protocol[MARK] = true;
  return true;
}

/** Whether `nc`'s current parser reserves and its writes go out in parts (tests). */
export function clientBuffersInstalled(nc: unknown): boolean {
  const protocol = (nc as { protocol?: ClientProtocol & { [MARK]?: true } } | undefined)?.protocol;
  return protocol?.parser?.raybusReserve === true && protocol[MARK] === true && Object.hasOwn(protocol, 'flushPending');
}

/** Write a large turn as its parts (WRITE_PARTS_FROM, WRITE_PARTS_MAX). False if the client's internals differ. */
function writesParts(protocol: ClientProtocol): boolean {
  const flush = protocol.flushPending;
  const out = protocol.outbound;
  if (typeof flush !== 'function' || !out || !Array.isArray(out.buffers) || typeof out.reset !== 'function') return false;
  protocol.flushPending = function (this: ClientProtocol): void {
    const outbound = this.outbound!;
    const parts = outbound.buffers as Uint8Array[];
    const transport = this.transport;
    const socket = transport?.socket;
    const send = transport?.send;
    if (
      this.infoReceived !== true ||
      this.connected !== true ||
      parts.length < 2 ||
      parts.length > WRITE_PARTS_MAX ||
      typeof outbound.byteLength !== 'number' ||
      outbound.byteLength < WRITE_PARTS_FROM ||
      !socket ||
      typeof socket.cork !== 'function' ||
      typeof socket.uncork !== 'function' ||
      typeof send !== 'function'
    ) {
      flush.call(this);
      return;
    }
    const taken = parts.slice();
    outbound.reset();
    (socket.cork as () => void).call(socket);
    try {
      for (const p of taken) (send as (frame: Uint8Array) => void).call(transport, p);
    } finally {
      (socket.uncork as () => void).call(socket);
    }
  };
  return true;
}

function isParser(p: unknown): p is ClientParser {
  return typeof p === 'object' && p !== null && typeof (p as ClientParser).parse === 'function';
}

function withReserve(parser: ClientParser, protocol: ClientProtocol): ClientParser {
  if (parser.raybusReserve) return parser;
  const parse = parser.parse;
  parser.parse = function (this: ClientParser, buf: Uint8Array): void {
    parse.call(this, buf);
    // Collecting a message whose rest is in reads still to come: room for all of it, once.
    const collect = this.msgBuf;
    if (collect === undefined) return;
    const size = this.ma?.size;
    const limit = protocol.info?.max_payload;
    if (typeof size !== 'number' || typeof limit !== 'number' || size > limit) return;
    const rest = size - collect.length;
    if (rest > 0 && collect.capacity - collect.length < rest && typeof collect.grow === 'function') collect.grow(rest);
  };
  parser.raybusReserve = true;
  return parser;
}
