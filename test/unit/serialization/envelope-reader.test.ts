/**
 * The envelope reader (src/serialization/envelope-reader.ts) against the bounds check and
 * msgpackr, the way envelopes were decoded before it: whatever it reads, they read the same
 * (toStrictEqual: same types, byte arrays as views, undefined kept), and what they refuse it
 * never reads. Seeded random envelopes as the writer and msgpackr write them, the same bytes
 * altered, and the limits at their edges.
 */
import { inspect, isDeepStrictEqual } from 'node:util';
import { readEnvelope, NOT_PLAIN } from '../../../src/serialization/envelope-reader';
import { writeEnvelope } from '../../../src/serialization/envelope-writer';
import { checkMsgpack, type DecodeLimits } from '../../../src/serialization/msgpack-bounds';
import { privateMsgpackr } from '../../../src/serialization/msgpackr-instance';
import { decodeEnvelope, encodeEnvelope } from '../../../src/serialization/serializer';
import { mulberry32 } from '../../../src/scheduling/strategies/seeded-random';

const { Packr } = privateMsgpackr();
const msgpackr = new Packr({ useRecords: false, moreTypes: false, mapsAsObjects: true });
const LIMITS: DecodeLimits = { maxBytes: 1 << 20, maxDepth: 64, containersPerByte: 1, minContainers: 64 };

/** How envelopes were decoded before the reader: the bounds check, then msgpackr. */
function before(bytes: Uint8Array, limits: DecodeLimits): { value: unknown } | { refused: string } {
  try {
    checkMsgpack(bytes, limits);
    return { value: msgpackr.unpack(bytes) };
  } catch (err) {
    return { refused: (err as Error).message };
  }
}

/** The reader reads `bytes` as before, or leaves them to the old way; returns whether it read them. */
function agrees(bytes: Uint8Array, limits = LIMITS): boolean {
  const got = readEnvelope(bytes, limits);
  if (got === NOT_PLAIN) return false;
  const old = before(bytes, limits);
  // Node's strict deep equality (prototypes, byte array types, undefined entries, -0): jest's
  // takes an own `constructor` key, which these messages may have, for the object's type.
  if (!isDeepStrictEqual(old, { value: got })) expect(inspect(got, { depth: null })).toBe(inspect(old, { depth: null }));
  return true;
}


const KEYS = ['t', 'task', 'fn', 'args', 'nret', 'owner', 'ctx', 'lease', 'd', 'e', 'r', '', '0', '17', '__proto__', '__proto_', 'constructor', 'toString', 'a'.repeat(24), 'b'.repeat(25), 'k'.repeat(40), 'clé', 'ключ'];
const INTS = [0, 1, 127, 128, 255, 256, 65535, 65536, 2 ** 32 - 1, 2 ** 32, 2 ** 53 - 1, -1, -32, -33, -128, -129, -32768, -32769, -(2 ** 31), -(2 ** 31) - 1, -(2 ** 53)];
const STRING_LENGTHS = [0, 1, 3, 4, 12, 13, 24, 31, 32, 255, 256, 1000];

function randomString(r: () => number): string {
  const n = STRING_LENGTHS[Math.floor(r() * STRING_LENGTHS.length)]!;
  const pick = r();
  if (pick < 0.1) return 'é'.repeat(Math.min(n, 40)); // not ASCII
  if (pick < 0.15) return `${'x'.repeat(n)}\u0000\u007f`; // ASCII edges
  let s = '';
  for (let i = 0; i < n; i++) s += String.fromCharCode(32 + Math.floor(r() * 95));
  return s;
}

function randomValue(r: () => number, depth: number): unknown {
  const pick = r();
  if (depth < 5 && pick < 0.15) return randomMap(r, depth + 1);
  if (depth < 5 && pick < 0.25) {
    const n = r() < 0.1 ? 16 + Math.floor(r() * 3) : Math.floor(r() * 6);
    return Array.from({ length: n }, () => randomValue(r, depth + 1));
  }
  if (pick < 0.45) return randomString(r);
  if (pick < 0.6) return INTS[Math.floor(r() * INTS.length)];
  if (pick < 0.65) return [0.5, -1.25, 1e300, Number.MIN_VALUE, Math.PI, NaN, Infinity, -Infinity][Math.floor(r() * 8)];
  if (pick < 0.72) return r() < 0.5;
  if (pick < 0.77) return null;
  if (pick < 0.82) return undefined;
  const n = [0, 1, 255, 256, 70000][Math.floor(r() * 5)]!;
  const b = r() < 0.5 ? Buffer.alloc(n, 7) : new Uint8Array(n).fill(9);
  return b;
}

function randomMap(r: () => number, depth: number): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const n = r() < 0.1 ? 16 + Math.floor(r() * 3) : Math.floor(r() * 8);
  for (let i = 0; i < n; i++) Object.defineProperty(out, KEYS[Math.floor(r() * KEYS.length)]!, { value: randomValue(r, depth), enumerable: true, configurable: true, writable: true });
  return out;
}

test('a task message as a worker gets it is read as before', () => {
  const ctx = Object.freeze({ jobId: '0a498d95', namespace: 'anonymous-0a498d95', attempt: 0, res: Object.freeze({ CPU: 1 }) });
  const fn = Object.freeze({ id: '26915c921fa380386693401a', name: 'smallValue', kind: 'function' });
  const task = { t: 'task', task: '6bbe85499f0100000003d5', fn, args: [{ d: Buffer.from([1, 2, 3]) }], nret: 1, owner: 'raybus.reply.driver-0a498d95', ctx, lease: 'g1f09689@62cebae1e819ceaa951d814913bc' };
  const bytes = Buffer.from(writeEnvelope(task)!);
  expect(agrees(bytes)).toBe(true);
  // Twice: the keys now come from the reader's cache.
  expect(agrees(bytes)).toBe(true);
  // The argument's bytes are a view of the message's, as msgpackr gives them.
  const read = readEnvelope(bytes, LIMITS) as { args: Array<{ d: Buffer }> };
  expect(Buffer.isBuffer(read.args[0]!.d)).toBe(true);
  expect(read.args[0]!.d.buffer).toBe(bytes.buffer);
  // And the serializer takes this path.
  expect(decodeEnvelope(bytes)).toStrictEqual(read);
});

test("a cached key keeps its own bytes: the memory of the message it came from may be written again", () => {
  const first = Buffer.from(writeEnvelope({ abcde: 1 })!);
  expect(readEnvelope(first, LIMITS)).toStrictEqual({ abcde: 1 });
  // The key's fourth byte is not one of those that pick its cache slot: 'abcxe' takes the same.
  first[first.indexOf('abcde') + 3] = 'x'.charCodeAt(0);
  const second = Buffer.from(writeEnvelope({ abcxe: 2 })!);
  expect(readEnvelope(second, LIMITS)).toStrictEqual({ abcxe: 2 });
});

test('random envelopes, as the writer and as msgpackr write them, are read as before or left to it', () => {
  const r = mulberry32(0x5eed); // seeded: a failure can be replayed
  let read = 0;
  let asciiOnly = 0;
  for (let i = 0; i < 1500; i++) {
    const value = randomMap(r, 0);
    const ours = writeEnvelope(value);
    const theirs = msgpackr.pack(value);
    for (const bytes of [ours, theirs]) {
      if (!bytes) continue;
      if (agrees(bytes)) read += 1;
    }
    // What the writer writes of plain ASCII data, up to 64 KiB, the reader reads itself.
    if (ours && ours.byteLength <= 64 * 1024 && asciiAndShortInts(value)) {
      asciiOnly += 1;
      expect(readEnvelope(ours, LIMITS)).not.toBe(NOT_PLAIN);
    }
  }
  // Most of them took the new path (the rest hold text that is not ASCII, or 64-bit integers).
  expect(read).toBeGreaterThan(1000);
  expect(asciiOnly).toBeGreaterThan(500);
});

/**
 * Keys and strings all ASCII, and no integer past 32 bits (msgpackr writes those as 64-bit
 * integers): what the reader reads itself.
 */
function asciiAndShortInts(v: unknown): boolean {
  const ascii = (s: string): boolean => {
    for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) >= 0x80) return false;
    return true;
  };
  if (typeof v === 'string') return ascii(v);
  if (typeof v === 'number') return !(Number.isInteger(v) && (v >= 2 ** 32 || v < -(2 ** 31)));
  if (Array.isArray(v)) return v.every(asciiAndShortInts);
  if (v && typeof v === 'object' && !(v instanceof Uint8Array)) return Object.entries(v).every(([k, x]) => ascii(k) && asciiAndShortInts(x));
  return true;
}

test('altered and cut envelopes: whatever the reader reads, the old way reads the same, and it never throws', () => {
  const r = mulberry32(0xbad);
  let read = 0;
  for (let i = 0; i < 1500; i++) {
    const bytes = Buffer.from(encodeEnvelope(randomMap(r, 0)));
    const changed = Buffer.from(bytes);
    const kind = r();
    let altered: Buffer = changed;
    if (kind < 0.6) {
      for (let k = 0; k < 1 + Math.floor(r() * 3); k++) changed[Math.floor(r() * changed.length)] = Math.floor(r() * 256);
    } else if (kind < 0.8) altered = changed.subarray(0, Math.floor(r() * changed.length));
    else altered = Buffer.concat([changed, Buffer.from([Math.floor(r() * 256)])]);
    let ok = false;
    expect(() => (ok = agrees(altered))).not.toThrow();
    if (ok) read += 1;
  }
  expect(read).toBeGreaterThan(0);
});

test('the limits: the reader reads only what the bounds check accepts, at each edge', () => {
  const nested = (levels: number): Record<string, unknown> => {
    let v: Record<string, unknown> = { leaf: 1 };
    for (let i = 1; i < levels; i++) v = { n: v };
    return v;
  };
  for (const maxDepth of [1, 2, 3, 8]) {
    for (let levels = 1; levels <= maxDepth + 2; levels++) {
      const bytes = writeEnvelope(nested(levels))!;
      const limits = { ...LIMITS, maxDepth };
      const accepted = 'value' in before(bytes, limits);
      expect(readEnvelope(bytes, limits) !== NOT_PLAIN).toBe(accepted);
    }
  }
  // Containers per byte: many empty arrays in few bytes.
  for (const count of [3, 4, 5, 40]) {
    const bytes = writeEnvelope({ a: Array.from({ length: count }, () => []) })!;
    const limits = { ...LIMITS, containersPerByte: 0.1, minContainers: 4 };
    const accepted = 'value' in before(bytes, limits);
    expect(readEnvelope(bytes, limits) !== NOT_PLAIN).toBe(accepted);
  }
  // Size: one byte over the limit is left to the bounds check (which refuses it).
  const bytes = writeEnvelope({ s: 'x'.repeat(100) })!;
  expect(readEnvelope(bytes, { ...LIMITS, maxBytes: bytes.length })).not.toBe(NOT_PLAIN);
  expect(readEnvelope(bytes, { ...LIMITS, maxBytes: bytes.length - 1 })).toBe(NOT_PLAIN);
  // Past 64 KiB, messages are left to the bounds check, which refuses too many containers
  // before anything is built.
  const big = writeEnvelope({ s: 'x'.repeat(70_000) })!;
  expect(readEnvelope(big, LIMITS)).toBe(NOT_PLAIN);
  expect(decodeEnvelope(big)).toStrictEqual({ s: 'x'.repeat(70_000) });
  // Nested arrays that each claim the bytes left: together they claim far more than the
  // message holds, and the reader gives up at the second, having reserved no more than that
  // (it once reserved a slot for every claimed element: 268 MB for these 64 KiB).
  const claims: number[] = [0x81, 0xa0];
  const total = 65_536;
  for (let i = 0; i < 510; i++) {
    const left = total - claims.length - 3;
    claims.push(0xdc, (left >> 8) & 0xff, left & 0xff);
  }
  while (claims.length < total) claims.push(0xc0);
  const heapBefore = process.memoryUsage().heapUsed;
  expect(readEnvelope(Buffer.from(claims), { ...LIMITS, maxDepth: 512, minContainers: 65_536 })).toBe(NOT_PLAIN);
  expect(process.memoryUsage().heapUsed - heapBefore).toBeLessThan(32 * 1024 * 1024);
  // Deeper than the reader goes (1,000 levels): left to the bounds check and msgpackr, whatever
  // the limit (the reader recurses; a limit in the thousands would overflow its stack).
  const deep = msgpackr.pack(nested(1200));
  expect(readEnvelope(deep, { ...LIMITS, maxDepth: 5000 })).toBe(NOT_PLAIN);
  expect(readEnvelope(msgpackr.pack(nested(900)), { ...LIMITS, maxDepth: 5000 })).not.toBe(NOT_PLAIN);
  // A count larger than the bytes left allocates nothing: the bounds check refuses it.
  const lying = Buffer.from([0x81, 0xa1, 0x61, 0xdd, 0x7f, 0xff, 0xff, 0xff]);
  expect(readEnvelope(lying, LIMITS)).toBe(NOT_PLAIN);
  expect(before(lying, LIMITS)).toHaveProperty('refused');
});

test('what is not plain data is left to msgpackr: extensions, records, 64-bit integers, float32', () => {
  const withExt = msgpackr.pack({ when: new Date(0), set: new Set([1]) });
  expect(readEnvelope(withExt, LIMITS)).toBe(NOT_PLAIN);
  const float32 = Buffer.from([0x81, 0xa1, 0x66, 0xca, 0x3f, 0xc0, 0x00, 0x00]);
  expect(readEnvelope(float32, LIMITS)).toBe(NOT_PLAIN);
  expect(decodeEnvelope(float32)).toEqual({ f: 1.5 });
  const uint64 = Buffer.from([0x81, 0xa1, 0x6e, 0xcf, 0, 0, 0, 1, 0, 0, 0, 0]);
  expect(readEnvelope(uint64, LIMITS)).toBe(NOT_PLAIN);
  // msgpackr's undefined is fixext 1 of type 0, whatever its filler byte; another type is not.
  expect(agrees(Buffer.from([0x81, 0xa1, 0x75, 0xd4, 0x00, 0x05]))).toBe(true);
  expect(readEnvelope(Buffer.from([0x81, 0xa1, 0x75, 0xd4, 0x00, 0x05]), LIMITS)).toStrictEqual({ u: undefined });
  expect(readEnvelope(Buffer.from([0x81, 0xa1, 0x75, 0xd4, 0x01, 0x00]), LIMITS)).toBe(NOT_PLAIN);
  // Not a map at the top: no envelope.
  expect(readEnvelope(Buffer.from([0x91, 0x01]), LIMITS)).toBe(NOT_PLAIN);
  expect(readEnvelope(new Uint8Array(0), LIMITS)).toBe(NOT_PLAIN);
});
