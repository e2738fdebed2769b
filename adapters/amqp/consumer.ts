/**
 * Queue consumers: one channel per consumer, so each has its own prefetch and cancelling one
 * (closing its channel) makes the broker requeue exactly its unacknowledged deliveries.
 * Every delivery remembers the channel and generation it came from; settling it after that
 * channel died is a no-op, so a stale delivery tag is never sent on a newer channel.
 */
import type { Channel, ConsumeMessage } from 'amqplib';
import type { Delivery, MessageHeaders, Subscription } from '../../src/transport/transport';
import type { ConnectionManager, Link, LinkParticipant } from './connection-manager';
import { AmqpTransportError, closeQuietly, describeCause, isIllegalOperation } from './errors';
import { DEAD_LETTER_EXCHANGE, DEATH_QUEUE_HEADER, DEATH_REASON_HEADER } from './topology';
import { BATCH_HEADER } from './publisher';
import { decodeBatch, deliverBatch } from '../batch-body';

const MAX_REASON_LENGTH = 1024;

/** The consumers of one transport, re-created in registration order after a reconnect. */
export class ConsumerSet implements LinkParticipant {
  private readonly consumers = new Set<QueueConsumer>();

  constructor(private readonly manager: ConnectionManager) {}

  async attach(link: Link): Promise<void> {
    for (const consumer of [...this.consumers]) await consumer.attachOrDrop(link);
  }

  async consume(queue: string, handler: (delivery: Delivery) => void, prefetch: number): Promise<Subscription> {
    const link = await this.manager.ready();
    const consumer = new QueueConsumer(queue, handler, prefetch, this.manager, (c) => this.consumers.delete(c));
    this.consumers.add(consumer);
    try {
      await consumer.attach(link);
    } catch (err) {
      if (this.manager.isCurrent(link) || this.manager.isClosing) {
        consumer.stop();
        throw consumeError(queue, err);
      }
      // The connection died under us; the reconnect attaches this consumer with the others.
      await this.manager.ready();
    }
    return { cancel: () => consumer.cancel() };
  }

  /** Stop handing out deliveries (the transport is closing; the broker requeues them). */
  stopAll(): void {
    for (const consumer of this.consumers) consumer.stop();
    this.consumers.clear();
  }
}

class QueueConsumer {
  private channel: Channel | undefined;
  private generation = 0;
  private cancelled = false;
  private attaching: Promise<void> | undefined;
  private cancelling: Promise<void> | undefined;

  constructor(
    readonly queue: string,
    private readonly handler: (delivery: Delivery) => void,
    private readonly prefetch: number,
    private readonly manager: ConnectionManager,
    private readonly onGone: (consumer: QueueConsumer) => void,
  ) {}

  attach(link: Link): Promise<void> {
    const attaching = this.open(link).finally(() => {
      if (this.attaching === attaching) this.attaching = undefined;
    });
    this.attaching = attaching;
    return attaching;
  }

  /** Re-attach after a reconnect; a queue that no longer exists ends this consumer with a warning. */
  async attachOrDrop(link: Link): Promise<void> {
    try {
      await this.attach(link);
    } catch (err) {
      if ((err as { code?: unknown }).code !== 404) throw err;
      this.manager.options.onWarning(`raybus amqp: queue '${this.queue}' no longer exists; its consumer stopped`, err);
      this.stop();
    }
  }

  stop(): void {
    this.cancelled = true;
    this.onGone(this);
  }

  cancel(): Promise<void> {
    if (!this.cancelling) this.cancelling = this.doCancel();
    return this.cancelling;
  }

  private async doCancel(): Promise<void> {
    // Acks deferred to this turn's end go out on the channel before it closes.
    this.manager.turn.run();
    this.stop();
    await this.attaching?.catch(() => undefined);
    const ch = this.channel;
    this.channel = undefined;
    this.generation += 1;
    // Closing the channel, not just basic.cancel, is what makes the broker requeue the
    // unacknowledged deliveries (marked redelivered) for the other consumers.
    if (ch) await closeQuietly(ch);
  }

  private async open(link: Link): Promise<void> {
    if (this.cancelled) return;
    const ch = await link.model.createChannel();
    const generation = ++this.generation;
    ch.on('error', () => undefined);
    ch.on('close', () => this.onChannelClosed(ch, link));
    this.channel = ch;
    try {
      // Per-consumer prefetch (global=false) must be set before basic.consume to apply to it.
      await ch.prefetch(this.prefetch, false);
      await ch.consume(this.queue, (msg) => this.onMessage(ch, generation, msg), { noAck: false });
    } catch (err) {
      if (this.channel === ch) this.channel = undefined;
      void closeQuietly(ch);
      throw err;
    }
    if (this.cancelled && this.channel === ch) {
      this.channel = undefined;
      await closeQuietly(ch);
    }
  }

  private onChannelClosed(ch: Channel, link: Link): void {
    if (this.channel !== ch) return;
    this.channel = undefined;
    this.generation += 1;
    if (this.cancelled || this.manager.isClosing) return;
    // When the whole connection died, its 'close' follows synchronously and the manager
    // re-attaches everything; only a channel-level failure is repaired here.
    queueMicrotask(() => {
      if (this.manager.isCurrent(link) && !this.cancelled && !this.channel && !this.attaching) {
        this.attachOrDrop(link).catch((err) => this.manager.fail(link, err));
      }
    });
  }

  private onMessage(ch: Channel, generation: number, msg: ConsumeMessage | null): void {
    if (msg === null) {
      // basic.cancel from the broker: the queue was deleted.
      if (this.channel === ch) {
        this.stop();
        this.channel = undefined;
        this.generation += 1;
        void closeQuietly(ch);
      }
      return;
    }
    // Not handed out after cancel/close: it stays unacked and the broker requeues it.
    if (this.cancelled || this.channel !== ch) return;
    const batched = msg.properties.headers?.[BATCH_HEADER];
    if (typeof batched === 'number') return this.onBatch(ch, generation, msg, batched);
    const delivery = this.delivery(ch, generation, msg);
    try {
      this.handler(delivery);
    } catch (err) {
      this.manager.options.onWarning(`raybus amqp: consumer of '${this.queue}' threw: ${describeCause(err)}`);
      delivery.nack(true);
    }
  }

  /**
   * A broker message carrying a batch: each message is delivered, acked and nacked on its own;
   * the broker message is acked once all are settled. A nack with requeue puts that message
   * back as a message of its own; a dead-lettered one goes to the dead-letter exchange alone.
   */
  private onBatch(ch: Channel, generation: number, msg: ConsumeMessage, count: number): void {
    let parts: Buffer[];
    try {
      parts = decodeBatch(msg.content, count);
    } catch (err) {
      this.manager.options.onWarning(`raybus amqp: dead-lettered a malformed batch on '${this.queue}': ${describeCause(err)}`);
      this.delivery(ch, generation, msg).nack(false, `malformed batch: ${describeCause(err)}`);
      return;
    }
    const live = (): boolean => this.channel === ch && this.generation === generation;
    const send = (op: () => void): void => {
      try {
        op();
      } catch (err) {
        if (!isIllegalOperation(err)) throw err;
      }
    };
    const queue = this.queue;
    const headers = fromAmqpHeaders(msg.properties.headers);
    delete headers[BATCH_HEADER];
    deliverBatch(
      parts,
      {
        queue,
        headers,
        redelivered: msg.fields.redelivered,
        nacked: (body, requeue, reason) => {
          if (!live()) return;
          send(() => {
            if (requeue) ch.sendToQueue(queue, body, { deliveryMode: 2 });
            else {
              ch.publish(DEAD_LETTER_EXCHANGE, queue, body, {
                headers: { [DEATH_REASON_HEADER]: (reason ?? 'rejected').slice(0, MAX_REASON_LENGTH), [DEATH_QUEUE_HEADER]: queue },
                deliveryMode: 2,
              });
            }
          });
        },
        allSettled: () => {
          if (live()) this.manager.turn.defer(() => live() && send(() => ch.ack(msg)));
        },
      },
      this.handler,
      (err) => this.manager.options.onWarning(`raybus amqp: consumer of '${this.queue}' threw: ${describeCause(err)}`),
    );
  }

  private delivery(ch: Channel, generation: number, msg: ConsumeMessage): Delivery {
    let settled = false;
    const settle = (): boolean => {
      if (settled) return false;
      settled = true;
      return this.channel === ch && this.generation === generation;
    };
    const send = (op: () => void): void => {
      try {
        op();
      } catch (err) {
        // The channel started closing after the check; the broker requeues the message.
        if (!isIllegalOperation(err)) throw err;
      }
    };
    const queue = this.queue;
    return {
      queue,
      body: msg.content,
      headers: fromAmqpHeaders(msg.properties.headers),
      redelivered: msg.fields.redelivered,
      ack: () => {
        // At the turn's end, in the same write as the turn's publishes (TurnEnd).
        if (settle()) this.manager.turn.defer(() => this.channel === ch && this.generation === generation && send(() => ch.ack(msg)));
      },
      nack: (requeue: boolean, reason?: string) => {
        if (!settle()) return;
        if (requeue || reason === undefined) {
          send(() => ch.nack(msg, false, requeue));
          return;
        }
        // basic.nack cannot carry a reason, so dead-letter a copy that does and ack the
        // original. Both go out on this channel, so the broker has the copy before the ack.
        send(() => {
          ch.publish(DEAD_LETTER_EXCHANGE, queue, msg.content, {
            headers: {
              ...msg.properties.headers,
              [DEATH_REASON_HEADER]: reason.slice(0, MAX_REASON_LENGTH),
              [DEATH_QUEUE_HEADER]: queue,
            },
            deliveryMode: 2,
          });
          ch.ack(msg);
        });
      },
    };
  }
}

/** Keep only the flat values the port allows (drops e.g. the broker's `x-death` arrays). */
function fromAmqpHeaders(headers: Record<string, unknown> | undefined): MessageHeaders {
  const out: MessageHeaders = {};
  if (!headers) return out;
  for (const [key, value] of Object.entries(headers)) {
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') out[key] = value;
  }
  return out;
}

function consumeError(queue: string, err: unknown): Error {
  if ((err as { code?: unknown }).code === 404) {
    return new AmqpTransportError('NO_SUCH_QUEUE', `raybus amqp: cannot consume from missing queue '${queue}'`, { cause: err });
  }
  return err instanceof Error ? err : new Error(String(err));
}
