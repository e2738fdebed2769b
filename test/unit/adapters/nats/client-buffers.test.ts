/**
 * A large NATS message collected in one buffer of its size (adapters/nats/client-buffers.ts),
 * on the client's own parser fed as a socket feeds it: the header, then the payload in 64 KiB
 * reads. No server needed.
 */
import { DataBuffer, DenoBuffer, Parser } from '@nats-io/nats-core/internal';
import { clientBuffersInstalled, installClientBuffers } from '../../../../adapters/nats/client-buffers';

const READ = 64 * 1024;
const MAX_PAYLOAD = 1024 * 1024;

interface Dispatched {
  kind: number;
  data?: Uint8Array;
}

/**
 * A protocol handler as far as the parser, the outgoing buffer and installClientBuffers see it;
 * its flushPending does what the client's does (join what is buffered, write it).
 */
function protocol(maxPayload: number | null = MAX_PAYLOAD) {
  const got: Dispatched[] = [];
  const written: Uint8Array[] = [];
  const corks: string[] = [];
  const dispatcher = { push: (e: Dispatched) => got.push(e) };
  const p = {
    parser: new Parser(dispatcher as never),
    outbound: new DataBuffer(),
    infoReceived: true,
    connected: true,
    transport: {
      socket: { cork: () => corks.push('cork'), uncork: () => corks.push('uncork') },
      send: (frame: Uint8Array) => {
        corks.push('write');
        written.push(frame);
      },
    },
    flushPending(this: { infoReceived: boolean; connected: boolean; outbound: DataBuffer; transport: { send(f: Uint8Array): void } }) {
      if (!this.infoReceived || !this.connected) return;
      if (this.outbound.size()) this.transport.send(this.outbound.drain());
    },
    info: maxPayload === null ? undefined : { max_payload: maxPayload },
  };
  return { p, got, dispatcher, written, corks };
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
    expect(installClientBuffers({ protocol: p })).toBe(true);
    expect(clientBuffersInstalled({ protocol: p })).toBe(true);
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
    installClientBuffers({ protocol: p });
    expect(installClientBuffers({ protocol: p })).toBe(true);
    p.parser = new Parser(dispatcher as never);
    expect(clientBuffersInstalled({ protocol: p })).toBe(true);
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
      installClientBuffers({ protocol: p });
      const payload = payloadOf(500_000, 9);
      expect(buffersDuring(() => feed(p.parser, payload))).toBeGreaterThanOrEqual(3);
      const [data] = delivered(got);
      expect(Buffer.from(data!).equals(Buffer.from(payload))).toBe(true);
    }
  });

  test('a client without the internals it needs is left as it is', () => {
    expect(installClientBuffers(undefined)).toBe(false);
    expect(installClientBuffers({})).toBe(false);
    expect(installClientBuffers({ protocol: { parser: {} } })).toBe(false);
    const { p } = protocol();
    const flush = p.flushPending;
    expect(installClientBuffers({ protocol: { ...p, outbound: {} } })).toBe(false);
    expect(clientBuffersInstalled({ protocol: {} })).toBe(false);
    expect(p.flushPending).toBe(flush);
  });
});

const line = (s: string) => new TextEncoder().encode(s);
const joined = (parts: Uint8Array[]) => Buffer.concat(parts.map((x) => Buffer.from(x)));

describe('NATS adapter: a large payload is written as it is, not joined into a new buffer', () => {
  test('a turn with a 1 MiB payload: its parts in one corked write, the payload itself among them', () => {
    const { p, written, corks } = protocol();
    expect(installClientBuffers({ protocol: p })).toBe(true);
    expect(clientBuffersInstalled({ protocol: p })).toBe(true);
    const payload = payloadOf(MAX_PAYLOAD - 100, 1);
    const parts = [line('PUB a 5\r\n'), line('small\r\n'), line(`PUB b ${payload.length}\r\n`), payload, line('\r\n')];
    p.outbound.fill(parts[0]!, parts[1]!);
    p.outbound.fill(parts[2]!, parts[3]!, parts[4]!);
    p.flushPending();
    expect(written[3]).toBe(payload);
    expect(joined(written).equals(joined(parts))).toBe(true);
    expect(corks).toEqual(['cork', ...parts.map(() => 'write'), 'uncork']);
    expect(p.outbound.size()).toBe(0);
    // What comes next starts afresh.
    p.outbound.fill(line('PING\r\n'));
    p.flushPending();
    expect(new TextDecoder().decode(written.at(-1))).toBe('PING\r\n');
  });

  test('a write that throws leaves the socket uncorked', () => {
    const { p, corks } = protocol();
    installClientBuffers({ protocol: p });
    p.transport.send = () => {
      throw new Error('socket gone');
    };
    p.outbound.fill(line('PUB a 100000\r\n'), payloadOf(100_000, 4), line('\r\n'));
    expect(() => p.flushPending()).toThrow('socket gone');
    expect(corks).toEqual(['cork', 'uncork']);
  });

  test('small turns, turns of many parts, and a connection not yet ready go the client way', () => {
    const { p, written } = protocol();
    installClientBuffers({ protocol: p });
    p.outbound.fill(line('PUB a 1\r\n'), line('x'), line('\r\n'));
    p.flushPending();
    expect(written).toHaveLength(1);
    expect(new TextDecoder().decode(written[0])).toBe('PUB a 1\r\nx\r\n');

    const many = Array.from({ length: 20 }, (_, i) => payloadOf(8192, i));
    for (const m of many) p.outbound.fill(m);
    p.flushPending();
    expect(written).toHaveLength(2);
    expect(joined([written[1]!]).equals(joined(many))).toBe(true);

    p.connected = false;
    p.outbound.fill(line('PUB c 3\r\n'), payloadOf(100_000, 2));
    p.flushPending();
    expect(written).toHaveLength(2);
    expect(p.outbound.size()).toBe(100_000 + 9);
  });
});
