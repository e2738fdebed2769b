/**
 * The node side of the worker link: a worker's result for a reply queue that is missing for a
 * moment (its driver not yet back after a bus restart) is sent again, not dropped; other
 * queues and lasting failures are reported to the worker. Simulated time, fake transport.
 */
import { IpcBridge, REPLY_RETRY_MS } from '../../../src/node/ipc-bridge';
import { decodeFrames, encodeFrames, type ChildFrame, type ParentFrame } from '../../../src/transport/ipc-protocol';
import type { FrameLink } from '../../../src/transport/ipc-link';
import type { Transport } from '../../../src/transport/transport';
import { NO_SUCH_QUEUE } from '../../../src/transport/transport';
import { SimulatedClock } from '../../../src/util/simulated-clock';

const settle = () => new Promise((r) => setImmediate(r));

function harness(failures: number) {
  const clock = new SimulatedClock();
  const sent: Array<{ queue: string; at: number }> = [];
  const toWorker: ParentFrame[] = [];
  let fromWorker: (bytes: Uint8Array) => void = () => undefined;
  const link: FrameLink = {
    open: true,
    send: (bytes) => toWorker.push(...(decodeFrames<ParentFrame>(bytes) ?? [])),
    onMessage: (h) => (fromWorker = h),
  };
  let left = failures;
  const transport = {
    publish: (queue: string) => {
      sent.push({ queue, at: clock.now() });
      if (left-- > 0) return Promise.reject(Object.assign(new Error(`no queue named '${queue}'`), { code: NO_SUCH_QUEUE }));
      return Promise.resolve();
    },
  } as unknown as Transport;
  new IpcBridge('test worker', link, transport, { onReady: () => undefined }, clock);
  const publish = (queue: string) => fromWorker(encodeFrames<ChildFrame>([{ op: 'pub', queue, body: new Uint8Array([1]) }]));
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

test('other queues are not retried: the failure goes to the worker at once', async () => {
  const h = harness(1);
  h.publish('raybus.actor.a1');
  await settle();
  await settle();
  expect(h.sent).toHaveLength(1);
  expect(h.toWorker).toEqual([expect.objectContaining({ op: 'puberr', queue: 'raybus.actor.a1' })]);
});
