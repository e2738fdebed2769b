/**
 * Publishing with publisher confirms. Every publish waits in an ordered outbox until the
 * broker confirms it; publishes in flight when a channel or the connection dies go back to
 * the head of the outbox and are sent again on the next channel (at-least-once, in order).
 * Sending pauses while the socket buffer is full ('drain') and while the broker has blocked
 * the connection, so memory is bounded by `maxPendingPublishes`, not by the socket.
 */
import type { ConfirmChannel, Message } from 'amqplib';
import type { MessageHeaders } from '../../src/transport/transport';
import type { ConnectionManager, Link, LinkParticipant } from './connection-manager';
import { AmqpTransportError, isIllegalOperation } from './errors';
import { TurnBatches } from '../batch-body';

/** A message that killed this many channels in a row is rejected instead of sent again. */
const MAX_SENDS = 5;
/** Header of a broker message that carries a batch of messages (its value: how many). */
export const BATCH_HEADER = 'x-raybus-batch';
/** Largest batch body, in bytes (a batch never exceeds maxMessageBytes either). */
const MAX_BATCH_BYTES = 256 * 1024;

interface Outgoing {
  readonly id: string;
  readonly exchange: string;
  readonly routingKey: string;
  readonly content: Buffer;
  readonly headers: MessageHeaders | undefined;
  /** Ask the broker to return the message when no queue takes it. */
  readonly mandatory: boolean;
  /** Not persistent (delivery mode 1): the broker keeps it in memory only. */
  readonly transient: boolean;
  sends: number;
  /** Set by a basic.return, which RabbitMQ sends before the confirm of the same message. */
  returned: string | undefined;
  resolve(): void;
  reject(err: Error): void;
}

/** Where a publish goes: the default exchange with a queue name, or a named exchange. */
export interface PublishTarget {
  readonly exchange: string;
  readonly routingKey: string;
  readonly mandatory: boolean;
}

/** The confirm channel and the outbox of one transport. */
export class Publisher implements LinkParticipant {
  private channel: ConfirmChannel | undefined;
  private readonly unsent = new Fifo<Outgoing>();
  /** Sent, awaiting confirm; insertion order is send order. */
  private readonly inflight = new Map<string, Outgoing>();
  private waitingDrain = false;
  private blocked = false;
  private nextId = 0;
  /** Batched publishes per routing key, sent at the end of the event-loop turn. */
  private readonly batches = new TurnBatches<PublishTarget>((target, body, count) => this.publish(target, body, count > 1 ? { [BATCH_HEADER]: count } : undefined));
  private batchFlushScheduled = false;

  constructor(private readonly manager: ConnectionManager) {
    manager.blocked$.subscribe((blocked) => {
      this.blocked = blocked;
      if (!blocked) this.pump();
    });
  }

  async attach(link: Link): Promise<void> {
    this.requeueInflight();
    const ch = await link.model.createConfirmChannel();
    ch.on('error', () => undefined);
    ch.on('return', (msg: Message) => {
      const entry = this.inflight.get(String(msg.properties.messageId));
      if (entry) entry.returned = `${msg.fields.exchange === '' ? 'queue' : 'route'} '${msg.fields.routingKey}'`;
    });
    ch.on('drain', () => {
      if (this.channel !== ch) return;
      this.waitingDrain = false;
      this.pump();
    });
    ch.on('close', () => this.onChannelClosed(ch, link));
    this.channel = ch;
    this.waitingDrain = false;
    this.pump();
  }

  /**
   * Like `publish`, but messages for the same queue published in the same event-loop turn
   * travel in one broker message (BATCH_HEADER); each promise settles with that message.
   */
  publishBatched(target: PublishTarget, body: Uint8Array): Promise<void> {
    const sent = this.batches.add(target.routingKey, target, body, Math.min(MAX_BATCH_BYTES, this.manager.options.maxMessageBytes));
    if (!this.batchFlushScheduled) {
      this.batchFlushScheduled = true;
      this.manager.turn.defer(() => {
        this.batchFlushScheduled = false;
        this.batches.flushAll();
      });
    }
    return sent;
  }

  /**
   * Resolves once the broker confirmed the message; rejects if it was refused or unroutable.
   * A `transient` message is not persistent: a broker restart may lose it.
   */
  publish(target: PublishTarget, body: Uint8Array, headers: MessageHeaders | undefined, transient = false): Promise<void> {
    // Per-queue order: a batch waiting for this queue goes first.
    this.batches.flush(target.routingKey);
    const max = this.manager.options.maxMessageBytes;
    if (body.byteLength > max) {
      return Promise.reject(
        new AmqpTransportError('MESSAGE_TOO_LARGE', `raybus amqp: message of ${body.byteLength} bytes exceeds maxMessageBytes (${max})`),
      );
    }
    if (this.unsent.size + this.inflight.size >= this.manager.options.maxPendingPublishes) {
      return Promise.reject(
        new AmqpTransportError(
          'PUBLISH_BUFFER_FULL',
          `raybus amqp: ${this.manager.options.maxPendingPublishes} publishes already waiting (broker blocked or unreachable)`,
          { retryable: true },
        ),
      );
    }
    const content = Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
    return new Promise<void>((resolve, reject) => {
      this.unsent.push({
        id: String(++this.nextId),
        exchange: target.exchange,
        routingKey: target.routingKey,
        content,
        headers,
        mandatory: target.mandatory,
        transient,
        sends: 0,
        returned: undefined,
        resolve,
        reject,
      });
      this.pump();
    });
  }

  /** Reject everything still waiting (the transport is closing or gave up). */
  failAll(err: Error): void {
    this.batches.flushAll();
    const pending = [...this.inflight.values(), ...this.unsent.drain()];
    this.inflight.clear();
    for (const entry of pending) entry.reject(err);
  }

  private pump(): void {
    const ch = this.channel;
    if (!ch || this.blocked || this.waitingDrain) return;
    for (let entry = this.unsent.shift(); entry; entry = this.unsent.shift()) {
      if (entry.sends >= MAX_SENDS) {
        entry.reject(new AmqpTransportError('BROKER_REFUSED', `raybus amqp: gave up on a message after ${MAX_SENDS} failed sends`));
        continue;
      }
      const sent = entry;
      sent.sends += 1;
      sent.returned = undefined;
      this.inflight.set(sent.id, sent);
      let writable: boolean;
      try {
        writable = ch.publish(
          sent.exchange,
          sent.routingKey,
          sent.content,
          { headers: sent.headers, mandatory: sent.mandatory, messageId: sent.id, deliveryMode: sent.transient ? 1 : 2 },
          (err: unknown) => this.onConfirm(sent, err),
        );
      } catch (err) {
        this.inflight.delete(sent.id);
        if (isIllegalOperation(err)) {
          // The channel is closing; its 'close' handler will requeue and a new channel resend.
          sent.sends -= 1;
          this.unsent.unshift(sent);
          return;
        }
        sent.reject(err instanceof Error ? err : new Error(String(err)));
        continue;
      }
      if (!writable) {
        this.waitingDrain = true;
        return;
      }
    }
  }

  private onConfirm(entry: Outgoing, err: unknown): void {
    if (this.inflight.get(entry.id) !== entry) return;
    if (err) {
      // amqplib reports a broker nack and a closed channel the same way, and calls these
      // callbacks before the channel's 'close' listeners run. Decide after they ran: a closed
      // channel has moved the entry back to the outbox by then.
      queueMicrotask(() => {
        if (this.inflight.get(entry.id) !== entry) return;
        this.inflight.delete(entry.id);
        entry.reject(new AmqpTransportError('BROKER_REFUSED', `raybus amqp: broker refused message for '${entry.routingKey}'`, { cause: err }));
      });
      return;
    }
    this.inflight.delete(entry.id);
    if (entry.returned !== undefined) {
      entry.reject(new AmqpTransportError('NO_SUCH_QUEUE', `raybus amqp: no ${entry.returned} (message returned unroutable)`));
    } else {
      entry.resolve();
    }
  }

  private onChannelClosed(ch: ConfirmChannel, link: Link): void {
    if (this.channel !== ch) return;
    this.channel = undefined;
    this.waitingDrain = false;
    if (this.manager.isClosing) {
      this.failAll(this.manager.closedError());
      return;
    }
    this.requeueInflight();
    // The connection's own 'close' follows synchronously when it is the connection that died;
    // only a channel-level failure on a live connection is repaired here.
    queueMicrotask(() => {
      if (this.manager.isCurrent(link) && !this.channel) this.attach(link).catch((err) => this.manager.fail(link, err));
    });
  }

  private requeueInflight(): void {
    if (this.inflight.size === 0) return;
    const back = [...this.inflight.values()];
    this.inflight.clear();
    this.unsent.unshiftAll(back);
  }
}

/** A FIFO with amortised O(1) shift. */
class Fifo<T> {
  private items: Array<T | undefined> = [];
  private head = 0;

  get size(): number {
    return this.items.length - this.head;
  }

  push(item: T): void {
    this.items.push(item);
  }

  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head];
    this.items[this.head] = undefined;
    this.head += 1;
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    } else if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    }
    return item;
  }

  unshift(item: T): void {
    if (this.head > 0) this.items[--this.head] = item;
    else this.items.unshift(item);
  }

  unshiftAll(items: readonly T[]): void {
    this.items = [...items, ...this.items.slice(this.head)];
    this.head = 0;
  }

  drain(): T[] {
    const rest = this.items.slice(this.head) as T[];
    this.items = [];
    this.head = 0;
    return rest;
  }
}
