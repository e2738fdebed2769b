/**
 * How raybus declares its queues (queue-policy.ts): the same options from every process, no
 * single active consumer asked of a bus without one, and nothing a current RabbitMQ (4.x)
 * refuses by default — no transient queue that is not exclusive (the deprecated
 * `transient_nonexcl_queues` feature).
 */
import { brokerQueueDeclaration, brokerQueueOptions, PRESENCE_QUEUE_EXPIRY_MS, WORK_QUEUE_EXPIRY_MS } from '../../../src/transport/queue-policy';
import { BROKER_ELECTION_QUEUE, BROKER_QUEUE, actorQueue, nodePresenceId, nodeQueue, presenceQueue, replyQueue, workerQueue } from '../../../src/protocol/queues';
import { FULL_CAPABILITIES } from '../../../src/transport/transport';
import { InMemoryBus } from '../../../src/transport/in-memory-transport';
import type { ActorId, NodeId, ProcId, WorkerId } from '../../../src/protocol/ids';

const NATS = { ...FULL_CAPABILITIES, singleActiveConsumer: false, requeueAtHead: false, queueExpiry: false, leases: true };
const QUEUES = [
  BROKER_QUEUE,
  BROKER_ELECTION_QUEUE,
  nodeQueue('n1' as NodeId),
  workerQueue('w1' as WorkerId),
  actorQueue('a1' as ActorId),
  replyQueue('driver-1' as ProcId),
  presenceQueue(nodePresenceId('n1' as NodeId)),
];

test.each([
  ['RabbitMQ / in-memory', FULL_CAPABILITIES],
  ['NATS', NATS],
])('%s: every raybus queue is durable', (_bus, caps) => {
  for (const q of QUEUES) expect({ q, durable: brokerQueueOptions(q, {}, caps).durable }).toEqual({ q, durable: true });
});

test('a single active consumer is asked only of a bus that has one', () => {
  expect(brokerQueueOptions(BROKER_QUEUE, { singleActiveConsumer: true }, FULL_CAPABILITIES)).toEqual({ durable: true, singleActiveConsumer: true });
  expect(brokerQueueOptions(BROKER_QUEUE, { singleActiveConsumer: true }, NATS)).toEqual({ durable: true });
  expect(brokerQueueOptions(BROKER_ELECTION_QUEUE, {}, FULL_CAPABILITIES)).toEqual({ durable: true, singleActiveConsumer: true, expiresMs: WORK_QUEUE_EXPIRY_MS });
  // Not raybus's queue: as asked, so that the bus refuses what it cannot do rather than fake it.
  expect(brokerQueueOptions('other', { singleActiveConsumer: true, durable: true }, NATS)).toEqual({ singleActiveConsumer: true, durable: true });
  expect(brokerQueueDeclaration(new InMemoryBus({ capabilities: NATS }).connect())).toEqual({ durable: true });
  expect(brokerQueueDeclaration(new InMemoryBus().connect())).toEqual({ durable: true, singleActiveConsumer: true });
});

test('presence queues vanish with their connection; work queues expire once unused', () => {
  expect(brokerQueueOptions(presenceQueue('driver-1'), {}, FULL_CAPABILITIES)).toEqual({ durable: true, autoDelete: true, expiresMs: PRESENCE_QUEUE_EXPIRY_MS });
  expect(brokerQueueOptions(workerQueue('w1' as WorkerId), { autoDelete: true })).toEqual({ durable: true, expiresMs: WORK_QUEUE_EXPIRY_MS });
});
