/**
 * The seal covers the whole message: a task message captured off the bus cannot be re-sent
 * with other arguments (or its code detached from the task it came with), nor replayed, nor
 * redirected to another worker's queue — in the clear or encrypted. And a worker of a node
 * that authenticates its bus takes only deliveries the node opened (IpcTransport's
 * `requireHeader`), dead-lettering the rest with the reason.
 */
import { InMemoryBus } from '../../../src/transport/in-memory-transport';
import { createAuthTransport } from '../../../src/transport/auth-transport';
import { IpcTransport } from '../../../src/transport/ipc-transport';
import { decodeFrames, encodeFrames, type ChildFrame, type ParentFrame } from '../../../src/transport/ipc-protocol';
import type { FrameLink } from '../../../src/transport/ipc-link';
import { encodeMessage, decodeMessage } from '../../../src/serialization/message-codec';
import { encodeValue } from '../../../src/serialization/serializer';
import { SimulatedClock } from '../../../src/util/simulated-clock';
import { AUTHENTICATED_HEADER, type Delivery, type Transport } from '../../../src/transport/transport';
import type { TaskMsg } from '../../../src/protocol/messages/worker';
import type { JobId, LeaseId, ReplyQueue, TaskId } from '../../../src/protocol/ids';
import { expectWarnings } from '../../support/expected-warnings';

const KEY = 'c'.repeat(64);
const QUEUE = 'raybus.worker.w1';

const task = (args: unknown[]): TaskMsg => ({
  t: 'task',
  task: 't1' as TaskId,
  fn: { id: 'f1', name: 'transfer', kind: 'function', source: '(to, amount) => `${amount} to ${to}`' },
  args: args.map((a) => ({ d: encodeValue(a) })),
  nret: 1,
  owner: 'raybus.reply.driver-1' as ReplyQueue,
  ctx: { jobId: 'j' as JobId, namespace: 'ns', attempt: 0 },
  lease: 'l1@n1' as LeaseId,
});

describe.each([false, true])('a sealed task message (encrypt: %s)', (encrypt) => {
  async function setup() {
    const bus = new InMemoryBus();
    const clock = new SimulatedClock(1_000_000);
    const rejects: string[] = [];
    const worker = createAuthTransport(bus.connect(), { key: KEY, encrypt, clock, onReject: (r) => rejects.push(r) });
    const raw = bus.connect();
    await Promise.all([worker.connect(), raw.connect()]);
    const got: TaskMsg[] = [];
    for (const q of [QUEUE, 'raybus.worker.w2']) {
      await raw.assertQueue(q);
      await worker.consume(q, (d) => (d.ack(), got.push(decodeMessage('worker', d.body) as TaskMsg)), { prefetch: 0 });
    }
    // The owner's side: what it puts on the bus is captured, as an eavesdropper with broker credentials would.
    let captured: Uint8Array | undefined;
    const tap = { kind: 'tap', publish: async (_q: string, b: Uint8Array) => void (captured = b) } as unknown as Transport;
    const owner = createAuthTransport(tap, { key: KEY, encrypt, clock });
    await owner.publish(QUEUE, encodeMessage('worker', task(['alice', 10])));
    return { raw, got, rejects, sealed: Buffer.from(captured!) };
  }

  test('delivered once as sealed', async () => {
    const { raw, got, rejects, sealed } = await setup();
    await raw.publish(QUEUE, sealed);
    expect(got.map((m) => m.args.length)).toEqual([2]);
    expect(rejects).toEqual([]);
  });

  test('the same message with other arguments is refused', async () => {
    const { raw, got, rejects, sealed } = await setup();
    const original = Buffer.from(encodeMessage('worker', task(['alice', 10])));
    const forged = Buffer.from(encodeMessage('worker', task(['mallory', 10_000])));
    const body = Buffer.from(sealed);
    // Encrypted: flip the ciphertext's bits into the new plaintext (XOR of the two, as a
    // stream cipher allows). In the clear: the new plaintext under the old header and MAC.
    if (encrypt) for (let i = 0; i < Math.min(original.length, forged.length); i++) body[28 + 12 + i]! ^= original[i]! ^ forged[i]!;
    const spliced = encrypt ? body : Buffer.concat([sealed.subarray(0, 28), forged, sealed.subarray(sealed.length - 32)]);
    await raw.publish(QUEUE, spliced);
    expect(got).toEqual([]);
    expect(rejects).toEqual([expect.stringMatching(/bad seal/)]);
  });

  test('a replay, and the message sent to another worker, are refused', async () => {
    const { raw, got, rejects, sealed } = await setup();
    await raw.publish(QUEUE, sealed);
    await raw.publish(QUEUE, sealed);
    await raw.publish('raybus.worker.w2', sealed);
    expect(got).toHaveLength(1);
    expect(rejects).toEqual([expect.stringMatching(/seen before \(a replay\)/), expect.stringMatching(/bad seal/)]);
  });
});

describe('a worker that requires authenticated deliveries', () => {
  /** A link whose frames the test reads and writes. */
  function fakeLink(): { link: FrameLink; sent: ChildFrame[]; deliver(f: ParentFrame): void } {
    let handler: (b: Uint8Array) => void = () => undefined;
    const sent: ChildFrame[] = [];
    const link: FrameLink = {
      open: true,
      send: (parts, written) => {
        sent.push(...(decodeFrames<ChildFrame>(Buffer.concat(parts)) ?? []));
        written?.();
      },
      onMessage: (h) => (handler = h),
      onClose: () => undefined,
    };
    return { link, sent, deliver: (f) => handler(Buffer.concat(encodeFrames([f]))) };
  }

  test('takes what the node opened, and dead-letters the rest unseen with the reason', async () => {
    const warned = expectWarnings(/raybus worker: refused an unauthenticated message/);
    const { link, sent, deliver } = fakeLink();
    const t = new IpcTransport(link, { requireHeader: AUTHENTICATED_HEADER });
    const got: Delivery[] = [];
    const consuming = t.consume(QUEUE, (d) => got.push(d), { prefetch: 1 });
    await new Promise((r) => setImmediate(r));
    const consume = sent.find((f) => f.op === 'consume') as Extract<ChildFrame, { op: 'consume' }>;
    deliver({ op: 'ok', id: consume.id, tag: 7 });
    await consuming;
    deliver({ op: 'deliver', ctag: 7, dtag: 1, body: new Uint8Array([1]), headers: { [AUTHENTICATED_HEADER]: 'abc' } });
    deliver({ op: 'deliver', ctag: 7, dtag: 2, body: new Uint8Array([2]) });
    await new Promise((r) => setImmediate(r));
    expect(got.map((d) => d.body[0])).toEqual([1]);
    // The frame does not repeat the queue: the consumer's tag says it.
    expect(got[0]!.queue).toBe(QUEUE);
    expect(got[0]!.redelivered).toBe(false);
    expect(sent.filter((f) => f.op === 'nack')).toEqual([{ op: 'nack', ctag: 7, dtag: 2, requeue: false, reason: 'unauthenticated: not opened with the cluster key' }]);
    expect(warned.messages()).toHaveLength(1);
  });
});
