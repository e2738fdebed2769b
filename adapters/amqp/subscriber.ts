/**
 * Topic subscriptions: each subscriber gets an exclusive, auto-delete, server-named queue bound
 * to the `raybus.events` topic exchange with its topic as the binding key, consumed without
 * acks. All subscriptions of a transport share one channel. Exclusive queues die with their
 * connection, so after a reconnect each subscription gets a new queue (broadcasts sent while
 * disconnected are lost, as the port allows).
 */
import type { Channel } from 'amqplib';
import type { Subscription } from '../../src/transport/transport';
import type { ConnectionManager, Link, LinkParticipant } from './connection-manager';
import { AmqpTransportError, describeCause } from './errors';
import { EVENTS_EXCHANGE } from './topology';

interface TopicSubscription {
  readonly topic: string;
  readonly handler: (body: Uint8Array) => void;
  cancelled: boolean;
  bound: { channel: Channel; queue: string; consumerTag: string } | undefined;
}

/** Reject topics that are not valid, exact-match routing keys. */
export function checkTopic(topic: string): void {
  if (typeof topic !== 'string' || topic.length === 0) {
    throw new AmqpTransportError('INVALID_QUEUE', 'raybus amqp: topic must be a non-empty string');
  }
  if (Buffer.byteLength(topic) > 255) {
    throw new AmqpTransportError('INVALID_QUEUE', `raybus amqp: topic '${topic.slice(0, 40)}...' is longer than 255 bytes`);
  }
  // In a topic exchange binding, a '*' or '#' word is a wildcard; raybus topics match exactly.
  if (topic.split('.').some((word) => word === '*' || word === '#')) {
    throw new AmqpTransportError('INVALID_QUEUE', `raybus amqp: topic '${topic}' contains a '*' or '#' word (reserved wildcards)`);
  }
}

/** The topic subscriptions of one transport. */
export class Subscriber implements LinkParticipant {
  private readonly subscriptions = new Set<TopicSubscription>();
  private current: { link: Link; channel: Promise<Channel> } | undefined;

  constructor(private readonly manager: ConnectionManager) {}

  async attach(link: Link): Promise<void> {
    this.current = undefined;
    const ch = await this.channel(link);
    for (const sub of [...this.subscriptions]) await this.bind(ch, sub);
  }

  async subscribe(topic: string, handler: (body: Uint8Array) => void): Promise<Subscription> {
    checkTopic(topic);
    const link = await this.manager.ready();
    const sub: TopicSubscription = { topic, handler, cancelled: false, bound: undefined };
    this.subscriptions.add(sub);
    try {
      await this.bind(await this.channel(link), sub);
    } catch (err) {
      if (this.manager.isCurrent(link) || this.manager.isClosing) {
        this.subscriptions.delete(sub);
        throw err;
      }
      await this.manager.ready();
    }
    return { cancel: () => this.cancel(sub) };
  }

  /** Stop calling handlers (the transport is closing; the queues die with the connection). */
  stopAll(): void {
    for (const sub of this.subscriptions) sub.cancelled = true;
    this.subscriptions.clear();
  }

  private async cancel(sub: TopicSubscription): Promise<void> {
    if (sub.cancelled) return;
    sub.cancelled = true;
    this.subscriptions.delete(sub);
    const bound = sub.bound;
    sub.bound = undefined;
    if (!bound) return;
    await bound.channel.cancel(bound.consumerTag).catch(() => undefined);
    // Auto-delete already removes the queue after the cancel; deleting is for older brokers.
    await bound.channel.deleteQueue(bound.queue).catch(() => undefined);
  }

  private async bind(ch: Channel, sub: TopicSubscription): Promise<void> {
    if (sub.cancelled) return;
    const { queue } = await ch.assertQueue('', { exclusive: true, autoDelete: true, durable: false });
    await ch.bindQueue(queue, EVENTS_EXCHANGE, sub.topic);
    const { consumerTag } = await ch.consume(
      queue,
      (msg) => {
        if (!msg || sub.cancelled) return;
        try {
          sub.handler(msg.content);
        } catch (err) {
          this.manager.options.onWarning(`raybus amqp: subscriber of '${sub.topic}' threw: ${describeCause(err)}`);
        }
      },
      { noAck: true },
    );
    sub.bound = { channel: ch, queue, consumerTag };
    if (sub.cancelled) {
      // cancel() ran while binding and found nothing bound yet.
      sub.bound = undefined;
      await ch.cancel(consumerTag).catch(() => undefined);
    }
  }

  private channel(link: Link): Promise<Channel> {
    if (this.current && this.current.link === link) return this.current.channel;
    const entry = {
      link,
      channel: link.model.createChannel().then((ch) => {
        ch.on('error', () => undefined);
        ch.on('close', () => this.onChannelClosed(entry, link));
        return ch;
      }),
    };
    entry.channel.catch(() => {
      if (this.current === entry) this.current = undefined;
    });
    this.current = entry;
    return entry.channel;
  }

  private onChannelClosed(entry: { link: Link; channel: Promise<Channel> }, link: Link): void {
    if (this.current !== entry) return;
    this.current = undefined;
    for (const sub of this.subscriptions) sub.bound = undefined;
    if (this.manager.isClosing) return;
    // As for consumers: only a channel-level failure on a live connection is repaired here.
    queueMicrotask(() => {
      if (this.manager.isCurrent(link) && !this.current) this.attach(link).catch((err) => this.manager.fail(link, err));
    });
  }
}
