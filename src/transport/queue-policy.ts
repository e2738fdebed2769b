/**
 * How raybus declares its queues on a broker, decided by the queue's name (and what the bus
 * can do) alone, so that every process declaring a queue agrees with the others (a broker
 * refuses a second declaration with different options).
 *
 * Work queues (broker, nodes, workers, actor mailboxes, reply queues) are durable and their
 * messages persistent, so a broker restart loses no task, call or result; queues of processes
 * that died expire once unused (where the bus has queue expiry; elsewhere raybus deletes
 * them, docs/ARCHITECTURE.md "Transports"). Presence queues vanish with the connection that
 * consumes them (auto-delete); they are durable, with a short expiry for those a broker restart
 * left without a consumer, because a current RabbitMQ (4.x) refuses transient queues that are
 * not exclusive, and an exclusive one could not be declared again by a client that reconnects
 * before the broker noticed its old connection is gone.
 */
import { FULL_CAPABILITIES, capabilitiesOf, type QueueOptions, type Transport, type TransportCapabilities } from './transport';
import { BROKER_ELECTION_QUEUE, BROKER_QUEUE } from '../protocol/queues';

/** Unused work queues (their process died) are deleted after this long. */
export const WORK_QUEUE_EXPIRY_MS = 6 * 60 * 60 * 1000;
/** A presence queue nobody consumes (its process died during a broker restart) goes after this long. */
export const PRESENCE_QUEUE_EXPIRY_MS = 10_000;

const WORK_QUEUE = /^raybus\.(reply|worker|actor|node)\./;

/**
 * The options `queue` is declared with on a broker (`requested` is what the caller asked for;
 * `capabilities` what the bus can do: no single active consumer is asked of a bus without).
 */
export function brokerQueueOptions(queue: string, requested: QueueOptions = {}, capabilities: TransportCapabilities = FULL_CAPABILITIES): QueueOptions {
  const sac = capabilities.singleActiveConsumer;
  if (queue === BROKER_QUEUE) return sac ? { durable: true, singleActiveConsumer: true } : { durable: true };
  // Tokens of candidates (broker-election.ts); durable so that RabbitMQ 4 accepts it.
  if (queue === BROKER_ELECTION_QUEUE) return sac ? { durable: true, singleActiveConsumer: true, expiresMs: WORK_QUEUE_EXPIRY_MS } : { durable: true };
  if (queue.startsWith('raybus.presence.')) return { durable: true, autoDelete: true, expiresMs: PRESENCE_QUEUE_EXPIRY_MS };
  if (WORK_QUEUE.test(queue)) return { durable: true, expiresMs: WORK_QUEUE_EXPIRY_MS };
  // Not one of raybus's: as asked (a bus without single active consumers refuses, never fakes, one).
  return requested;
}

/** How the broker's queue is declared on `t` (a single active consumer where the bus has it). */
export function brokerQueueDeclaration(t: Transport): QueueOptions {
  return capabilitiesOf(t).singleActiveConsumer ? { durable: true, singleActiveConsumer: true } : { durable: true };
}

const BATCHED_QUEUE = /^raybus\.(reply|worker)\./;

/**
 * May messages to `queue` travel batched (PublishOptions.batch)? Worker queues (a dead
 * worker's tasks are resubmitted by their owners, not redelivered) and reply queues (an owner
 * ignores a result it already has) tolerate a batch's redelivery; mailboxes and the broker's
 * queue do not.
 */
export function batchableQueue(queue: string): boolean {
  return BATCHED_QUEUE.test(queue);
}
