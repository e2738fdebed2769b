/**
 * Transient messages on NATS (`PublishOptions.transient`, the chunks of a blob): they travel on
 * core NATS to the queue's consumers and are never stored in the queue's stream; each reaches
 * one consumer; one published while nobody consumes is gone (its receiver asks again), and a
 * queue held by presence (auto-delete) gets them too.
 */
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { createNatsTransport, type NatsTransport } from '../../adapters/nats';
import { escapeName } from '../../adapters/nats/naming';
import { clientBuffersInstalled } from '../../adapters/nats/client-buffers';
import type { ConnectionManager } from '../../adapters/nats/connection';
import type { Delivery } from '../../src/transport/transport';
import { deleteNamespace, describeWithNats, NATS_TEST_URL, testNamespace } from './nats-server';
import { Inbox, str, text, uniqueName } from '../../src/testing/conformance';

describeWithNats('NATS transport: transient messages', () => {
  const namespace = testNamespace();
  const open: NatsTransport[] = [];

  async function transport(name: string): Promise<NatsTransport> {
    const t = createNatsTransport(NATS_TEST_URL, { namespace, connectionName: name, onWarning: () => undefined });
    open.push(t);
    await t.connect();
    return t;
  }

  /** Messages ever stored in `queue`'s stream (its last sequence number). */
  async function storedEver(queue: string): Promise<number> {
    const nc = await connect({ servers: NATS_TEST_URL, name: 'raybus-test-raw' });
    try {
      const jsm = await jetstreamManager(nc);
      return (await jsm.streams.info(`${namespace}_q_${escapeName(queue)}`)).state.last_seq;
    } finally {
      await nc.close();
    }
  }

  /** What `t` receives from `q` from now on, each acked. */
  async function collect(t: NatsTransport, q: string): Promise<Inbox<string>> {
    const got = new Inbox<string>();
    await t.consume(q, (d) => {
      got.push(str(d.body));
      d.ack();
    }, { prefetch: 10 });
    return got;
  }

  /** Everything published by `t` before now has reached the server and its subscribers: a round trip. */
  const roundTrip = (t: NatsTransport, q: string) => t.assertQueue(q);

  afterEach(async () => {
    for (const t of open.splice(0)) await t.close();
  });

  afterAll(async () => {
    await deleteNamespace(namespace);
  });

  test('a transient message reaches a consumer and is never stored in the stream', async () => {
    const q = uniqueName('transient');
    const a = await transport('transient-a');
    const b = await transport('transient-b');
    await a.assertQueue(q);
    const got = await collect(a, q);
    await b.publish(q, text('chunk'), { transient: true });
    await b.publish(q, text('stored'));
    expect((await got.waitFor(2, 'messages')).sort()).toEqual(['chunk', 'stored']);
    // Only the ordinary message went through the stream.
    expect(await storedEver(q)).toBe(1);
  });

  test('each reaches one of the consumers; one sent while nobody consumes is gone', async () => {
    const q = uniqueName('transient-group');
    const a = await transport('group-a');
    const b = await transport('group-b');
    const sender = await transport('group-sender');
    await a.assertQueue(q);
    const got = new Inbox<string>();
    const take = (d: Delivery) => {
      got.push(str(d.body));
      d.ack();
    };
    const subs = [await a.consume(q, take, { prefetch: 10 }), await b.consume(q, take, { prefetch: 10 })];
    const sent = Array.from({ length: 20 }, (_, i) => `m${i}`);
    for (const m of sent) await sender.publish(q, text(m), { transient: true });
    expect([...(await got.waitFor(20, 'messages'))].sort()).toEqual([...sent].sort());
    await roundTrip(a, q);
    await roundTrip(b, q);
    expect(got.items).toHaveLength(20);

    for (const s of subs) await s.cancel();
    await sender.publish(q, text('lost'), { transient: true });
    await roundTrip(sender, q);
    const later = await collect(a, q);
    await sender.publish(q, text('kept'));
    expect(await later.waitFor(1, 'message')).toEqual(['kept']);
    await roundTrip(a, q);
    expect(later.items).toEqual(['kept']);
  });

  test('a queue held by presence (auto-delete) gets transient messages too', async () => {
    const q = uniqueName('transient-presence');
    const a = await transport('presence-a');
    const b = await transport('presence-b');
    await a.assertQueue(q, { autoDelete: true });
    const got = await collect(a, q);
    await b.publish(q, text('chunk'), { transient: true });
    expect(await got.waitFor(1, 'message')).toEqual(['chunk']);
  });

  test('a chunk of nearly max_payload arrives whole, collected in one buffer of its size', async () => {
    const q = uniqueName('transient-large');
    const a = await transport('large-a');
    const b = await transport('large-b');
    // The client's internals this reaches into are where client-buffers.ts expects them.
    for (const t of [a, b]) {
      const nc = (t as unknown as { manager: ConnectionManager }).manager.current?.nc;
      expect(clientBuffersInstalled(nc)).toBe(true);
    }
    await a.assertQueue(q);
    const got = new Inbox<Uint8Array>();
    await a.consume(q, (d) => {
      got.push(d.body);
      d.ack();
    }, { prefetch: 10 });
    const size = a.capabilities.maxMessageBytes - 4096;
    const chunks = [0, 1, 2].map((k) => Uint8Array.from({ length: size }, (_, i) => (i * 7 + k) & 0xff));
    for (const c of chunks) await b.publish(q, c, { transient: true });
    const bodies = await got.waitFor(3, 'chunks');
    for (const [k, body] of bodies.entries()) {
      expect(Buffer.from(body).equals(Buffer.from(chunks[k]!))).toBe(true);
      // Doubling as the reads come would leave it in about twice its size.
      expect(body.buffer.byteLength).toBeLessThan(size * 1.25);
    }
  });
});
