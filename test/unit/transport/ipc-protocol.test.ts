/**
 * Frames between a worker and its node (src/transport/ipc-protocol.ts): every kind of frame
 * comes back as it went, a large body travels as it is and comes back as a view of the
 * message, and a malformed message is refused with an error, never half-read.
 */
import { decodeFrames, encodeFrames, type ChildFrame, type ParentFrame } from '../../../src/transport/ipc-protocol';

const bytes = (n: number, seed: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (i * 13 + seed) & 0xff);
const roundTrip = <F>(frames: F[]): F[] => decodeFrames<F>(Buffer.concat(encodeFrames(frames)))!;
/** Frames with their bodies as plain arrays, to compare. */
const plain = (frames: Array<ChildFrame | ParentFrame>): unknown[] => frames.map((f) => ('body' in f ? { ...f, body: [...f.body] } : f));

test('every kind of frame comes back as it went', () => {
  const child: ChildFrame[] = [
    { op: 'pub', queue: 'raybus.reply.a', body: bytes(10, 3) },
    { op: 'pub', queue: 'raybus.w.ü-名前', body: bytes(0, 0), batch: true },
    { op: 'pub', queue: 'q', body: bytes(5, 1), transient: true, headers: { 'raybus-seal': 'abc', n: 3, ok: true } },
    { op: 'ack', ctag: 1, dtag: 2 ** 40 },
    { op: 'nack', ctag: 1, dtag: 3, requeue: false, reason: 'malformed' },
    { op: 'bcast', topic: 'raybus.state', body: bytes(3, 9) },
    { op: 'assert', id: 7, queue: 'q', opts: { durable: true } },
    { op: 'consume', id: 8, queue: 'q', prefetch: 64 },
    { op: 'ready' },
  ];
  expect(plain(roundTrip(child))).toEqual(plain(child));
  const parent: ParentFrame[] = [
    { op: 'deliver', ctag: 4, dtag: 5, body: bytes(20, 2) },
    { op: 'deliver', ctag: 4, dtag: 6, body: bytes(1, 2), headers: { a: 'b' }, redelivered: true },
    { op: 'topic', stag: 2, body: bytes(4, 4) },
    { op: 'ok', id: 8, tag: 4 },
    { op: 'err', id: 9, message: 'no such queue' },
    { op: 'puberr', queue: 'q', message: 'too large' },
  ];
  expect(plain(roundTrip(parent))).toEqual(plain(parent));
  expect(roundTrip([])).toEqual([]);
});

test('names come back right however many queues a batch names, the same or of the same length', () => {
  // More names than the decoder remembers, each twice, several of one length.
  const names = Array.from({ length: 20 }, (_, i) => `raybus.reply.driver-${String(i).padStart(2, '0')}`);
  const frames: ChildFrame[] = [...names, ...names.reverse()].map((queue) => ({ op: 'pub', queue, body: bytes(1, 0) }));
  expect(roundTrip(frames).map((f) => (f as { queue: string }).queue)).toEqual(frames.map((f) => (f as { queue: string }).queue));
});

test('large bodies travel as the very arrays given, not copied on the way out, and come back in place', () => {
  const large1 = bytes(64 * 1024, 1);
  const large2 = bytes(200_000, 2);
  const frames: ChildFrame[] = [
    { op: 'pub', queue: 'raybus.reply.a', body: bytes(10, 3) },
    { op: 'pub', queue: 'raybus.reply.b', body: large1, batch: true },
    { op: 'ack', ctag: 1, dtag: 2 },
    { op: 'bcast', topic: 'raybus.state', body: large2 },
  ];
  const parts = encodeFrames(frames);
  expect(parts).toHaveLength(4);
  expect(parts[1]).toBe(large1);
  expect(parts[3]).toBe(large2);
  // The caller's frames are left as they were.
  expect((frames[1] as { body: Uint8Array }).body).toBe(large1);
  const whole = Buffer.concat(parts);
  const decoded = decodeFrames<ChildFrame>(whole)!;
  expect(plain(decoded)).toEqual(plain(frames));
  // A body comes back as a view of the message.
  expect((decoded[1] as { body: Uint8Array }).body.buffer).toBe(whole.buffer);
});

test('a message shorter than it says, of an unknown kind, or with a forged frame, is refused', () => {
  const whole = Buffer.concat(encodeFrames<ChildFrame>([{ op: 'pub', queue: 'q', body: bytes(70_000, 4) }]));
  expect(() => decodeFrames(whole.subarray(0, whole.length - 1))).toThrow(/shorter than its bodies/);
  expect(() => decodeFrames(Buffer.concat([whole, Buffer.from([9])]))).toThrow(/unknown kind 9/);
  expect(() => decodeFrames(whole.subarray(0, 3))).toThrow(/shorter than its names/);
  const forged = Buffer.from(whole);
  forged.writeUInt32LE(0xffffff, 1);
  expect(() => decodeFrames(forged)).toThrow(/shorter than its names/);
  const ack = Buffer.concat(encodeFrames<ChildFrame>([{ op: 'ack', ctag: 1, dtag: 2 }]));
  ack.writeDoubleLE(-1, 9);
  expect(() => decodeFrames(ack)).toThrow(/tag that is not a count/);
  ack.writeDoubleLE(0.5, 9);
  expect(() => decodeFrames(ack)).toThrow(/tag that is not a count/);
  // A generic frame that is not a map with an op, and headers that are not a map.
  const notFrame = Buffer.concat([Buffer.from([0, 1, 0, 0, 0]), Buffer.from([0x2a])]);
  expect(() => decodeFrames(notFrame)).toThrow(/not a frame/);
  const pub = Buffer.concat(encodeFrames<ChildFrame>([{ op: 'pub', queue: 'q', body: bytes(1, 1), headers: { a: 'b' } }]));
  // Kind, name length, 'q', flags, body length, body: 12 bytes, then the headers' length and
  // bytes. Headers of the number 42 instead:
  const badHeaders = Buffer.concat([pub.subarray(0, 12), Buffer.from([1, 0, 0, 0, 0x2a])]);
  expect(() => decodeFrames(badHeaders)).toThrow(/headers that are not a map/);
  // Not bytes at all: not a batch (other messages share Node's IPC channel).
  expect(decodeFrames({} as Uint8Array)).toBeUndefined();
});
