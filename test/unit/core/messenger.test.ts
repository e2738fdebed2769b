/**
 * The messenger (typed sends, request correlation, failures) and the reply router (routing by
 * tag, malformed input dropped and counted, never a crash).
 */
import { Inbox, settle, startCore, submit, type Harness } from './core-harness';
import { ReplyRouter } from '../../../src/core/reply-router';
import { encodeEnvelope } from '../../../src/serialization/serializer';
import { RaySystemError } from '../../../src/errors/ray-errors';
import { BROKER_QUEUE, workerQueue } from '../../../src/protocol/queues';
import type { Delivery } from '../../../src/transport/transport';
import type { AckMsg, ReplyMsg } from '../../../src/protocol/messages/reply';
import type { BrokerMsg } from '../../../src/protocol/messages/broker';
import type { ObjectId, RequestId, WorkerId } from '../../../src/protocol/ids';

function delivery(body: Uint8Array): Delivery & { acked: boolean; deadLettered?: string } {
  const d: Delivery & { acked: boolean; deadLettered?: string } = {
    queue: 'q',
    body,
    headers: {},
    redelivered: false,
    acked: false,
    ack: () => void (d.acked = true),
    nack: (_requeue: boolean, reason?: string) => void (d.deadLettered = reason ?? ''),
  };
  return d;
}

describe('ReplyRouter', () => {
  test('routes by tag, replaces a handler registered again, hands answers to the fallback', () => {
    const got: string[] = [];
    const router = new ReplyRouter('q', (m) => {
      got.push(`fallback:${m.t}`);
      return m.t === 'ack';
    });
    router.register('pg-ready', () => got.push('first'));
    router.register('pg-ready', (m) => got.push(`second:${m.pg}`));
    router.onDelivery(delivery(encodeEnvelope({ t: 'pg-ready', pg: 'p1' })));
    router.onDelivery(delivery(encodeEnvelope({ t: 'ack', req: 'r1' })));
    expect(got).toEqual(['second:p1', 'fallback:ack']);
    expect(router.dropped).toBe(0);
    router.unregister('pg-ready');
    router.onDelivery(delivery(encodeEnvelope({ t: 'pg-ready', pg: 'p2' })));
    expect(router.dropped).toBe(1);
  });

  test('malformed, untagged or unknown messages are dead-lettered with the reason and counted; a throwing handler is contained', () => {
    const warn = jest.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    try {
      const router = new ReplyRouter('q', () => false);
      router.register('borrow', () => {
        throw new Error('handler bug');
      });
      const bad = [
        new Uint8Array([0x92, 0x01]),
        encodeEnvelope('just a string'),
        encodeEnvelope({ t: 5 }),
        encodeEnvelope({ t: 'what' }),
        encodeEnvelope({ t: 'result', task: 't', rets: [null] }),
      ].map(delivery);
      const good = delivery(encodeEnvelope({ t: 'borrow', id: 'x', n: 1 }));
      for (const d of [...bad, good]) expect(() => router.onDelivery(d)).not.toThrow();
      expect(bad.map((d) => d.deadLettered)).toEqual([
        expect.stringMatching(/not a raybus envelope/),
        expect.stringMatching(/not a raybus envelope/),
        expect.stringMatching(/no message tag/),
        expect.stringMatching(/unknown message 'what'/),
        expect.stringMatching(/rets\[0\] must be an object/),
      ]);
      expect(bad.some((d) => d.acked)).toBe(false);
      expect(good.acked).toBe(true);
      expect(router.dropped).toBe(5);
      expect(warn).toHaveBeenCalledWith(expect.stringContaining("failed to handle 'borrow'"));
    } finally {
      warn.mockRestore();
    }
  });
});

describe('Messenger', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startCore();
  });
  afterEach(async () => {
    await h.stop();
  });

  test('a request is answered by the message carrying its id; other ids do not match', async () => {
    const answered = h.core.request<AckMsg>(BROKER_QUEUE, (req, reply) => ({ t: 'remove-pg', pg: 'pg1' as never, req, reply }));
    await settle();
    const sent = h.broker.inbox.of('remove-pg')[0]!;
    expect(sent.reply).toBe(h.core.address);
    h.broker.inbox.sendTo(h.core.address, { t: 'ack', req: 'someone-else' as RequestId } satisfies ReplyMsg);
    h.broker.inbox.sendTo(h.core.address, { t: 'ack', req: sent.req } satisfies ReplyMsg);
    expect(await answered).toEqual({ t: 'ack', req: sent.req });
    expect(h.core.replies.dropped).toBe(1);
  });

  test('a send that fails tells its handler the message it was for', async () => {
    const failed: Array<[string, BrokerMsg]> = [];
    await h.broker.inbox.transport.deleteQueue(BROKER_QUEUE);
    h.core.send(BROKER_QUEUE, { t: 'return-lease', lease: 'l1' as never }, undefined, (err, msg, queue) => failed.push([queue, msg]));
    await settle();
    expect(failed).toEqual([[BROKER_QUEUE, { t: 'return-lease', lease: 'l1' }]]);
  });

  test('a message for a task that cannot be delivered fails that task', async () => {
    const { task, ref } = submit(h.core);
    h.core.send(workerQueue('nobody' as WorkerId), { t: 'task', task: task.taskId } as never, task.taskId);
    await expect(h.core.get(ref)).rejects.toBeInstanceOf(RaySystemError);
    await expect(h.core.get(ref)).rejects.toThrow(`the message for task ${task.taskId} could not be delivered`);
  });

  test('a queue is declared once however often it is ensured', async () => {
    const declare = jest.spyOn(h.core.transport, 'assertQueue');
    await Promise.all([h.core.ensureQueue('raybus.actor.a1'), h.core.ensureQueue('raybus.actor.a1')]);
    expect(declare).toHaveBeenCalledTimes(1);
  });

  test('stopping answers open requests with the reason, refuses new ones, and sends only to the broker', async () => {
    const open = h.core.awaitRequest<AckMsg>('r-open' as RequestId);
    const peer = await Inbox.open(h.bus, 'raybus.reply.peer');
    await h.core.stop('test over');
    const ack = await open;
    expect(ack.err?.message).toBe('test over');
    await expect(h.core.request(BROKER_QUEUE, (req, reply) => ({ t: 'pg-table', req, reply }))).rejects.toThrow('not running');
    h.core.send(peer.queue as never, { t: 'borrow', id: 'x' as ObjectId, n: 1 });
    h.core.sendToBroker({ t: 'cancel-lease-request', req: 'r1' as RequestId });
    await settle();
    expect(peer.received).toEqual([]);
    expect(h.broker.inbox.of('cancel-lease-request')).toHaveLength(1);
    await peer.transport.close();
  });
});
