/**
 * What RabbitMQ keeps on disk: every message is persistent (delivery mode 2, so a broker
 * restart loses no task, call or result), except those published `transient` (blob chunks,
 * whose puller asks again for what does not arrive), which the broker keeps in memory only
 * (delivery mode 1). Read back with plain amqplib, as the broker stored them.
 */
import { connect, type GetMessage } from 'amqplib';
import { randomBytes } from 'node:crypto';
import { createAmqpTransport } from '../../adapters/amqp';
import type { Transport } from '../../src/transport/transport';
import { AMQP_TEST_URL, describeWithBroker } from './amqp-broker';

describeWithBroker('AMQP delivery mode', () => {
  const queue = `raybus-delivery-mode-${randomBytes(4).toString('hex')}`;
  let t: Transport;

  beforeAll(async () => {
    t = createAmqpTransport(AMQP_TEST_URL, { connectionName: 'raybus-delivery-mode' });
    await t.connect();
    await t.assertQueue(queue, { durable: true });
  });

  afterAll(async () => {
    await t.deleteQueue(queue);
    await t.close();
  });

  /** The messages in `queue`, taken off it in order. */
  async function takeAll(n: number): Promise<GetMessage[]> {
    const conn = await connect(AMQP_TEST_URL, { noDelay: true });
    try {
      const ch = await conn.createChannel();
      const out: GetMessage[] = [];
      for (let i = 0; i < n; i++) {
        const m = await ch.get(queue, { noAck: true });
        if (m === false) break;
        out.push(m);
      }
      return out;
    } finally {
      await conn.close();
    }
  }

  test('messages are persistent unless published transient; transient ones are never batched', async () => {
    const text = (s: string) => new TextEncoder().encode(s);
    await t.publish(queue, text('plain'));
    await t.publish(queue, text('chunk'), { transient: true });
    // A transient message asked to batch still goes alone, not persistent (a batch is one
    // broker message: one delivery mode for all of it).
    await Promise.all([t.publish(queue, text('batched'), { batch: true }), t.publish(queue, text('chunk2'), { batch: true, transient: true })]);
    const got = await takeAll(5);
    const seen = got.map((m) => [m.content.toString(), m.properties.deliveryMode]);
    expect(seen).toEqual([
      ['plain', 2],
      ['chunk', 1],
      ['batched', 2],
      ['chunk2', 1],
    ]);
  });
});
