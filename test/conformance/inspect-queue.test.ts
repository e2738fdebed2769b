/**
 * `inspectQueue` on the brokers (the dashboard's transport pane and queue-depth metric):
 * RabbitMQ by a passive declare (ready messages and consumers; a missing queue is undefined and
 * does not break the transport), NATS from the queue stream's consumer (pending, waiting pulls,
 * ack-pending, redelivered). Needs the brokers (skipped without them, failing with CI=true).
 */
import { randomBytes } from 'node:crypto';
import { createAmqpTransport } from '../../adapters/amqp';
import { createNatsTransport } from '../../adapters/nats';
import type { Delivery, Transport } from '../../src/transport/transport';
import { AMQP_TEST_URL, describeWithBroker } from './amqp-broker';
import { deleteNamespace, describeWithNats, NATS_TEST_URL, testNamespace } from './nats-server';

async function eventually<T>(probe: () => Promise<T>, ok: (v: T) => boolean, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (ok(v) || Date.now() > deadline) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function fill(t: Transport, queue: string, n: number): Promise<void> {
  await t.assertQueue(queue);
  for (let i = 0; i < n; i++) await t.publish(queue, new Uint8Array([i]));
}

describeWithBroker('inspectQueue on RabbitMQ', () => {
  test('ready messages and consumers; a missing queue is undefined and the transport goes on', async () => {
    const t = createAmqpTransport(AMQP_TEST_URL, { connectionName: 'raybus-inspect' });
    await t.connect();
    const queue = `raybus-inspect-${randomBytes(4).toString('hex')}`;
    try {
      expect(await t.inspectQueue!(`${queue}-missing`)).toBeUndefined();
      await fill(t, queue, 3);
      expect(await eventually(() => t.inspectQueue!(queue), (i) => i?.messages === 3)).toEqual({ messages: 3, consumers: 0 });
      const held: Delivery[] = [];
      await t.consume(queue, (d) => held.push(d), { prefetch: 1 });
      const seen = await eventually(() => t.inspectQueue!(queue), (i) => i?.consumers === 1 && i.messages === 2);
      expect(seen).toEqual({ messages: 2, consumers: 1 });
      expect(held).toHaveLength(1);
    } finally {
      await t.deleteQueue(queue).catch(() => undefined);
      await t.close();
    }
  });
});

describeWithNats('inspectQueue on NATS', () => {
  const namespace = testNamespace();
  afterAll(async () => {
    await deleteNamespace(namespace);
  });

  test("a queue's stream: pending, waiting pulls, ack-pending and redelivered; a missing queue is undefined", async () => {
    const t = createNatsTransport(NATS_TEST_URL, { namespace, connectionName: 'raybus-inspect', ackWaitMs: 60_000 });
    await t.connect();
    try {
      expect(await t.inspectQueue!('missing')).toBeUndefined();
      await fill(t, 'work', 3);
      expect(await t.inspectQueue!('work')).toMatchObject({ messages: 3, unacked: 0, redelivered: 0 });
      const held: Delivery[] = [];
      // After the nack, first deliveries are acked at once and the nak'd message is held when
      // it comes back: the server may take the next pull request before the nak and hand out
      // the next message first (its order of the two is not promised), and it counts a message
      // as redelivered from its second delivery until it is acked.
      let nacked = false;
      await t.consume('work', (d) => (nacked && !d.redelivered ? d.ack() : held.push(d)), { prefetch: 1 });
      const busy = await eventually(() => t.inspectQueue!('work'), (i) => i?.unacked === 1);
      expect(busy).toMatchObject({ messages: 2, unacked: 1 });
      nacked = true;
      held[0]!.nack(true);
      await eventually(async () => held.length, (n) => n === 2);
      expect(held.map((d) => [d.body[0], d.redelivered])).toEqual([
        [0, false],
        [0, true],
      ]);
      const again = await eventually(() => t.inspectQueue!('work'), (i) => (i?.redelivered ?? 0) >= 1);
      expect(again).toMatchObject({ unacked: 1, redelivered: 1 });
    } finally {
      await t.close();
    }
  });
});
