/**
 * Frames between a worker and its node (src/transport/ipc-protocol.ts): a large body travels
 * after the encoded frames, as it is, and comes back as a view of the message; a malformed
 * message is refused with an error, never half-read.
 */
import { decodeFrames, encodeFrames, type ChildFrame } from '../../../src/transport/ipc-protocol';

const bytes = (n: number, seed: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (i * 13 + seed) & 0xff);

test('small and large bodies come back in place, in order, and the large ones are not copied on the way out', () => {
  const large1 = bytes(64 * 1024, 1);
  const large2 = bytes(200_000, 2);
  const frames: ChildFrame[] = [
    { op: 'pub', queue: 'raybus.reply.a', body: bytes(10, 3) },
    { op: 'pub', queue: 'raybus.reply.b', body: large1, batch: true },
    { op: 'ack', ctag: 1, dtag: 2 },
    { op: 'bcast', topic: 'raybus.state', body: large2 },
  ];
  const parts = encodeFrames(frames);
  // The large bodies are the very arrays given, after the header and the encoded frames.
  expect(parts.slice(2)).toEqual([large1, large2]);
  expect(parts[2]).toBe(large1);
  expect(parts[3]).toBe(large2);
  // The caller's frames are left as they were.
  expect((frames[1] as { body: Uint8Array }).body).toBe(large1);
  const decoded = decodeFrames<ChildFrame>(Buffer.concat(parts))!;
  expect(decoded.map((f) => f.op)).toEqual(['pub', 'pub', 'ack', 'bcast']);
  expect(Buffer.compare((decoded[0] as { body: Uint8Array }).body, frames[0]!.op === 'pub' ? frames[0].body : new Uint8Array())).toBe(0);
  expect(Buffer.compare((decoded[1] as { body: Uint8Array }).body, large1)).toBe(0);
  expect(Buffer.compare((decoded[3] as { body: Uint8Array }).body, large2)).toBe(0);
  expect(decoded[1]).toEqual({ op: 'pub', queue: 'raybus.reply.b', body: expect.any(Uint8Array), batch: true });
  expect(encodeFrames([]).length).toBe(2);
  expect(decodeFrames(Buffer.concat(encodeFrames([])))).toEqual([]);
});

test('a message shorter than it says, or with bytes after its bodies, is refused', () => {
  const whole = Buffer.concat(encodeFrames<ChildFrame>([{ op: 'pub', queue: 'q', body: bytes(70_000, 4) }]));
  expect(() => decodeFrames(whole.subarray(0, whole.length - 1))).toThrow(/shorter than its bodies/);
  expect(() => decodeFrames(Buffer.concat([whole, Buffer.from([0])]))).toThrow(/bytes after its bodies/);
  expect(() => decodeFrames(whole.subarray(0, 3))).toThrow(/shorter than its header/);
  const forged = Buffer.from(whole);
  forged.writeUInt32LE(0xffffff, 0);
  expect(() => decodeFrames(forged)).toThrow(/shorter than its frames/);
});
