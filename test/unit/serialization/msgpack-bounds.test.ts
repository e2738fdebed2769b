import { pack } from 'msgpackr';
import { checkMsgpack, MalformedMessageError, type DecodeLimits } from '../../../src/serialization/msgpack-bounds';
import { Serializer } from '../../../src/serialization/serializer';

const LIMITS: DecodeLimits = { maxBytes: 1 << 20, maxDepth: 64, containersPerByte: 0.25, minContainers: 1000 };

function refused(bytes: Uint8Array, what: RegExp, limits = LIMITS): void {
  expect(() => checkMsgpack(bytes, limits)).toThrow(MalformedMessageError);
  expect(() => checkMsgpack(bytes, limits)).toThrow(what);
}

describe('checkMsgpack', () => {
  it('accepts what raybus writes: values with structured-clone extensions, and envelopes', () => {
    const s = new Serializer();
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    const value = {
      n: [1, -1, 300, -70000, 2 ** 40, 1.5],
      s: 'x'.repeat(300),
      m: new Map<unknown, unknown>([['k', new Set([1, 2])]]),
      d: new Date(0),
      r: /ab+c/gi,
      e: new TypeError('boom'),
      b: 12345678901234567890n,
      u: undefined,
      t: new Float64Array([1, 2]),
      buf: Buffer.from('hello'),
      cyclic,
    };
    const bytes = s.encodeValue(value);
    expect(() => checkMsgpack(bytes, LIMITS)).not.toThrow();
    const back = s.decodeValue(bytes) as typeof value;
    expect(back.m.get('k')).toEqual(new Set([1, 2]));
    expect((back.cyclic as Record<string, unknown>).self).toBe(back.cyclic);
    expect(() => checkMsgpack(s.encodeEnvelope({ t: 'task', args: [{ d: new Uint8Array(10) }] }), LIMITS)).not.toThrow();
  });

  it('refuses containers that claim more elements than the bytes left (no allocation first)', () => {
    refused(Uint8Array.from([0xdd, 0xff, 0xff, 0xff, 0xff, 0x00]), /claims 4294967295 elements/);
    refused(Uint8Array.from([0xdf, 0x00, 0x01, 0x00, 0x00, 0x01]), /claims 131072 elements/);
  });

  it('refuses a flood of empty arrays (16 MiB of 0x90 would be ~1 GB of arrays)', () => {
    const flood = new Uint8Array(1 << 16).fill(0x90);
    flood[0] = 0xdd;
    new DataView(flood.buffer).setUint32(1, flood.length - 5);
    refused(flood, /more than 16384 arrays, maps and extensions/, { ...LIMITS, minContainers: 100 });
  });

  it('refuses nesting deeper than the limit', () => {
    const deep = new Uint8Array(200).fill(0x91);
    deep[199] = 0xc0;
    refused(deep, /nesting deeper than 64/);
  });

  it('refuses truncated input, trailing bytes, unknown bytes and msgpackr features raybus never writes', () => {
    refused(Uint8Array.from([0xdb, 0x00, 0x00, 0x10, 0x00, 0x61]), /truncated/);
    refused(Uint8Array.from([0x01, 0x02]), /1 bytes after the end/);
    refused(Uint8Array.from([]), /empty/);
    refused(pack({ a: 1 }).subarray(0, 2), /truncated/);
    refused(Uint8Array.from([0xd5, 0x72, 0x00, 0x01]), /two-byte msgpack record ids/);
    refused(Uint8Array.from([0xd4, 0x72, 0x40, 0xc0]), /keys in an array/);
    refused(new Uint8Array(LIMITS.maxBytes + 1), /above the limit/);
  });

  it('is total: random and mutated bytes either pass or throw MalformedMessageError, never anything else', () => {
    const s = new Serializer();
    const seed = s.encodeValue({ a: [1, 2, { b: 'c' }], m: new Map([[1, new Set([2])]]) });
    let x = 42;
    const rnd = (): number => ((x = (x * 1103515245 + 12345) >>> 0) % 256);
    for (let i = 0; i < 5000; i++) {
      const bytes = i % 2 === 0 ? Uint8Array.from({ length: 1 + (rnd() % 40) }, rnd) : Uint8Array.from(seed, (b) => (rnd() < 8 ? rnd() : b));
      try {
        checkMsgpack(bytes, LIMITS);
      } catch (err) {
        expect(err).toBeInstanceOf(MalformedMessageError);
      }
    }
  });
});

describe('Serializer', () => {
  it("keeps raybus's extensions off the process-wide msgpackr", () => {
    class Marker {
      constructor(readonly v: number) {}
    }
    const s = new Serializer();
    s.registerExtension({ type: 0x7e, Class: Marker, write: (m) => m.v, read: (v) => new Marker(v as number) });
    expect(s.decodeValue(s.encodeValue(new Marker(7)))).toEqual(new Marker(7));
    // The application's own msgpackr does not know the extension: it packs a plain object.
    const plain = require('msgpackr').unpack(require('msgpackr').pack(new Marker(7)));
    expect(plain).toEqual({ v: 7 });
    expect(plain).not.toBeInstanceOf(Marker);
  });

  it('holds envelopes to the envelope limit and values to the value limit', () => {
    const s = new Serializer({ maxEnvelopeBytes: 64, maxValueBytes: 1024 });
    expect(() => s.decodeEnvelope(s.encodeEnvelope({ x: 'y'.repeat(100) }))).toThrow(/above the limit of 64 bytes/);
    expect(s.decodeValue(s.encodeValue('y'.repeat(100)))).toBe('y'.repeat(100));
    s.configure({ maxEnvelopeBytes: 1024 });
    expect(s.decodeEnvelope(s.encodeEnvelope({ x: 'y'.repeat(100) }))).toEqual({ x: 'y'.repeat(100) });
  });
});
