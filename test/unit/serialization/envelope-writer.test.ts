/**
 * The envelope writer (src/serialization/envelope-writer.ts) against msgpackr's envelope
 * encoder: whatever it writes decodes to exactly what msgpackr's bytes decode to, at every
 * size boundary of msgpack's formats; frozen objects are written from cached bytes only while
 * nothing in them can change; anything but plain data is left to msgpackr.
 */
import { writeEnvelope } from '../../../src/serialization/envelope-writer';
import { privateMsgpackr } from '../../../src/serialization/msgpackr-instance';
import { decodeEnvelope, encodeEnvelope } from '../../../src/serialization/serializer';

const { Packr } = privateMsgpackr();
const msgpackr = new Packr({ useRecords: false, moreTypes: false, mapsAsObjects: true });

/** Decoded the way raybus decodes envelopes: through the bounds check and the envelope reader. */
function sameAsMsgpackr(value: unknown): void {
  const ours = writeEnvelope(value);
  expect(ours).toBeDefined();
  const theirs = msgpackr.pack(value);
  expect(decodeEnvelope(ours!)).toStrictEqual(decodeEnvelope(theirs));
}

const str = (n: number, c = 'a'): string => c.repeat(n);

test('messages as raybus makes them decode as msgpackr would have written them', () => {
  const ctx = Object.freeze({ jobId: '0a498d95', namespace: 'anonymous-0a498d95', attempt: 0, res: Object.freeze({ CPU: 1 }) });
  const fn = Object.freeze({ id: '26915c921fa380386693401a', name: 'smallValue', kind: 'function' });
  const task = { t: 'task', task: '6bbe85499f0100000003d5', fn, args: [{ d: new Uint8Array([1, 2, 3]) }], nret: 1, owner: 'raybus.reply.driver-0a498d95', ctx, lease: 'g1f09689@62cebae1e819ceaa951d814913bc' };
  // Twice: the second time the frozen context and descriptor come from cached bytes.
  sameAsMsgpackr(task);
  sameAsMsgpackr(task);
  sameAsMsgpackr({ t: 'result', task: 'x', rets: [{ d: Buffer.from([9]) }, { e: { name: 'Error', message: 'boom', stack: undefined } }], us: 8 });
  sameAsMsgpackr({ t: 'call', method: 'ping', sq: { s: '0110ac9d24935611', n: 1977, lo: 1977 }, args: [], bp: undefined });
});

test('every size boundary of strings, numbers, byte arrays, arrays and maps', () => {
  for (const n of [0, 1, 31, 32, 255, 256, 65_535, 65_536, 70_000]) {
    sameAsMsgpackr({ s: str(n) });
    sameAsMsgpackr({ b: new Uint8Array(n).fill(7) });
    sameAsMsgpackr({ a: Array.from({ length: Math.min(n, 70_000) }, (_, i) => i) });
  }
  // Multi-byte text, at and around the fixstr limit.
  for (const s of ['é', str(15, 'é'), str(16, 'é'), '名前', str(31, '名'), '😀', 'a\u0000b']) sameAsMsgpackr({ s });
  // A lone surrogate is not text: it arrives as one replacement character (msgpackr's own
  // bytes for it are not UTF-8 either, and arrive as three).
  expect(decodeEnvelope(writeEnvelope({ s: 'a\ud800b' })!)).toEqual({ s: 'a\ufffdb' });
  const mapOf = (n: number): object => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, i]));
  for (const n of [15, 16, 65_535]) sameAsMsgpackr(mapOf(n));
  // More keys than a map16 holds (no message has them): left to msgpackr, which refuses them.
  expect(writeEnvelope(mapOf(65_536))).toBeUndefined();
  expect(() => encodeEnvelope(mapOf(65_536))).toThrow(/too large to serialize/);
  const numbers = [0, -0, 1, 127, 128, 255, 256, 65_535, 65_536, 2 ** 32 - 1, 2 ** 32, 2 ** 53 - 1, -1, -32, -33, -128, -129, -32_768, -32_769, -(2 ** 31), -(2 ** 31) - 1, -(2 ** 53), 0.5, -1.25, 1e300, NaN, Infinity, -Infinity];
  for (const n of numbers) sameAsMsgpackr({ n });
  sameAsMsgpackr({ yes: true, no: false, nil: null, none: undefined, nested: { deeper: [{ x: [[]] }] } });
  sameAsMsgpackr(Object.assign(Object.create(null) as object, { bare: 1 }));
});

test('a frozen object is written from its cached bytes only while nothing in it can change', () => {
  const fixed = Object.freeze({ a: 1, inner: Object.freeze({ b: 'x' }) });
  expect(decodeEnvelope(writeEnvelope({ fixed })!)).toEqual({ fixed: { a: 1, inner: { b: 'x' } } });
  expect(decodeEnvelope(writeEnvelope({ fixed })!)).toEqual({ fixed: { a: 1, inner: { b: 'x' } } });
  // Frozen, but holding something that is not: written afresh every time.
  const mutable = { n: 1 };
  const list = [1];
  const holder = Object.freeze({ mutable, list });
  expect(decodeEnvelope(writeEnvelope(holder)!)).toEqual({ mutable: { n: 1 }, list: [1] });
  mutable.n = 2;
  list.push(2);
  expect(decodeEnvelope(writeEnvelope(holder)!)).toEqual({ mutable: { n: 2 }, list: [1, 2] });
});

test('anything but plain data is left to msgpackr, which encodes it as before', () => {
  class Point {
    x = 1;
  }
  for (const v of [{ m: new Map([[1, 2]]) }, { d: new Date(0) }, { p: new Point() }, { f: new Float64Array([1.5]) }, { big: 1n }, { ab: new ArrayBuffer(2) }]) {
    expect(writeEnvelope(v)).toBeUndefined();
    expect(Buffer.compare(encodeEnvelope(v), msgpackr.pack(v))).toBe(0);
  }
  // A failed attempt leaves nothing behind: the next message is whole.
  expect(decodeEnvelope(writeEnvelope({ after: 'ok' })!)).toEqual({ after: 'ok' });
});

test('messages larger than the room left take a buffer their size, not one that grows with every message', () => {
  // 100 KB arguments one after another (a bench row once asked for a 4.6 GB buffer).
  const arg = new Uint8Array(100_000).fill(5);
  for (let i = 0; i < 300; i++) {
    const out = writeEnvelope({ t: 'call', i, args: [{ d: arg }], ctx: Object.freeze({ jobId: 'j' }) })!;
    expect(out.buffer.byteLength).toBeLessThan(1 << 20);
    if (i % 50 === 0) expect(decodeEnvelope(out)).toEqual({ t: 'call', i, args: [{ d: arg }], ctx: { jobId: 'j' } });
  }
  // An object whose bytes move to a new buffer while it is written keeps its count and its cache.
  const frozen = Object.freeze({ a: 'x'.repeat(70_000), b: 1 });
  for (let i = 0; i < 3; i++) expect(decodeEnvelope(writeEnvelope({ pad: 'y'.repeat(60_000), frozen })!)).toEqual({ pad: 'y'.repeat(60_000), frozen: { a: 'x'.repeat(70_000), b: 1 } });
});

test('a large message gets a buffer of its own, and those after it stay intact', () => {
  const big = writeEnvelope({ body: new Uint8Array(2 << 20).fill(3) })!;
  const small = writeEnvelope({ t: 'small' })!;
  expect(big.buffer).not.toBe(small.buffer);
  expect((decodeEnvelope(big) as { body: Uint8Array }).body.every((b) => b === 3)).toBe(true);
  expect(decodeEnvelope(small)).toEqual({ t: 'small' });
  // Earlier results stay valid while later ones are written.
  const many = Array.from({ length: 5000 }, (_, i) => writeEnvelope({ i, s: str(i % 50) })!);
  many.forEach((b, i) => expect(decodeEnvelope(b)).toEqual({ i, s: str(i % 50) }));
});

test('a message over half the shared buffer is written in one its size, and the shared buffer goes on after it', () => {
  // The first message of a fresh shared buffer (whatever the tests before left in the last one).
  let before: Uint8Array;
  do before = writeEnvelope({ t: 'before' })!;
  while (before.byteOffset !== 0);
  const arg = new Uint8Array(100 * 1024).fill(9);
  const large = writeEnvelope({ t: 'task', args: [{ d: arg }] })!;
  const after = writeEnvelope({ t: 'after' })!;
  // One allocation of about the message's size for it (not a grown shared buffer and a new one after it).
  expect(large.buffer).not.toBe(before.buffer);
  expect(large.buffer.byteLength).toBeGreaterThanOrEqual(large.byteLength);
  expect(large.buffer.byteLength).toBeLessThanOrEqual(large.byteLength + 8192);
  expect(after.buffer).toBe(before.buffer);
  expect(after.byteOffset).toBeGreaterThanOrEqual(before.byteOffset + before.byteLength);
  // Every message still holds its own bytes.
  expect(decodeEnvelope(before)).toEqual({ t: 'before' });
  expect(decodeEnvelope(large)).toEqual({ t: 'task', args: [{ d: arg }] });
  expect(decodeEnvelope(after)).toEqual({ t: 'after' });
  // A large message left to msgpackr half-way (a Map after its bytes) leaves the shared buffer as it was.
  expect(writeEnvelope({ d: arg, m: new Map([[1, 2]]) })).toBeUndefined();
  const next = writeEnvelope({ t: 'next' })!;
  expect(next.buffer).toBe(before.buffer);
  expect(decodeEnvelope(after)).toEqual({ t: 'after' });
  expect(decodeEnvelope(next)).toEqual({ t: 'next' });
  // A message that outgrows its own buffer too still comes out whole.
  const huge = { d: arg, tail: str(200_000, 'z') };
  expect(decodeEnvelope(writeEnvelope(huge)!)).toEqual(huge);
  expect(writeEnvelope({ t: 'again' })!.buffer).toBe(before.buffer);
});
