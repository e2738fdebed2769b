/**
 * Receive a large message into one buffer of its size. The NATS client collects a message that
 * spans several socket reads (anything over about 64 KiB) in a buffer that it grows by doubling
 * as the reads come: a 1 MiB chunk of a large value is allocated about five times over (3.6 MiB
 * in all) and 1.6 MiB of it copied, and the collector, driven by that external memory, runs a
 * full mark-compact every few dozen milliseconds while a value of 100 MB streams in. The go
 * client (`nats.go`'s parser) sizes that buffer from the message's header instead; this does the
 * same: once the client starts collecting a message, its buffer is grown once to the size the
 * header gives. The client exposes neither its parser nor that buffer, so this reaches into its
 * internals and does nothing where they differ (`payloadReserveInstalled` says whether it took).
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
interface ClientProtocol {
  parser?: ClientParser;
  info?: { max_payload?: unknown };
}

const MARK = Symbol.for('raybus.nats.payloadReserve');

/**
 * Make `nc`'s parser, and every parser the client makes after a disconnect, grow the buffer of
 * a message that spans reads once to the message's size (at most the server's `max_payload`,
 * which the server holds every message to). True if it could.
 */
export function reservePayloads(nc: unknown): boolean {
  const protocol = (nc as { protocol?: ClientProtocol & { [MARK]?: true } } | undefined)?.protocol;
  if (!protocol || typeof protocol !== 'object') return false;
  if (protocol[MARK]) return true;
  const first = protocol.parser;
  if (!isParser(first)) return false;
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

/** Whether `nc`'s current parser reserves (tests: a client whose internals moved is caught). */
export function payloadReserveInstalled(nc: unknown): boolean {
  return (nc as { protocol?: ClientProtocol } | undefined)?.protocol?.parser?.raybusReserve === true;
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
