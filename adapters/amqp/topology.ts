/**
 * The broker objects raybus relies on, and the queues this transport declared (re-declared
 * after every reconnect, because auto-delete and transient queues may be gone by then).
 */
import type { Channel } from 'amqplib';
import type { QueueOptions } from '../../src/transport/transport';
import type { ConnectionManager, Link, LinkParticipant } from './connection-manager';
import { AmqpTransportError, describeCause } from './errors';

/** Topic exchange carrying `broadcast` payloads; the routing key is the topic. */
export const EVENTS_EXCHANGE = 'raybus.events';
/** Fanout exchange every raybus queue dead-letters into. */
export const DEAD_LETTER_EXCHANGE = 'raybus.dlx';
/** Durable queue bound to {@link DEAD_LETTER_EXCHANGE}, holding rejected messages for inspection. */
export const DEAD_LETTER_QUEUE = 'raybus.dead-letters';
/** Oldest dead letters are dropped beyond this many, so the queue cannot grow without bound. */
const DEAD_LETTER_MAX_LENGTH = 100_000;
/** Header holding the reason given to `nack(false, reason)` on a dead-lettered copy. */
export const DEATH_REASON_HEADER = 'x-raybus-death-reason';
/** Header holding the queue a dead-lettered copy was rejected from. */
export const DEATH_QUEUE_HEADER = 'x-raybus-death-queue';

/** The `queue.declare` arguments for a raybus queue. Deterministic, so every process agrees. */
function queueArguments(options: QueueOptions): Record<string, unknown> {
  const args: Record<string, unknown> = { 'x-dead-letter-exchange': DEAD_LETTER_EXCHANGE };
  if (options.singleActiveConsumer) args['x-single-active-consumer'] = true;
  if (options.expiresMs !== undefined) args['x-expires'] = Math.max(1, Math.round(options.expiresMs));
  return args;
}

/** Reject names the broker would refuse, with a clear message instead of a channel error. */
export function checkQueueName(queue: string): void {
  if (typeof queue !== 'string' || queue.length === 0) {
    throw new AmqpTransportError('INVALID_QUEUE', 'raybus amqp: queue name must be a non-empty string');
  }
  if (Buffer.byteLength(queue) > 255) {
    throw new AmqpTransportError('INVALID_QUEUE', `raybus amqp: queue name '${queue.slice(0, 40)}...' is longer than 255 bytes`);
  }
  if (queue.startsWith('amq.')) {
    throw new AmqpTransportError('INVALID_QUEUE', `raybus amqp: queue name '${queue}' uses the broker-reserved prefix 'amq.'`);
  }
}

/** Declares exchanges and queues; keeps one admin channel, replaced whenever an error kills it. */
export class Topology implements LinkParticipant {
  private readonly declared = new Map<string, QueueOptions>();
  private admin: { link: Link; channel: Promise<Channel> } | undefined;

  constructor(private readonly manager: ConnectionManager) {}

  async attach(link: Link): Promise<void> {
    this.admin = undefined;
    const ch = await this.channel(link);
    await ch.assertExchange(DEAD_LETTER_EXCHANGE, 'fanout', { durable: true });
    await ch.assertQueue(DEAD_LETTER_QUEUE, {
      durable: true,
      arguments: { 'x-max-length': DEAD_LETTER_MAX_LENGTH, 'x-overflow': 'drop-head' },
    });
    await ch.bindQueue(DEAD_LETTER_QUEUE, DEAD_LETTER_EXCHANGE, '');
    await ch.assertExchange(EVENTS_EXCHANGE, 'topic', { durable: true });
    for (const [queue, options] of this.declared) {
      try {
        await (await this.channel(link)).assertQueue(queue, declareOptions(options));
      } catch (err) {
        // One clashing queue must not keep the whole transport offline.
        this.manager.options.onWarning(`raybus amqp: could not re-declare queue '${queue}'`, err);
      }
    }
  }

  async assertQueue(queue: string, options: QueueOptions): Promise<void> {
    checkQueueName(queue);
    await this.run(queue, (ch) => ch.assertQueue(queue, declareOptions(options)));
    this.declared.set(queue, { ...options });
  }

  async deleteQueue(queue: string): Promise<void> {
    checkQueueName(queue);
    this.declared.delete(queue);
    await this.run(queue, (ch) => ch.deleteQueue(queue));
  }

  /** Run an idempotent operation; when the connection dies under it, run it again on the next one. */
  private async run(queue: string, op: (ch: Channel) => Promise<unknown>): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      const link = await this.manager.ready();
      try {
        await op(await this.channel(link));
        return;
      } catch (err) {
        if ((err as { code?: unknown }).code === 406) {
          throw new AmqpTransportError('INVALID_QUEUE', `raybus amqp: queue '${queue}' exists with different options: ${describeCause(err)}`, {
            cause: err,
          });
        }
        if (this.manager.isCurrent(link) || this.manager.isClosing || attempt >= 3) throw err;
      }
    }
  }

  /** The admin channel of `link`, opened on first use and after an error closed it. */
  private channel(link: Link): Promise<Channel> {
    if (this.admin && this.admin.link === link) return this.admin.channel;
    const entry = {
      link,
      channel: link.model.createChannel().then((ch) => {
        // A failed declare closes the channel (AMQP channel error): open a new one next time.
        ch.on('error', () => undefined);
        ch.on('close', () => {
          if (this.admin === entry) this.admin = undefined;
        });
        return ch;
      }),
    };
    entry.channel.catch(() => {
      if (this.admin === entry) this.admin = undefined;
    });
    this.admin = entry;
    return entry.channel;
  }
}

function declareOptions(options: QueueOptions): { durable: boolean; autoDelete: boolean; arguments: Record<string, unknown> } {
  return { durable: options.durable ?? false, autoDelete: options.autoDelete ?? false, arguments: queueArguments(options) };
}
