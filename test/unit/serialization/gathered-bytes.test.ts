/**
 * Messages gathered for a pipe (src/serialization/gathered-bytes.ts): the envelope writer
 * leaves byte arrays of 1 MiB or more beside the message; written to a pipe as parts
 * (ipc-protocol.ts), they arrive as the very bytes a whole message holds; anything that reads
 * the message as bytes (an in-process consumer of the bus, a seal) reads it whole.
 */
import { writeEnvelope } from '../../../src/serialization/envelope-writer';
import { GATHER_BYTES, GatheredBytes, joined } from '../../../src/serialization/gathered-bytes';
import { decodeEnvelope } from '../../../src/serialization/serializer';
import { decodeFrames, encodeFrames, type ParentFrame } from '../../../src/transport/ipc-protocol';
import { InMemoryBus } from '../../../src/transport/in-memory-transport';
import { createAuthTransport } from '../../../src/transport/auth-transport';
import type { Delivery } from '../../../src/transport/transport';

const distinct = (n: number, seed: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff);

/** A task-like message with two large arrays and a small one, fields before and after them. */
function message(): { msg: object; large: Uint8Array[] } {
  const large = [distinct(GATHER_BYTES, 1), distinct(GATHER_BYTES + 3, 2)];
  const msg = { t: 'task', task: 'abc', args: [{ d: large[0] }, { d: distinct(100, 3) }, { d: large[1] }], nret: 1, owner: 'raybus.reply.x' };
  return { msg, large };
}

test('large arrays are left beside the message, and the parts make the bytes a whole message has', () => {
  const { msg, large } = message();
  const whole = Buffer.from(writeEnvelope(msg)!);
  const gathered = writeEnvelope(msg, true)!;
  expect(gathered).toBeInstanceOf(GatheredBytes);
  expect((gathered as GatheredBytes).gathered).toBe(true);
  expect(gathered.byteLength).toBe(whole.byteLength);
  const parts: Uint8Array[] = [];
  (gathered as GatheredBytes).partsInto(parts);
  // The large arrays themselves are parts: nothing copied them.
  expect(parts.filter((p) => large.includes(p))).toHaveLength(2);
  expect(Buffer.compare(Buffer.concat(parts), whole)).toBe(0);
  // Read as bytes, it is whole, and decodes as the message.
  expect(Buffer.compare(Buffer.from(joined(gathered)), whole)).toBe(0);
  expect((gathered as GatheredBytes).gathered).toBe(false);
  const decoded = decodeEnvelope(gathered) as { args: Array<{ d: Uint8Array }> };
  expect(decoded.args.map((a, i) => Buffer.compare(a.d, (msg as typeof decoded).args[i]!.d))).toEqual([0, 0, 0]);
});

test('small arrays, or a writer not asked to gather, copy everything in', () => {
  const small = { d: distinct(GATHER_BYTES - 1, 4) };
  expect(writeEnvelope(small, true)).not.toBeInstanceOf(GatheredBytes);
  expect(writeEnvelope(message().msg)).not.toBeInstanceOf(GatheredBytes);
  // Views of a gathered message are plain byte arrays, never taken for a message with holes.
  expect(writeEnvelope(message().msg, true)!.subarray(0, 10)).not.toBeInstanceOf(GatheredBytes);
});

test('a gathered delivery written as frames arrives as the whole message', () => {
  const { msg } = message();
  const whole = Buffer.from(writeEnvelope(msg)!);
  const frames: ParentFrame[] = [
    { op: 'deliver', ctag: 1, dtag: 2, body: writeEnvelope(msg, true)! },
    { op: 'deliver', ctag: 1, dtag: 3, body: Uint8Array.of(1, 2, 3) },
  ];
  const decoded = decodeFrames<ParentFrame>(Buffer.concat(encodeFrames(frames)))!;
  expect(Buffer.compare(Buffer.from((decoded[0] as { body: Uint8Array }).body), whole)).toBe(0);
  expect(Array.from((decoded[1] as { body: Uint8Array }).body)).toEqual([1, 2, 3]);
});

test('the bus hands a gathered message as it is to a bridge, and whole to a consumer that reads it', async () => {
  const bus = new InMemoryBus();
  const pub = bus.connect();
  const bridge = bus.connect();
  const reader = bus.connect();
  await Promise.all([pub.connect(), bridge.connect(), reader.connect()]);
  await pub.assertQueue('to-worker');
  await pub.assertQueue('to-driver');
  const forwarded: Delivery[] = [];
  const read: Delivery[] = [];
  await bridge.consume('to-worker', (d) => forwarded.push(d), { prefetch: 10, recordsOnly: true });
  await reader.consume('to-driver', (d) => read.push(d), { prefetch: 10 });
  const { msg } = message();
  const whole = Buffer.from(writeEnvelope(msg)!);
  pub.publishSync('to-worker', writeEnvelope(msg, true)!);
  pub.publishSync('to-driver', writeEnvelope(msg, true)!);
  await new Promise((r) => setImmediate(r));
  expect((forwarded[0]!.body as GatheredBytes).gathered).toBe(true);
  expect((read[0]!.body as GatheredBytes).gathered).toBe(false);
  expect(Buffer.compare(Buffer.from(read[0]!.body), whole)).toBe(0);
  for (const t of [pub, bridge, reader]) await t.close();
});

test('a sealed transport seals the whole message', async () => {
  const bus = new InMemoryBus();
  const key = 'k'.repeat(32);
  const sender = createAuthTransport(bus.connect(), { key });
  const receiver = createAuthTransport(bus.connect(), { key });
  await Promise.all([sender.connect(), receiver.connect()]);
  await sender.assertQueue('q');
  const got: Uint8Array[] = [];
  await receiver.consume('q', (d) => got.push(Buffer.from(d.body)), { prefetch: 1 });
  const { msg } = message();
  sender.publishSync!('q', writeEnvelope(msg, true)!);
  await new Promise((r) => setImmediate(r));
  await new Promise((r) => setImmediate(r));
  expect(got).toHaveLength(1);
  expect(Buffer.compare(got[0]!, Buffer.from(writeEnvelope(msg)!))).toBe(0);
  await sender.close();
  await receiver.close();
});
