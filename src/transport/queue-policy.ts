/**
 * How raybus declares its queues on a broker, decided by the queue's name alone so that every
 * process declaring a queue agrees with the others (a broker refuses a second declaration
 * with different options).
 *
 * Work queues (broker, nodes, workers, actor mailboxes, reply queues) are durable and their
 * messages persistent, so a broker restart loses no task, call or result; queues of processes
 * that died expire once unused. Presence queues vanish with their process's connection.
 */
import type { QueueOptions } from './transport';
import { BROKER_ELECTION_QUEUE, BROKER_QUEUE } from '../protocol/queues';

/** Unused work queues (their process died) are deleted after this long. */
export const WORK_QUEUE_EXPIRY_MS = 6 * 60 * 60 * 1000;

const WORK_QUEUE = /^raybus\.(reply|worker|actor|node)\./;

/** The options `queue` is declared with on a broker (`requested` is what the caller asked for). */
export function brokerQueueOptions(queue: string, requested: QueueOptions = {}): QueueOptions {
  if (queue === BROKER_QUEUE) return { durable: true, singleActiveConsumer: true };
  if (queue === BROKER_ELECTION_QUEUE) return { singleActiveConsumer: true };
  if (queue.startsWith('raybus.presence.')) return { autoDelete: true };
  if (WORK_QUEUE.test(queue)) return { durable: true, expiresMs: WORK_QUEUE_EXPIRY_MS };
  return requested;
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
