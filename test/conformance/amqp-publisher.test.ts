/**
 * The AMQP publisher's flow control and resend logic against a fake confirm channel: the
 * paths (broker 'blocked', a full socket buffer, a channel dying with publishes unconfirmed)
 * that a live broker cannot be made to hit on demand without disturbing other suites.
 */
import { EventEmitter } from 'node:events';
import type { ChannelModel } from 'amqplib';
import { ConnectionManager, type Link } from '../../adapters/amqp/connection-manager';
import { resolveAmqpOptions } from '../../adapters/amqp/options';
import { Publisher } from '../../adapters/amqp/publisher';

interface Sent {
  routingKey: string;
  body: string;
  options: Record<string, unknown>;
  confirm(err: unknown): void;
}

/** Mimics amqplib's ConfirmChannel: on close, pending confirm callbacks get an error first. */
class FakeConfirmChannel extends EventEmitter {
  readonly sent: Sent[] = [];
  writable = true;
  closed = false;

  constructor() {
    super();
    this.on('close', () => {
      for (const s of this.sent.splice(0)) s.confirm(new Error('channel closed'));
    });
  }

  publish(_exchange: string, routingKey: string, content: Buffer, options: Record<string, unknown>, cb: (err: unknown) => void): boolean {
    if (this.closed) {
      const err = new Error('Channel closed');
      err.name = 'IllegalOperationError';
      throw err;
    }
    this.sent.push({ routingKey, body: content.toString(), options, confirm: cb });
    return this.writable;
  }

  /** Broker confirms the oldest outstanding message. */
  ack(returned = false): void {
    const s = this.sent.shift()!;
    if (returned) this.emit('return', { fields: { exchange: '', routingKey: s.routingKey }, properties: { messageId: s.options.messageId } });
    s.confirm(null);
  }

  die(): void {
    this.closed = true;
    this.emit('close');
  }
}

function fakeLink(generation: number, channel: FakeConfirmChannel): Link {
  const model = { createConfirmChannel: async () => channel } as unknown as ChannelModel;
  return { model, generation };
}

function target(queue: string): { exchange: string; routingKey: string; mandatory: boolean } {
  return { exchange: '', routingKey: queue, mandatory: true };
}

async function settled(p: Promise<unknown>): Promise<string> {
  return Promise.race([
    p.then(
      () => 'resolved',
      (e: Error) => `rejected: ${e.message}`,
    ),
    new Promise<string>((r) => setImmediate(() => r('pending'))),
  ]);
}

describe('AMQP publisher (fake channel)', () => {
  let manager: ConnectionManager;
  let publisher: Publisher;

  beforeEach(() => {
    manager = new ConnectionManager('amqp://127.0.0.1:1', resolveAmqpOptions({ maxPendingPublishes: 3 }));
    publisher = new Publisher(manager);
  });

  test('resolves on confirm; a returned message rejects as a missing queue', async () => {
    const ch = new FakeConfirmChannel();
    await publisher.attach(fakeLink(1, ch));
    const ok = publisher.publish(target('q'), Buffer.from('a'), undefined);
    const lost = publisher.publish(target('nowhere'), Buffer.from('b'), undefined);
    expect(ch.sent.map((s) => s.body)).toEqual(['a', 'b']);
    ch.ack();
    ch.ack(true);
    await expect(ok).resolves.toBeUndefined();
    await expect(lost).rejects.toMatchObject({ code: 'NO_SUCH_QUEUE' });
  });

  test("pauses while the broker has blocked the connection, resumes on 'unblocked'", async () => {
    const ch = new FakeConfirmChannel();
    await publisher.attach(fakeLink(1, ch));
    manager.blocked$.next(true);
    const p = publisher.publish(target('q'), Buffer.from('a'), undefined);
    expect(ch.sent).toHaveLength(0);
    manager.blocked$.next(false);
    expect(ch.sent.map((s) => s.body)).toEqual(['a']);
    ch.ack();
    await expect(p).resolves.toBeUndefined();
  });

  test("stops writing when publish returns false until 'drain', and bounds what waits", async () => {
    const ch = new FakeConfirmChannel();
    await publisher.attach(fakeLink(1, ch));
    ch.writable = false;
    const first = publisher.publish(target('q'), Buffer.from('a'), undefined);
    const second = publisher.publish(target('q'), Buffer.from('b'), undefined);
    const third = publisher.publish(target('q'), Buffer.from('c'), undefined);
    expect(ch.sent.map((s) => s.body)).toEqual(['a']);
    await expect(publisher.publish(target('q'), Buffer.from('d'), undefined)).rejects.toMatchObject({ code: 'PUBLISH_BUFFER_FULL' });
    ch.writable = true;
    ch.emit('drain');
    expect(ch.sent.map((s) => s.body)).toEqual(['a', 'b', 'c']);
    ch.ack();
    ch.ack();
    ch.ack();
    await expect(Promise.all([first, second, third])).resolves.toEqual([undefined, undefined, undefined]);
  });

  test('re-sends unconfirmed publishes in order on the next channel; the dead channel\'s errors do not reject them', async () => {
    const old = new FakeConfirmChannel();
    await publisher.attach(fakeLink(1, old));
    const a = publisher.publish(target('q'), Buffer.from('a'), undefined);
    const b = publisher.publish(target('q'), Buffer.from('b'), undefined);
    old.die();
    const c = publisher.publish(target('q'), Buffer.from('c'), undefined);
    expect(await settled(a)).toBe('pending');
    expect(await settled(b)).toBe('pending');
    const fresh = new FakeConfirmChannel();
    await publisher.attach(fakeLink(2, fresh));
    expect(fresh.sent.map((s) => s.body)).toEqual(['a', 'b', 'c']);
    fresh.ack();
    fresh.ack();
    fresh.ack();
    await expect(Promise.all([a, b, c])).resolves.toEqual([undefined, undefined, undefined]);
  });

  test('a negative confirm from the broker rejects that publish only', async () => {
    const ch = new FakeConfirmChannel();
    await publisher.attach(fakeLink(1, ch));
    const refused = publisher.publish(target('q'), Buffer.from('a'), undefined);
    const fine = publisher.publish(target('q'), Buffer.from('b'), undefined);
    ch.sent.shift()!.confirm(new Error('message nacked'));
    ch.ack();
    await expect(refused).rejects.toMatchObject({ code: 'BROKER_REFUSED' });
    await expect(fine).resolves.toBeUndefined();
  });
});
