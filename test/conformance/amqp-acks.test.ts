/**
 * Acks on RabbitMQ leave at the end of the event-loop turn, in one write with the turn's
 * publishes (adapters/amqp/connection-manager.ts, TurnEnd). An ack made just before the
 * consumer is cancelled or the transport closed must still reach the broker: else the
 * message would be requeued and run again.
 */
import { connect } from 'amqplib';
import { randomBytes } from 'node:crypto';
import { createAmqpTransport } from '../../adapters/amqp';
import type { Delivery, Transport } from '../../src/transport/transport';
import { AMQP_TEST_URL, describeWithBroker } from './amqp-broker';

/** Messages in `queue`, ready or unacknowledged, as the broker counts them once no consumer holds any. */
async function messagesIn(queue: string): Promise<number> {
  const conn = await connect(AMQP_TEST_URL, { noDelay: true });
  try {
    const ch = await conn.createChannel();
    return (await ch.checkQueue(queue)).messageCount;
  } finally {
    await conn.close();
  }
}

function nextDelivery(t: Transport, queue: string, onDelivery: (d: Delivery) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    t.consume(queue, (d) => {
      onDelivery(d);
      resolve();
    }, { prefetch: 1 }).catch(reject);
  });
}

describeWithBroker('AMQP acks at the turn end', () => {
  const queue = `raybus-acks-${randomBytes(4).toString('hex')}`;
  let admin: Transport;

  beforeAll(async () => {
    admin = createAmqpTransport(AMQP_TEST_URL, { connectionName: 'raybus-acks-admin' });
    await admin.connect();
    await admin.assertQueue(queue);
  });

  afterAll(async () => {
    await admin.deleteQueue(queue);
    await admin.close();
  });

  test('an ack made in the same turn as close() reaches the broker', async () => {
    await admin.publish(queue, new TextEncoder().encode('one'));
    const t = createAmqpTransport(AMQP_TEST_URL, { connectionName: 'raybus-acks-close' });
    await t.connect();
    let closed: Promise<void> | undefined;
    await nextDelivery(t, queue, (d) => {
      d.ack();
      closed = t.close();
    });
    await closed;
    // Had the ack been lost with the connection, the broker would have requeued the message.
    expect(await messagesIn(queue)).toBe(0);
  });

  test('an ack made in the same turn as cancel() reaches the broker', async () => {
    const t = createAmqpTransport(AMQP_TEST_URL, { connectionName: 'raybus-acks-cancel' });
    await t.connect();
    try {
      let cancelled: Promise<void> | undefined;
      let delivered!: (d: Delivery) => void;
      const got = new Promise<Delivery>((resolve) => (delivered = resolve));
      const sub = await t.consume(queue, (d) => {
        d.ack();
        cancelled = sub.cancel();
        delivered(d);
      }, { prefetch: 1 });
      // Published once the consumer is in place, so `sub` is set when the message arrives.
      await admin.publish(queue, new TextEncoder().encode('two'));
      expect(new TextDecoder().decode((await got).body)).toBe('two');
      await cancelled;
      expect(await messagesIn(queue)).toBe(0);
    } finally {
      await t.close();
    }
  });
});
