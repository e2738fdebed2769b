/**
 * A large NATS message collected in one buffer of its size (adapters/nats/payload-reserve.ts),
 * on the client's own parser fed as a socket feeds it: the header, then the payload in 64 KiB
 * reads. No server needed.
 */
import { DenoBuffer, Parser } from '@nats-io/nats-core/internal';
import { payloadReserveInstalled, reservePayloads } from '../../../../adapters/nats/payload-reserve';

const READ = 64 * 1024;
const MAX_PAYLOAD = 1024 * 1024;

interface Dispatched {
  kind: number;
  data?: Uint8Array;
}

/** A protocol handler as far as the parser and reservePayloads see it. */
function protocol(maxPayload: number | null = MAX_PAYLOAD) {
  const got: Dispatched[] = [];
  const dispatcher = { push: (e: Dispatched) => got.push(e) };
  const p: { parser: Parser; info?: { max_payload: number } } = { parser: new Parser(dispatcher as never) };
  if (maxPayload !== null) p.info = { max_payload: maxPayload };
  return { p, got, dispatcher };
}

/** `MSG subject sid size` then the payload, in reads of 64 KiB as a socket gives them. */
function feed(parser: Parser, payload: Uint8Array): void {
  const head = new TextEncoder().encode(`MSG raybus.q.x 1 ${payload.length}\r\n`);
  const wire = new Uint8Array(head.length + payload.length + 2);
  wire.set(head);
  wire.set(payload, head.length);
  wire.set([13, 10], head.length + payload.length);
  for (let off = 0; off < wire.length; off += READ) parser.parse(wire.slice(off, off + READ));
}

function payloadOf(size: number, seed: number): Uint8Array {
  const b = new Uint8Array(size);
  for (let i = 0; i < size; i++) b[i] = (i * 31 + seed) & 0xff;
  return b;
}

/** How many buffers the client allocated to collect messages while `run` ran (each growth is one). */
function buffersDuring(run: () => void): number {
  const proto = DenoBuffer.prototype as unknown as { write(p: Uint8Array): number; _buf: Uint8Array };
  const write = proto.write;
  const seen = new Set<ArrayBufferLike>();
  proto.write = function (this: typeof proto, p: Uint8Array) {
    seen.add(this._buf.buffer);
    const n = write.call(this, p);
    seen.add(this._buf.buffer);
    return n;
  };
  try {
    run();
  } finally {
    proto.write = write;
  }
  return seen.size;
}

function delivered(got: Dispatched[]): Uint8Array[] {
  return got.filter((e) => e.data !== undefined && e.data.length > 1000).map((e) => e.data!);
}

describe('NATS adapter: a message over several reads is collected in one buffer of its size', () => {
  test('a 1 MiB payload arrives whole, in a buffer no larger than its size and two reads', () => {
    const { p, got } = protocol();
    expect(reservePayloads({ protocol: p })).toBe(true);
    expect(payloadReserveInstalled({ protocol: p })).toBe(true);
    const payload = payloadOf(MAX_PAYLOAD - 100, 7);
    expect(buffersDuring(() => feed(p.parser, payload))).toBe(1);
    const [data] = delivered(got);
    expect(Buffer.from(data!).equals(Buffer.from(payload))).toBe(true);
    // Doubling as the reads come would leave it in a buffer of about 2 MiB.
    expect(data!.buffer.byteLength).toBeLessThanOrEqual(payload.length + 2 * READ);
  });

  test('without it the client doubles its buffer (what the reservation saves)', () => {
    const { p, got } = protocol();
    const payload = payloadOf(MAX_PAYLOAD - 100, 3);
    expect(buffersDuring(() => feed(p.parser, payload))).toBeGreaterThanOrEqual(4);
    const [data] = delivered(got);
    expect(Buffer.from(data!).equals(Buffer.from(payload))).toBe(true);
    expect(data!.buffer.byteLength).toBeGreaterThan(payload.length * 1.5);
  });

  test('the parser the client makes after a disconnect reserves too; messages in a row each arrive whole', () => {
    const { p, got, dispatcher } = protocol();
    reservePayloads({ protocol: p });
    expect(reservePayloads({ protocol: p })).toBe(true);
    p.parser = new Parser(dispatcher as never);
    expect(payloadReserveInstalled({ protocol: p })).toBe(true);
    const sizes = [300_000, 70_000, MAX_PAYLOAD - 64];
    for (const [i, size] of sizes.entries()) feed(p.parser, payloadOf(size, i));
    const data = delivered(got);
    expect(data.map((d) => d.length)).toEqual(sizes);
    for (const [i, d] of data.entries()) {
      expect(Buffer.from(d).equals(Buffer.from(payloadOf(sizes[i]!, i)))).toBe(true);
      expect(d.buffer.byteLength).toBeLessThanOrEqual(d.length + 2 * READ);
    }
  });

  test('a size over the server max_payload, or no max_payload known, is collected the client way', () => {
    for (const max of [100_000, null]) {
      const { p, got } = protocol(max);
      reservePayloads({ protocol: p });
      const payload = payloadOf(500_000, 9);
      expect(buffersDuring(() => feed(p.parser, payload))).toBeGreaterThanOrEqual(3);
      const [data] = delivered(got);
      expect(Buffer.from(data!).equals(Buffer.from(payload))).toBe(true);
    }
  });

  test('a client without the internals it needs is left as it is', () => {
    expect(reservePayloads(undefined)).toBe(false);
    expect(reservePayloads({})).toBe(false);
    expect(reservePayloads({ protocol: { parser: {} } })).toBe(false);
    expect(payloadReserveInstalled({ protocol: {} })).toBe(false);
  });
});
