/**
 * NATS-only delivery cases: each message reaches this transport's handlers once while it is
 * held, whatever the server does around a cancelled consumer's pull requests.
 *
 * NATS 2.9 (and 2.10 before 2.10.14) mishandles a redelivery it cannot hand to a waiting pull
 * request (a request whose inbox was unsubscribed): the redelivery is dropped until ack_wait and
 * the message delivered last is delivered a second time as new (fixed in nats-server 2.10.14,
 * "Multiple deliveries of messages with delivery count going backwards"). The first cases
 * reproduce that sequence; on a fixed server they pass as well.
 */
import { connect, createInbox, type NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { createNatsTransport, type NatsTransport, type NatsTransportOptions } from '../../adapters/nats';
import type { Delivery } from '../../src/transport/transport';
import { deleteNamespace, describeWithNats, NATS_TEST_URL, testNamespace } from './nats-server';
import { Inbox, readU32, str, text, u32, uniqueName } from '../../src/testing/conformance';

/** Long enough that a message back "promptly" cannot have come back through ack_wait. */
const LONG_ACK_WAIT_MS = 60_000;

describeWithNats('NATS transport: deliveries around cancelled pull requests', () => {
  const namespace = testNamespace();
  const open: NatsTransport[] = [];
  const raws: NatsConnection[] = [];

  async function transport(name: string, options: NatsTransportOptions = {}): Promise<NatsTransport> {
    const t = createNatsTransport(NATS_TEST_URL, { namespace, connectionName: name, onWarning: () => undefined, ...options });
    open.push(t);
    await t.connect();
    return t;
  }

  /** A plain client connection, for what the transport does not expose (ack subjects, consumer state). */
  async function raw(): Promise<{ nc: NatsConnection; jsm: JetStreamManager }> {
    const nc = await connect({ servers: NATS_TEST_URL, name: 'raybus-test-raw' });
    raws.push(nc);
    return { nc, jsm: await jetstreamManager(nc) };
  }

  /** Messages the server sent `t` before now have arrived: two round trips on its connection. */
  async function settle(t: NatsTransport, q: string): Promise<void> {
    await t.assertQueue(q);
    await t.assertQueue(q);
    await new Promise<void>((resolve) => setImmediate(resolve));
  }

  async function until(what: string, check: () => Promise<boolean>, ms = 5_000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  afterEach(async () => {
    for (const t of open.splice(0)) await t.close();
    for (const nc of raws.splice(0)) await nc.close();
  });

  afterAll(async () => {
    await deleteNamespace(namespace);
  });

  for (const how of ['cancel', 'close'] as const) {
    test(`after a ${how} with a pull request still waiting, a consumer that starts later gets each message once, in order, at once`, async () => {
      const a = await transport(`raybus-test-${how}-a`, { ackWaitMs: LONG_ACK_WAIT_MS });
      const b = await transport(`raybus-test-${how}-b`, { ackWaitMs: LONG_ACK_WAIT_MS });
      const q = uniqueName(`${how}-then-consume`);
      await a.assertQueue(q);
      for (const m of ['m0', 'm1', 'm2']) await a.publish(q, text(m));
      const held = new Inbox<Delivery>();
      // Prefetch 10 and 3 messages: the pull request still asks for 7 when the consumer stops.
      const first = await a.consume(q, held.push, { prefetch: 10 });
      await held.waitFor(3, 'deliveries to the first consumer');
      if (how === 'cancel') await first.cancel();
      else await a.close();
      const next = new Inbox<Delivery>();
      await b.consume(q, (d) => {
        next.push(d);
        d.ack();
      }, { prefetch: 10 });
      const got = await next.waitFor(3, 'redeliveries');
      expect(got.map((d) => `${str(d.body)}${d.redelivered ? '*' : ''}`)).toEqual(['m0*', 'm1*', 'm2*']);
      await b.publish(q, text('sentinel'));
      await next.waitFor(4, 'the sentinel');
      await settle(b, q);
      expect(next.items.map((d) => str(d.body))).toEqual(['m0', 'm1', 'm2', 'sentinel']);
    });
  }

  test('a redelivery the server loses to a dropped pull request: the handler still sees each message once', async () => {
    // Drive the server into the sequence above by hand: a plain client pulls, unsubscribes its
    // inbox with the request still waiting, then naks. On an affected server the transport's
    // consumer is then sent m2 twice (delivery counts 2, then 1) and m0 only after ack_wait.
    const ackWaitMs = 1_000;
    const t = await transport('raybus-test-lost-redelivery', { ackWaitMs });
    const q = uniqueName('lost-redelivery');
    await t.assertQueue(q);
    const names = t.names.queue(q);
    for (const m of ['m0', 'm1', 'm2']) await t.publish(q, text(m));
    const { nc } = await raw();
    const replies: string[] = [];
    const pulled = new Inbox<string>();
    const inbox = createInbox();
    const sub = nc.subscribe(inbox, {
      callback: (_err, msg) => {
        if (!msg.reply) return;
        replies.push(msg.reply);
        pulled.push(str(msg.data));
      },
    });
    nc.publish(`$JS.API.CONSUMER.MSG.NEXT.${names.stream}.${t.names.consumer}`, JSON.stringify({ batch: 10, expires: 30_000_000_000 }), { reply: inbox });
    await pulled.waitFor(3, 'messages pulled by the plain client');
    sub.unsubscribe();
    for (const reply of replies) nc.publish(reply, '-NAK');
    await nc.flush();
    const got = new Inbox<Delivery>();
    await t.consume(q, (d) => {
      got.push(d);
      d.ack();
    }, { prefetch: 10 });
    // m0 may take ack_wait to come back (the server dropped its redelivery); never twice.
    await got.waitFor(3, 'each message', ackWaitMs * 4 + 2_000);
    await t.publish(q, text('sentinel'));
    await got.waitFor(4, 'the sentinel');
    await settle(t, q);
    expect(got.items.map((d) => str(d.body)).sort()).toEqual(['m0', 'm1', 'm2', 'sentinel']);
    expect(got.items.filter((d) => str(d.body) !== 'sentinel').every((d) => d.redelivered)).toBe(true);
  });

  test('a message the server hands out again while a subscription of the transport holds it reaches no other handler; settling the held one settles it', async () => {
    const ackWaitMs = 1_000;
    const t = await transport('raybus-test-held-twice', { ackWaitMs });
    const q = uniqueName('held-twice');
    await t.assertQueue(q);
    const names = t.names.queue(q);
    const { nc, jsm } = await raw();
    // Progress acks of the held delivery tell its ack subject; a nak sent there makes the server
    // deliver the message again while the transport still holds it.
    const progress = new Inbox<string>();
    nc.subscribe(`$JS.ACK.${names.stream}.>`, {
      callback: (_err, msg) => {
        if (str(msg.data) === '+WPI') progress.push(msg.subject);
      },
    });
    await nc.flush();
    await t.publish(q, text('m0'));
    const holder = new Inbox<Delivery>();
    await t.consume(q, holder.push, { prefetch: 1 });
    await holder.waitFor(1, 'the held delivery');
    const other = new Inbox<string>();
    await t.consume(q, (d) => {
      other.push(str(d.body));
      d.ack();
    }, { prefetch: 10 });
    const [ackSubject] = await progress.waitFor(1, 'a progress ack of the held delivery', ackWaitMs * 3);
    nc.publish(ackSubject!, '-NAK');
    await nc.flush();
    // The redelivery is sent (delivered sequence 2) before the sentinel (sequence 3), on the same connection.
    await until('the redelivery', async () => (await jsm.consumers.info(names.stream, t.names.consumer)).delivered.consumer_seq >= 2);
    await t.publish(q, text('sentinel'));
    await other.waitFor(1, 'the sentinel');
    await settle(t, q);
    expect(other.items).toEqual(['sentinel']);
    expect(holder.items).toHaveLength(1);
    holder.items[0]!.ack();
    await until('the held message to be acknowledged', async () => (await jsm.streams.info(names.stream)).state.messages === 0);
    await t.publish(q, text('after'));
    await other.waitFor(2, 'a message after the ack');
    await settle(t, q);
    expect(other.items).toEqual(['sentinel', 'after']);
    expect(holder.items).toHaveLength(1);
  });

  test('each subscription keeps at most one pull request waiting, so two subscriptions share a queue evenly', async () => {
    const a = await transport('raybus-test-share-a');
    const b = await transport('raybus-test-share-b');
    const q = uniqueName('share');
    await a.assertQueue(q);
    const names = a.names.queue(q);
    const { jsm } = await raw();
    const one = new Inbox<number>();
    const two = new Inbox<number>();
    await a.consume(q, (d) => {
      one.push(readU32(d.body));
      d.ack();
    }, { prefetch: 10 });
    for (let i = 0; i < 3; i++) await a.publish(q, u32(i));
    await one.waitFor(3, 'deliveries to the first subscription');
    // Seven of the ten asked for are still on their way: asking again would queue a second request.
    await settle(a, q);
    expect((await jsm.consumers.info(names.stream, a.names.consumer)).num_waiting).toBe(1);
    await b.consume(q, (d) => {
      two.push(readU32(d.body));
      d.ack();
    }, { prefetch: 10 });
    await settle(b, q);
    expect((await jsm.consumers.info(names.stream, a.names.consumer)).num_waiting).toBe(2);
    const n = 20;
    for (let i = 3; i < 3 + n; i++) await a.publish(q, u32(i));
    await until('every delivery', async () => one.items.length + two.items.length === 3 + n);
    expect(Math.abs(one.items.length - 3 - two.items.length)).toBeLessThanOrEqual(2);
    expect([...one.items, ...two.items].sort((x, y) => x - y)).toEqual(Array.from({ length: 3 + n }, (_, i) => i));
  });
});
