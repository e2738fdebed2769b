/**
 * `Transport.inspectQueue` on the in-memory bus (ready, consumers, unacknowledged, redelivered),
 * through the cluster's naming (its prefix) and an AuthTransport; and the bus counters the
 * metrics read (transport-counters.ts).
 */
import { InMemoryBus } from '../../../src/transport/in-memory-transport';
import { ClusterTransport } from '../../../src/transport/cluster-transport';
import { createAuthTransport } from '../../../src/transport/auth-transport';
import { parseClusterAddress } from '../../../src/transport/cluster-address';
import { transportCounters } from '../../../src/transport/transport-counters';
import type { Delivery } from '../../../src/transport/transport';

const settle = async (): Promise<void> => {
  for (let i = 0; i < 5; i++) await new Promise<void>((r) => setImmediate(r));
};

test('the in-memory bus tells ready, consumers, unacknowledged and redelivered messages; undefined for no queue', async () => {
  const bus = new InMemoryBus();
  const t = bus.connect();
  await t.connect();
  expect(await t.inspectQueue('q')).toBeUndefined();
  await t.assertQueue('q');
  for (let i = 0; i < 5; i++) await t.publish('q', new Uint8Array([i]));
  expect(await t.inspectQueue('q')).toEqual({ messages: 5, consumers: 0, unacked: 0, redelivered: 0 });
  const held: Delivery[] = [];
  const sub = await t.consume('q', (d) => held.push(d), { prefetch: 2 });
  await settle();
  expect(await t.inspectQueue('q')).toEqual({ messages: 3, consumers: 1, unacked: 2, redelivered: 0 });
  held[0]!.nack(true);
  await settle();
  expect((await t.inspectQueue('q'))!.redelivered).toBe(1);
  // A consumer that goes away leaves its unacknowledged messages to be redelivered.
  await sub.cancel();
  expect(await t.inspectQueue('q')).toEqual({ messages: 5, consumers: 0, unacked: 0, redelivered: 3 });
});

test("through the cluster's naming and an AuthTransport, the queue is the prefixed one", async () => {
  const bus = new InMemoryBus();
  const raw = bus.connect();
  const t = new ClusterTransport(createAuthTransport(raw, { key: 'k' }), parseClusterAddress('amqp://h/?cluster=c1'));
  await t.connect();
  await t.assertQueue('raybus.broker');
  await t.publish('raybus.broker', new Uint8Array(3));
  expect(bus.hasQueue('c1:raybus.broker')).toBe(true);
  expect(await t.inspectQueue!('raybus.broker')).toMatchObject({ messages: 1, consumers: 0 });
  // An adapter that cannot tell: the wrappers cannot either.
  const blind = { ...raw, inspectQueue: undefined, connect: () => raw.connect() } as unknown as typeof raw;
  expect(new ClusterTransport(blind, parseClusterAddress('amqp://h/')).inspectQueue).toBeUndefined();
});

test('the cluster transport counts messages and bytes it sends and delivers', async () => {
  const bus = new InMemoryBus();
  const t = new ClusterTransport(bus.connect(), parseClusterAddress('amqp://h/?cluster=c2'));
  await t.connect();
  await t.assertQueue('q');
  await t.subscribe('topic', () => undefined);
  await t.consume('q', (d) => d.ack(), { prefetch: 0 });
  const before = { ...transportCounters };
  await t.publish('q', new Uint8Array(10));
  await t.broadcast('topic', new Uint8Array(4));
  await settle();
  // Each counted once by the cluster transport and once by the bus beneath it.
  expect(transportCounters.sent - before.sent).toBe(4);
  expect(transportCounters.sentBytes - before.sentBytes).toBe(28);
  expect(transportCounters.received - before.received).toBe(4);
  expect(transportCounters.receivedBytes - before.receivedBytes).toBe(28);
});
