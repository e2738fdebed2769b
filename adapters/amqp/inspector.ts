/**
 * `inspectQueue` on RabbitMQ: a passive declare (`checkQueue`) on a channel of its own, since a
 * missing queue closes the channel it was asked on (404) and must not take the declaring
 * channel down with it. AMQP 0-9-1 tells ready messages and consumers, not unacknowledged ones
 * (those need the management plugin).
 */
import type { Channel } from 'amqplib';
import type { QueueInspection } from '../../src/transport/transport';
import type { ConnectionManager, Link } from './connection-manager';
import { checkQueueName } from './topology';

/** Asks the broker how full queues are. */
export class QueueInspector {
  private current: { link: Link; channel: Promise<Channel> } | undefined;

  constructor(private readonly manager: ConnectionManager) {}

  async inspect(queue: string): Promise<QueueInspection | undefined> {
    checkQueueName(queue);
    const link = await this.manager.ready();
    const ch = await this.channel(link);
    try {
      const ok = await ch.checkQueue(queue);
      return { messages: ok.messageCount, consumers: ok.consumerCount };
    } catch (err) {
      if ((err as { code?: unknown }).code === 404) return undefined;
      throw err;
    }
  }

  private channel(link: Link): Promise<Channel> {
    if (this.current && this.current.link === link) return this.current.channel;
    const entry = {
      link,
      channel: link.model.createChannel().then((ch) => {
        ch.on('error', () => undefined);
        ch.on('close', () => {
          if (this.current === entry) this.current = undefined;
        });
        return ch;
      }),
    };
    entry.channel.catch(() => {
      if (this.current === entry) this.current = undefined;
    });
    this.current = entry;
    return entry.channel;
  }
}
