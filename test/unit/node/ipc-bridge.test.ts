/**
 * The node side of the worker link: a worker's result for a reply queue that is missing for a
 * moment (its driver not yet back after a bus restart) is sent again, not dropped; other
 * queues and lasting failures are reported to the worker. Simulated time, fake transport. And
 * a consumer ended by the node or the worker gives back what it holds (in-memory bus). A large
 * publish read from the pipe in several reads reaches a sealing connection gathered over them.
 */
import { IpcBridge, REPLY_RETRY_MS } from '../../../src/node/ipc-bridge';
import { decodeFrames, encodeFrames, type ChildFrame, type ParentFrame } from '../../../src/transport/ipc-protocol';
import type { FrameLink } from '../../../src/transport/ipc-link';
import type { Transport } from '../../../src/transport/transport';
import { NO_SUCH_QUEUE } from '../../../src/transport/transport';
import { SimulatedClock } from '../../../src/util/simulated-clock';
import { InMemoryBus } from '../../../src/transport/in-memory-transport';
import { Duplex } from 'node:stream';
import { PipeLink } from '../../../src/transport/ipc-link';
import { createAuthTransport } from '../../../src/transport/auth-transport';
import { GatheredBytes, joined } from '../../../src/serialization/gathered-bytes';

const settle = () => new Promise((r) => setImmediate(r));

function harness(failures: number) {
  const clock = new SimulatedClock();
  const sent: Array<{ queue: string; at: number; options?: unknown }> = [];
  const toWorker: ParentFrame[] = [];
  let fromWorker: (bytes: Uint8Array) => void = () => undefined;
  const link: FrameLink = {
    open: true,
    send: (parts) => toWorker.push(...(decodeFrames<ParentFrame>(Buffer.concat(parts)) ?? [])),
    onMessage: (h) => (fromWorker = h),
    onClose: () => undefined,
  };
  let left = failures;
  const transport = {
    publish: (queue: string, _body: Uint8Array, options?: unknown) => {
      sent.push({ queue, at: clock.now(), ...(options ? { options } : {}) });
      if (left-- > 0) return Promise.reject(Object.assign(new Error(`no queue named '${queue}'`), { code: NO_SUCH_QUEUE }));
      return Promise.resolve();
    },
  } as unknown as Transport;
  new IpcBridge('test worker', link, transport, { onReady: () => undefined }, clock);
  const publish = (queue: string, extra: Partial<Extract<ChildFrame, { op: 'pub' }>> = {}) =>
    fromWorker(Buffer.concat(encodeFrames<ChildFrame>([{ op: 'pub', queue, body: new Uint8Array([1]), ...extra }])));
  return { clock, sent, toWorker, publish };
}

test('a result to a reply queue missing for a moment is sent again until it goes out', async () => {
  const h = harness(3);
  h.publish('raybus.reply.driver-abc');
  await settle();
  for (let i = 0; i < 3; i++) {
    await h.clock.advance(250);
    await settle();
  }
  expect(h.sent.map((s) => s.at)).toEqual([0, 250, 500, 750]);
  expect(h.toWorker).toEqual([]);
});

test('a reply queue still missing after the retry period is reported to the worker', async () => {
  const h = harness(Number.POSITIVE_INFINITY);
  h.publish('raybus.reply.driver-gone');
  await settle();
  while (h.clock.now() <= REPLY_RETRY_MS) {
    await h.clock.advance(250);
    await settle();
  }
  expect(h.toWorker).toEqual([expect.objectContaining({ op: 'puberr', queue: 'raybus.reply.driver-gone' })]);
  const attempts = h.sent.length;
  await h.clock.advance(1000);
  await settle();
  expect(h.sent).toHaveLength(attempts);
});

test("a worker's publish options reach the bus: batched, transient (blob chunks), plain", async () => {
  const h = harness(0);
  h.publish('raybus.reply.d1', { batch: true });
  h.publish('raybus.reply.d1', { transient: true });
  h.publish('raybus.reply.d1');
  await settle();
  expect(h.sent.map((s) => s.options)).toEqual([{ batch: true }, { transient: true }, undefined]);
});

test('other queues are not retried: the failure goes to the worker at once', async () => {
  const h = harness(1);
  h.publish('raybus.actor.a1');
  await settle();
  await settle();
  expect(h.sent).toHaveLength(1);
  expect(h.toWorker).toEqual([expect.objectContaining({ op: 'puberr', queue: 'raybus.actor.a1' })]);
});

test('a worker that cannot set up its runtime env says why in a frame', () => {
  let fromWorker: (bytes: Uint8Array) => void = () => undefined;
  const link: FrameLink = { open: true, send: () => undefined, onMessage: (h) => (fromWorker = h), onClose: () => undefined };
  const reasons: string[] = [];
  new IpcBridge('test worker', link, new InMemoryBus().connect(), { onReady: () => undefined, onEnvSetupFailed: (m) => reasons.push(m) });
  fromWorker(Buffer.concat(encodeFrames<ChildFrame>([{ op: 'envfail', message: "pip: no package 'x'" }])));
  expect(reasons).toEqual(["pip: no package 'x'"]);
});

describe('ending a consumer gives back what it holds (a shared actor stopped while its process lives)', () => {
  async function consumerHolding3() {
    const bus = new InMemoryBus();
    const own = bus.connect();
    const other = bus.connect();
    await Promise.all([own.connect(), other.connect()]);
    const toWorker: ParentFrame[] = [];
    let fromWorker: (bytes: Uint8Array) => void = () => undefined;
    const link: FrameLink = { open: true, send: (parts) => toWorker.push(...(decodeFrames<ParentFrame>(Buffer.concat(parts)) ?? [])), onMessage: (h) => (fromWorker = h), onClose: () => undefined };
    const bridge = new IpcBridge('test worker', link, own, { onReady: () => undefined });
    const frame = (f: ChildFrame) => fromWorker(Buffer.concat(encodeFrames<ChildFrame>([f])));
    await other.assertQueue('raybus.actor.q1');
    for (const b of [1, 2, 3]) await other.publish('raybus.actor.q1', new Uint8Array([b]));
    frame({ op: 'consume', id: 1, queue: 'raybus.actor.q1', prefetch: 10 });
    for (let i = 0; i < 5; i++) await settle();
    const delivered = toWorker.filter((f): f is Extract<ParentFrame, { op: 'deliver' }> => f.op === 'deliver');
    expect(delivered.map((d) => d.body[0])).toEqual([1, 2, 3]);
    // The worker acknowledges the first only.
    frame({ op: 'ack', ctag: delivered[0]!.ctag, dtag: delivered[0]!.dtag });
    await settle();
    expect(bridge.unacked()).toBe(2);
    const back = async () => {
      const got: Array<[number, boolean]> = [];
      await other.consume('raybus.actor.q1', (d) => (d.ack(), got.push([d.body[0]!, d.redelivered])), { prefetch: 10 });
      for (let i = 0; i < 5; i++) await settle();
      return got;
    };
    return { bus, bridge, frame, delivered, back, close: () => Promise.all([own.close(), other.close()]) };
  }

  test('dropConsumers (the node): the unacknowledged go back, marked redelivered; late acks are ignored', async () => {
    const h = await consumerHolding3();
    await h.bridge.dropConsumers('raybus.actor.q1');
    expect(h.bridge.unacked()).toBe(0);
    h.frame({ op: 'ack', ctag: h.delivered[1]!.ctag, dtag: h.delivered[1]!.dtag });
    expect(await h.back()).toEqual([
      [2, true],
      [3, true],
    ]);
    await h.close();
  });

  test('cancel (the worker): the same', async () => {
    const h = await consumerHolding3();
    h.frame({ op: 'cancel', id: 2, ctag: h.delivered[0]!.ctag });
    for (let i = 0; i < 5; i++) await settle();
    expect(await h.back()).toEqual([
      [2, true],
      [3, true],
    ]);
    await h.close();
  });
});

describe('a large publish read from the pipe in several reads', () => {
  const big = Buffer.from(Uint8Array.from({ length: 200_000 }, (_, i) => (i * 13 + (i >> 9)) & 0xff));
  /** A node's pipe link fed the worker's message for `frames` in reads of 64 KiB. */
  function pipeFrom(frames: ChildFrame[]): { link: PipeLink; feed: () => void } {
    const socket = new Duplex({ read() {}, write: (_c, _e, cb) => cb() });
    const link = new PipeLink(socket);
    const message = Buffer.concat(encodeFrames<ChildFrame>(frames));
    const head = Buffer.alloc(4);
    head.writeUInt32LE(message.length);
    const stream = Buffer.concat([head, message]);
    return { link, feed: () => { for (let at = 0; at < stream.length; at += 65_536) socket.emit('data', stream.subarray(at, at + 65_536)); } };
  }

  test.each([true, false])('reaches a connection that seals from parts (%s) gathered over the reads, any other joined', (takes) => {
    const pipe = pipeFrom([{ op: 'pub', queue: 'raybus.reply.d', body: big, transient: true }]);
    const bodies: Uint8Array[] = [];
    const transport = { takesGathered: takes, publish: (_q: string, body: Uint8Array) => (bodies.push(body), Promise.resolve()) } as unknown as Transport;
    new IpcBridge('test worker', pipe.link, transport, { onReady: () => undefined });
    pipe.feed();
    expect(bodies).toHaveLength(1);
    expect(bodies[0] instanceof GatheredBytes && bodies[0].gathered).toBe(takes);
    expect(Buffer.compare(Buffer.from(joined(bodies[0]!)), big)).toBe(0);
  });

  test('sealed by the AuthTransport from its parts: the receiver opens the same bytes', async () => {
    const bus = new InMemoryBus();
    const clock = new SimulatedClock(1_000_000);
    const key = 'b'.repeat(64);
    const own = createAuthTransport(bus.connect(), { key, clock });
    const receiver = createAuthTransport(bus.connect(), { key, clock });
    await Promise.all([own.connect(), receiver.connect()]);
    await receiver.assertQueue('raybus.reply.d');
    const got: Uint8Array[] = [];
    await receiver.consume('raybus.reply.d', (d) => (got.push(Uint8Array.from(d.body)), d.ack()), { prefetch: 0 });
    const pipe = pipeFrom([{ op: 'pub', queue: 'raybus.reply.d', body: big }, { op: 'pub', queue: 'raybus.reply.d', body: big.subarray(0, 70_000) }]);
    new IpcBridge('test worker', pipe.link, own, { onReady: () => undefined }, clock);
    pipe.feed();
    for (let i = 0; i < 5 && got.length < 2; i++) await settle();
    expect(got.map((b, i) => Buffer.compare(b, i === 0 ? big : big.subarray(0, 70_000)))).toEqual([0, 0]);
    await Promise.all([own.close(), receiver.close()]);
  });
});
