/**
 * NATS-only behaviour: what a crashed consumer leaves behind (back after ack_wait, not before,
 * even for deliveries held far longer than ack_wait), presence queues that live and die with
 * their connection, a server restart (its own server, killed and restarted on its own store),
 * dead letters with a reason, header and name encoding on the wire.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import { createInterface } from 'node:readline';
import { connect, headers as natsHeaders } from '@nats-io/transport-node';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { BATCH_HEADER } from '../../adapters/nats/publisher';
import { createNatsTransport, DEATH_QUEUE_HEADER, DEATH_REASON_HEADER, type NatsTransport, type NatsTransportOptions } from '../../adapters/nats';
import type { Delivery, TransportStatus } from '../../src/transport/transport';
import { deleteNamespace, describeWithNats, NATS_TEST_URL, PrivateNatsServer, testNamespace } from './nats-server';
import { Inbox, readU32, str, text, u32, uniqueName } from '../../src/testing/conformance';

/** What `t` sent before now has reached the server: two round trips on its connection. */
async function settleTransport(t: NatsTransport, q: string): Promise<void> {
  await t.assertQueue(q);
  await t.assertQueue(q);
}

/** Poll `check` until it holds (bounded). */
async function until(what: string, check: () => Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const HOLDER = path.join(__dirname, '..', 'fixtures', 'nats-holder.js');

/** A child process running test/fixtures/nats-holder.js, with its JSON lines in an inbox. */
class Holder {
  readonly events = new Inbox<Record<string, unknown>>();
  private readonly child: ChildProcess;

  constructor(args: string[]) {
    this.child = spawn(process.execPath, [HOLDER, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    createInterface({ input: this.child.stdout! }).on('line', (line) => this.events.push(JSON.parse(line) as Record<string, unknown>));
  }

  async ready(): Promise<void> {
    const deadline = Date.now() + 15_000;
    while (!this.events.items.some((e) => e.ready || e.error)) {
      if (Date.now() > deadline) throw new Error('holder did not start');
      await new Promise((r) => setTimeout(r, 20));
    }
    const failed = this.events.items.find((e) => e.error);
    if (failed) throw new Error(`holder failed: ${String(failed.error)}`);
  }

  /** SIGKILL: no close(), no nak; resolves once it is gone. */
  async kill(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.kill('SIGKILL');
    await exited;
  }
}

describeWithNats('NATS transport: crashes, presence, restarts, dead letters', () => {
  const namespace = testNamespace();
  const open: NatsTransport[] = [];
  const holders: Holder[] = [];

  async function transport(name: string, options: NatsTransportOptions = {}, url = NATS_TEST_URL): Promise<NatsTransport> {
    const t = createNatsTransport(url, { namespace, connectionName: name, onWarning: () => undefined, ...options });
    open.push(t);
    await t.connect();
    return t;
  }

  afterEach(async () => {
    for (const h of holders.splice(0)) await h.kill();
    for (const t of open.splice(0)) await t.close();
  });

  afterAll(async () => {
    await deleteNamespace(namespace);
  });

  test(
    'a consumer that dies holding deliveries: they are kept while it lives, and come back after ack_wait once it is killed',
    async () => {
      const ackWaitMs = 2000;
      const a = await transport('raybus-test-crash-a', { ackWaitMs });
      const q = uniqueName('crash');
      await a.assertQueue(q, { durable: true });
      for (const m of ['m0', 'm1', 'm2']) await a.publish(q, text(m));
      const holder = new Holder([NATS_TEST_URL, namespace, 'hold', q, '3', String(ackWaitMs)]);
      holders.push(holder);
      await holder.ready();
      await holder.events.waitFor(4, 'deliveries held by the child');
      const survivor = new Inbox<Delivery>();
      await a.consume(q, (d) => {
        survivor.push(d);
        d.ack();
      }, { prefetch: 10 });
      // Three times ack_wait: progress acks keep the child's deliveries from being redelivered.
      await new Promise((r) => setTimeout(r, 3 * ackWaitMs));
      expect(survivor.items).toHaveLength(0);
      await a.publish(q, text('after'));
      await survivor.waitFor(1, 'a message published meanwhile');
      const killedAt = Date.now();
      await holder.kill();
      const got = await survivor.waitFor(4, 'redeliveries after the crash', 10_000);
      const tookMs = Date.now() - killedAt;
      // A crash is noticed through ack_wait only: the newer message came first.
      expect(got.map((d) => `${str(d.body)}${d.redelivered ? '*' : ''}`)).toEqual(['after', 'm0*', 'm1*', 'm2*']);
      expect(tookMs).toBeLessThan(ackWaitMs * 3 + 1000);
    },
    30_000,
  );

  test(
    'a presence queue exists exactly while its holder lives: probes succeed, then reject with NO_SUCH_QUEUE once it is killed',
    async () => {
      // A publish sent in the moment between the kill and the server noticing the closed socket
      // goes to the dead holder and times out: a short publish timeout lets the loop ask again.
      const broker = await transport('raybus-test-presence-broker', { publishTimeoutMs: 1000 });
      const q = uniqueName('presence');
      await expect(broker.publish(q, text('before'))).rejects.toMatchObject({ code: 'NO_SUCH_QUEUE' });
      const holder = new Holder([NATS_TEST_URL, namespace, 'presence', q]);
      holders.push(holder);
      await holder.ready();
      await broker.publish(q, text('probe'), { headers: { t: 'probe' } });
      await holder.events.waitFor(2, 'probe received by the holder');
      expect(holder.events.items[1]).toEqual({ got: 'probe' });
      await holder.kill();
      const deadline = Date.now() + 15_000;
      let last: unknown;
      while (Date.now() < deadline) {
        last = await broker.publish(q, text('after')).then(
          () => 'delivered',
          (err: { code?: string }) => err.code,
        );
        if (last === 'NO_SUCH_QUEUE') break;
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(last).toBe('NO_SUCH_QUEUE');
    },
    30_000,
  );

  test('a presence queue in one process: queued until consumed, gone once its consumer is cancelled or its connection closed', async () => {
    const owner = await transport('raybus-test-presence-owner');
    const broker = await transport('raybus-test-presence-prober');
    const q = uniqueName('presence-local');
    await owner.assertQueue(q, { autoDelete: true });
    await owner.assertQueue(q, { autoDelete: true });
    await broker.publish(q, text('early'), { headers: { n: 1 } });
    const inbox = new Inbox<Delivery>();
    const sub = await owner.consume(q, (d) => {
      inbox.push(d);
      d.ack();
    }, { prefetch: 0 });
    const [early] = await inbox.waitFor(1, 'the message published before consume');
    expect(str(early!.body)).toBe('early');
    expect(early!.headers).toEqual({ n: 1 });
    await sub.cancel();
    await expect(broker.publish(q, text('late'))).rejects.toMatchObject({ code: 'NO_SUCH_QUEUE' });
    await expect(broker.consume(q, (d) => d.ack(), { prefetch: 1 })).rejects.toMatchObject({ code: 'NO_SUCH_QUEUE' });

    const q2 = uniqueName('presence-close');
    await owner.assertQueue(q2, { autoDelete: true });
    await owner.consume(q2, (d) => d.ack(), { prefetch: 0 });
    await broker.publish(q2, text('alive'));
    await owner.close();
    await expect(broker.publish(q2, text('gone'))).rejects.toMatchObject({ code: 'NO_SUCH_QUEUE' });
  });

  test(
    'a server restart (killed, same store) loses no acknowledged message; consumers and presence queues resume',
    async () => {
      const server = await PrivateNatsServer.start();
      try {
        const options: NatsTransportOptions = { reconnectTimeWaitMs: 100, ackWaitMs: 2000, publishTimeoutMs: 8000 };
        const pub = await transport('raybus-test-restart-pub', options, server.url);
        const sub = await transport('raybus-test-restart-sub', options, server.url);
        const statuses: TransportStatus[] = [];
        sub.status$.subscribe((s) => statuses.push(s));
        const durable = uniqueName('restart-durable');
        const transient = uniqueName('restart-transient');
        const presence = uniqueName('restart-presence');
        await pub.assertQueue(durable, { durable: true });
        await sub.assertQueue(transient);
        await sub.assertQueue(presence, { autoDelete: true });
        await sub.consume(presence, (d) => d.ack(), { prefetch: 0 });
        const received = new Set<number>();
        const inbox = new Inbox<number>();
        await sub.consume(durable, (d) => {
          const n = readU32(d.body);
          received.add(n);
          inbox.push(n);
          d.ack();
        }, { prefetch: 20 });
        const transientInbox = new Inbox<string>();
        await sub.consume(transient, (d) => {
          transientInbox.push(str(d.body));
          d.ack();
        }, { prefetch: 5 });

        const acked = new Set<number>();
        const failed: string[] = [];
        let stop = false;
        const publishing = (async () => {
          for (let i = 0; !stop; i++) {
            try {
              await pub.publish(durable, u32(i));
              acked.add(i);
            } catch (err) {
              failed.push((err as { code?: string }).code ?? String(err));
            }
            if (i % 20 === 19) await new Promise((r) => setTimeout(r, 5));
          }
        })();
        await inbox.waitFor(200, 'deliveries before the restart');
        await server.stop('SIGKILL');
        await new Promise((r) => setTimeout(r, 300));
        await server.start();
        const back = acked.size;
        const deadline = Date.now() + 15_000;
        while (acked.size < back + 200 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
        stop = true;
        await publishing;
        expect(acked.size).toBeGreaterThanOrEqual(back + 200);
        while ([...acked].some((n) => !received.has(n)) && Date.now() < deadline + 10_000) await new Promise((r) => setTimeout(r, 50));
        expect([...acked].filter((n) => !received.has(n))).toEqual([]);
        expect(statuses).toEqual(expect.arrayContaining(['connected', 'reconnecting']));
        expect(statuses[statuses.length - 1]).toBe('connected');
        // The transient queue was declared again (its messages were in memory); the presence queue answers.
        await pub.publish(transient, text('after restart'));
        expect(await transientInbox.waitFor(1, 'a message on the re-declared transient queue')).toEqual(['after restart']);
        await pub.publish(presence, text('still here'));
        // Publishes in flight at the crash may have timed out, nothing else.
        expect(failed.filter((c) => c !== 'PUBLISH_TIMEOUT')).toEqual([]);
      } finally {
        for (const t of open.splice(0)) await t.close();
        await server.destroy();
      }
    },
    60_000,
  );

  test(
    'a server restart where the presence queue holder comes back after the publisher: messages sent across it arrive',
    async () => {
      // A driver's reply queue is a presence queue: a node that reconnects first and publishes
      // a result before the driver is back must wait for it, not drop the result.
      const server = await PrivateNatsServer.start();
      try {
        const pub = await transport('raybus-test-late-holder-pub', { reconnectTimeWaitMs: 50, publishTimeoutMs: 20_000 }, server.url);
        const holder = await transport('raybus-test-late-holder', { reconnectTimeWaitMs: 1500 }, server.url);
        const presence = uniqueName('late-holder');
        await holder.assertQueue(presence, { autoDelete: true });
        const inbox = new Inbox<string>();
        await holder.consume(presence, (d) => {
          inbox.push(str(d.body));
          d.ack();
        }, { prefetch: 0 });
        await pub.publish(presence, text('before'));
        const holderBack = new Promise<void>((resolve) => {
          let lost = false;
          holder.status$.subscribe((s) => {
            if (s === 'reconnecting') lost = true;
            else if (s === 'connected' && lost) resolve();
          });
        });
        await server.stop('SIGKILL');
        // Written at once (maybe into the client's buffer before it saw the drop), while down, and once back.
        const sent = [pub.publish(presence, text('at-drop'))];
        await new Promise((r) => setTimeout(r, 200));
        sent.push(pub.publish(presence, text('while-down')));
        await server.start();
        sent.push(pub.publish(presence, text('after')));
        await Promise.all(sent);
        await holderBack;
        expect((await inbox.waitFor(4, 'messages across the restart')).sort()).toEqual(['after', 'at-drop', 'before', 'while-down']);
      } finally {
        for (const t of open.splice(0)) await t.close();
        await server.destroy();
      }
    },
    60_000,
  );

  test('a publish made while connect() is still under way goes out once connected', async () => {
    const a = await transport('raybus-test-early-a');
    const q = uniqueName('early');
    await a.assertQueue(q);
    const inbox = new Inbox<string>();
    await a.consume(q, (d) => {
      inbox.push(str(d.body));
      d.ack();
    }, { prefetch: 10 });
    const late = createNatsTransport(NATS_TEST_URL, { namespace, connectionName: 'raybus-test-early-b' });
    open.push(late);
    const connecting = late.connect();
    const published = Promise.all([late.publish(q, text('e0')), late.publish(q, text('e1'))]);
    await connecting;
    await published;
    expect(await inbox.waitFor(2, 'deliveries')).toEqual(['e0', 'e1']);
  });

  test('nack(false, reason) keeps a copy with the reason in the dead-letter stream', async () => {
    const a = await transport('raybus-test-dead-letter');
    const q = uniqueName('dead-letter');
    await a.assertQueue(q);
    await a.publish(q, text('doomed'), { headers: { k: 'v' } });
    const inbox = new Inbox<Delivery>();
    const s = await a.consume(q, (d) => {
      inbox.push(d);
      d.nack(false, 'bad\nrequest');
    }, { prefetch: 1 });
    await inbox.waitFor(1, 'delivery');
    await s.cancel();
    const nc = await connect({ servers: NATS_TEST_URL });
    try {
      const jsm = await jetstreamManager(nc);
      const stored = await jsm.streams.getMessage(a.names.deadLetterStream, { last_by_subj: a.names.deadLetterSubject(q) });
      expect(stored).not.toBeNull();
      expect(new TextDecoder().decode(stored!.data)).toBe('doomed');
      expect(stored!.header.get(DEATH_REASON_HEADER)).toBe('bad request');
      expect(stored!.header.get(DEATH_QUEUE_HEADER)).toBe(q);
      expect(stored!.header.get('k')).toBe('v');
      // The original is gone from the queue.
      const info = await jsm.streams.info(a.names.queue(q).stream);
      expect(info.state.messages).toBe(0);
    } finally {
      await nc.close();
    }
  });

  test('messages batched in one turn after its first are stored as one message; a dead-lettered one is copied alone, and the batch is acked once all are settled', async () => {
    const a = await transport('raybus-test-batch');
    const q = uniqueName('batch-stored');
    await a.assertQueue(q);
    // The first goes at once, alone; the three after it in the same turn travel together.
    await Promise.all(['b0', 'b1', 'b2', 'b3'].map((m) => a.publish(q, text(m), { batch: true })));
    const nc = await connect({ servers: NATS_TEST_URL });
    try {
      const jsm = await jetstreamManager(nc);
      const stream = a.names.queue(q).stream;
      expect((await jsm.streams.info(stream)).state.messages).toBe(2);
      const inbox = new Inbox<Delivery>();
      const s = await a.consume(q, inbox.push, { prefetch: 2 });
      const [d0, d1, d2, d3] = await inbox.waitFor(4, 'the four messages');
      expect([d0, d1, d2, d3].map((d) => str(d!.body))).toEqual(['b0', 'b1', 'b2', 'b3']);
      expect(d1!.headers).toEqual({});
      d0!.ack();
      d1!.ack();
      d2!.nack(false, 'poison');
      await until('the lone message to be acknowledged', async () => (await jsm.streams.info(stream)).state.messages === 1);
      // One message of the batch is not settled: the batch is still held.
      await settleTransport(a, q);
      expect((await jsm.streams.info(stream)).state.messages).toBe(1);
      d3!.ack();
      await until('the batch to be acknowledged', async () => (await jsm.streams.info(stream)).state.messages === 0);
      const stored = await jsm.streams.getMessage(a.names.deadLetterStream, { last_by_subj: a.names.deadLetterSubject(q) });
      expect(new TextDecoder().decode(stored!.data)).toBe('b2');
      expect(stored!.header.get(DEATH_REASON_HEADER)).toBe('poison');
      expect(stored!.header.get(BATCH_HEADER)).toBe('');
      await s.cancel();
    } finally {
      await nc.close();
    }
  });

  test('a message that is not batched goes after the batch waiting for its queue, not before it', async () => {
    const a = await transport('raybus-test-batch-order');
    const q = uniqueName('batch-order');
    await a.assertQueue(q);
    await Promise.all([...['b0', 'b1', 'b2'].map((m) => a.publish(q, text(m), { batch: true })), a.publish(q, text('h3'), { headers: { k: 'v' } })]);
    const inbox = new Inbox<string>();
    const s = await a.consume(q, (d) => {
      inbox.push(str(d.body));
      d.ack();
    }, { prefetch: 10 });
    expect(await inbox.waitFor(4, 'the four messages')).toEqual(['b0', 'b1', 'b2', 'h3']);
    await s.cancel();
  });

  test('a forged batch (a count that does not match its body, or none) is dead-lettered whole and never reaches a handler', async () => {
    const a = await transport('raybus-test-forged-batch');
    const q = uniqueName('batch-forged');
    await a.assertQueue(q);
    const nc = await connect({ servers: NATS_TEST_URL });
    try {
      const jsm = await jetstreamManager(nc);
      const js = jetstream(nc);
      for (const count of ['3', '0', 'x']) {
        const h = natsHeaders();
        h.set(BATCH_HEADER, count);
        await js.publish(a.names.queue(q).subject, new Uint8Array([0, 0, 0, 1, 7]), { headers: h });
      }
      const inbox = new Inbox<Delivery>();
      const s = await a.consume(q, inbox.push, { prefetch: 10 });
      await until('the forged batches to be dead-lettered', async () => (await jsm.streams.info(a.names.queue(q).stream)).state.messages === 0);
      expect(inbox.items).toEqual([]);
      await s.cancel();
    } finally {
      await nc.close();
    }
  });

  test('headers of every kind, and queue and topic names with any characters, travel unchanged', async () => {
    const a = await transport('raybus-test-names-a');
    const b = await transport('raybus-test-names-b');
    const headers = { spaced: '  padded  ', multi: 'line\r\nbreak', unicode: 'héllo ✓', json: '{"a":1}', zero: 0, nan: Number.NaN, yes: true };
    for (const q of [uniqueName('odd:name with spaces*>/é_x'), `${uniqueName('long')}.${'x'.repeat(300)}`]) {
      await a.assertQueue(q);
      const inbox = new Inbox<Delivery>();
      const s = await b.consume(q, (d) => {
        inbox.push(d);
        d.ack();
      }, { prefetch: 1 });
      await a.publish(q, text('x'), { headers });
      const [d] = await inbox.waitFor(1, 'delivery');
      expect(d!.queue).toBe(q);
      expect(d!.headers).toEqual(headers);
      await s.cancel();
      await a.deleteQueue(q);
    }
    const topic = 'a.b:c*d>e f';
    const got = new Inbox<string>();
    await b.subscribe(topic, (body) => got.push(str(body)));
    await b.subscribe('a.b:c*d>e', () => got.push('wrong topic'));
    await a.broadcast(topic, text('t'));
    await a.broadcast(uniqueName('other'), text('u'));
    await a.broadcast(topic, text('v'));
    expect(await got.waitFor(2, 'broadcasts')).toEqual(['t', 'v']);
    await expect(a.publish(uniqueName('q'), text('x'), { headers: { 'bad name': 1 } })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });
});
