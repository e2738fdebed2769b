/**
 * Queue cleanup on a bus without queue expiry (NATS JetStream): the broker deletes the queues
 * of the dead it knows about — a dead driver's reply queue, a dead actor's mailbox after its
 * responder period — where RabbitMQ's `x-expires` would have. Borrowers hear that a dead
 * driver's objects are lost on every bus. On the in-memory bus with NATS's capabilities and
 * simulated time.
 */
import { InMemoryBus } from '../../../src/transport/in-memory-transport';
import { DEAD_MAILBOX_RESPONDER_MS } from '../../../src/broker/dead-actor-mailbox';
import { OWNER_DIED_TOPIC, actorQueue } from '../../../src/protocol/queues';
import type { ActorId, WorkerId } from '../../../src/protocol/ids';
import { decodeEnvelope } from '../../../src/serialization/serializer';
import { SimulatedClock } from '../../../src/util/simulated-clock';
import { BrokerHarness, actorSpec } from './broker-harness';

const NO_EXPIRY = { singleActiveConsumer: false, requeueAtHead: false, queueExpiry: false, leases: true };
const cluster = { epoch: 'e1', restoreGraceMs: 0, probeIntervalMs: 1000, failWindowMs: 2000 };

let h: BrokerHarness;
afterEach(async () => {
  await h.stop();
});

async function harness(expiry: boolean): Promise<BrokerHarness> {
  const clock = new SimulatedClock();
  const bus = expiry ? new InMemoryBus() : new InMemoryBus({ capabilities: NO_EXPIRY, clock });
  return BrokerHarness.start({ cluster }, clock, bus);
}

test.each([
  ['without queue expiry: its reply queue is deleted', false],
  ['with queue expiry: its reply queue is left to expire', true],
])('a driver whose connection is gone: borrowers hear its objects are lost; %s', async (_title, expiry) => {
  h = await harness(expiry);
  const d = await h.owner('d1');
  const heard: unknown[] = [];
  await h.client.subscribe(OWNER_DIED_TOPIC, (body) => heard.push(decodeEnvelope(body)));
  const presence = await h.presence('driver-d1');
  await h.send({ t: 'owner-register', owner: d.queue, presence: 'driver-d1' });
  await h.advance(1000);
  expect(h.bus.hasQueue(d.queue)).toBe(true);
  await presence.cancel();
  await h.advance(3000);
  expect(heard).toEqual([{ owner: d.queue }]);
  expect(h.bus.hasQueue(d.queue)).toBe(expiry);
});

test('without queue expiry: a dead actor mailbox is answered for the responder period, then deleted', async () => {
  h = await harness(false);
  const n1 = await h.node('n1', { CPU: 2 });
  await h.presence('node-n1');
  const o = await h.owner('o');
  await h.send({ t: 'create-actor', req: 'c1' as never, spec: actorSpec('a1', { owner: o.queue, detached: true }) });
  await h.send({ t: 'actor-ready', actor: 'a1' as ActorId, worker: 'n1w1' as WorkerId });
  await h.send({ t: 'kill-actor', actor: 'a1' as ActorId, noRestart: true, req: 'k1' as never, reply: o.queue });
  expect(n1.of('kill-worker')).toHaveLength(1);
  await h.call('a1', o.queue, 't1');
  expect(o.inbox.of('result')).toHaveLength(1);
  await h.advance(DEAD_MAILBOX_RESPONDER_MS - 1);
  expect(h.bus.hasQueue(actorQueue('a1' as ActorId))).toBe(true);
  await h.advance(1);
  expect(h.bus.hasQueue(actorQueue('a1' as ActorId))).toBe(false);
});

test('with queue expiry too: a dead actor mailbox is answered, then deleted (a consumed queue never expires)', async () => {
  h = await harness(true);
  const n1 = await h.node('n1', { CPU: 2 });
  await h.presence('node-n1');
  const o = await h.owner('o');
  await h.send({ t: 'create-actor', req: 'c1' as never, spec: actorSpec('a1', { owner: o.queue, detached: true }) });
  await h.send({ t: 'actor-ready', actor: 'a1' as ActorId, worker: 'n1w1' as WorkerId });
  await h.send({ t: 'kill-actor', actor: 'a1' as ActorId, noRestart: true, req: 'k1' as never, reply: o.queue });
  expect(n1.of('kill-worker')).toHaveLength(1);
  await h.call('a1', o.queue, 't1');
  expect(o.inbox.of('result')).toHaveLength(1);
  await h.advance(DEAD_MAILBOX_RESPONDER_MS - 1);
  expect(h.bus.hasQueue(actorQueue('a1' as ActorId))).toBe(true);
  await h.advance(1);
  expect(h.bus.hasQueue(actorQueue('a1' as ActorId))).toBe(false);
});

test('where the bus limits consumers per connection, at most half of them answer dead mailboxes: the oldest is deleted early', async () => {
  const clock = new SimulatedClock();
  // RabbitMQ-like: a consumer per channel, few channels (4 consumers: 2 responders).
  const bus = new InMemoryBus({ capabilities: { singleActiveConsumer: true, requeueAtHead: true, queueExpiry: true, leases: false, maxConsumers: 4 }, clock });
  h = await BrokerHarness.start({ cluster }, clock, bus);
  await h.node('n1', { CPU: 4 });
  await h.presence('node-n1');
  const o = await h.owner('o');
  for (const id of ['a1', 'a2', 'a3']) {
    await h.send({ t: 'create-actor', req: `c-${id}` as never, spec: actorSpec(id, { owner: o.queue, detached: true }) });
    await h.send({ t: 'actor-ready', actor: id as ActorId, worker: 'n1w1' as WorkerId });
    await h.send({ t: 'kill-actor', actor: id as ActorId, noRestart: true, req: `k-${id}` as never, reply: o.queue });
  }
  expect(h.bus.hasQueue(actorQueue('a1' as ActorId))).toBe(false);
  for (const id of ['a2', 'a3']) expect(h.bus.hasQueue(actorQueue(id as ActorId))).toBe(true);
  await h.call('a3', o.queue, 't3');
  expect(o.inbox.of('result')).toEqual([expect.objectContaining({ task: 't3', rets: [{ e: expect.objectContaining({ name: 'ActorDiedError' }) }] })]);
});
