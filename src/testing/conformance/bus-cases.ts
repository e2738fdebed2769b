/**
 * Conformance cases about the bus as a whole: capabilities and the message limit, leases,
 * broadcast topics, queue declaration, missing queues, and a connection's life (connect,
 * close, status).
 */
import assert from 'node:assert/strict';
import type { TransportLease, TransportStatus, Transport } from '../../transport/transport';
import { Inbox, WAIT_MS, eq, extraHandles, activeHandles, rejectsWithCode, reportedCapabilities, str, text, uniqueName, type ConformanceCase } from './helpers';

function acquireLease(t: Transport, name: string, ttlMs: number): Promise<TransportLease | null> {
  if (typeof t.acquireLease !== 'function') throw new Error(`transport '${t.kind}' declares leases but has no acquireLease()`);
  return t.acquireLease(name, ttlMs);
}

/** The bus cases, in order. */
export const BUS_CASES: readonly ConformanceCase[] = [
  {
    title: 'reports the capabilities this suite was declared with',
    run: async ({ a, b, declared }) => {
      for (const t of [a, b]) {
        const reported = reportedCapabilities(t);
        eq({
          singleActiveConsumer: reported.singleActiveConsumer,
          requeueAtHead: reported.requeueAtHead,
          queueExpiry: reported.queueExpiry,
          leases: reported.leases ?? false,
        }, {
          singleActiveConsumer: declared.singleActiveConsumer,
          requeueAtHead: declared.requeueAtHead,
          queueExpiry: declared.queueExpiry,
          leases: declared.leases ?? false,
        });
        assert.ok(reported.maxMessageBytes > 0, `expected ${reported.maxMessageBytes} > ${0}`);
      }
    },
  },
  {
    title: 'refuses a message above maxMessageBytes with a clear error, and stays usable',
    when: (d) => Number.isFinite(d.maxMessageBytes),
    run: async ({ a, b, queue, consume }) => {
      const q = await queue('too-large');
      const max = reportedCapabilities(a).maxMessageBytes;
      await rejectsWithCode(a.publish(q, new Uint8Array(max + 1)), 'MESSAGE_TOO_LARGE');
      await assert.rejects(a.publish(q, new Uint8Array(max + 1)), /maxMessageBytes/);
      await rejectsWithCode(a.broadcast(uniqueName('too-large'), new Uint8Array(max + 1)), 'MESSAGE_TOO_LARGE');
      const inbox = new Inbox<number>();
      await consume(b, q, (d) => {
        inbox.push(d.body.byteLength);
        d.ack();
      }, 1);
      await a.publish(q, new Uint8Array(max));
      eq(await inbox.waitFor(1, 'delivery'), [max]);
    },
  },
  {
    title: 'lease: one holder at a time; renewing keeps it',
    when: (d) => d.leases === true,
    run: async ({ a, b }) => {
      const name = uniqueName('lease-one');
      const held = await acquireLease(a, name, 5_000);
      assert.notEqual(held, null);
      assert.equal(await acquireLease(b, name, 5_000), null);
      assert.equal(await acquireLease(a, name, 5_000), null);
      assert.equal(await held!.renew(), true);
      assert.equal(await acquireLease(b, name, 5_000), null);
      const other = await acquireLease(b, uniqueName('lease-other'), 5_000);
      assert.notEqual(other, null);
      assert.notEqual(other!.id, held!.id);
      await held!.release();
      await other!.release();
    },
  },
  {
    title: 'lease: once it expires unrenewed, another candidate takes it and the old holder learns it lost it',
    when: (d) => d.leases === true,
    run: async ({ a, b }) => {
      const name = uniqueName('lease-expiry');
      const ttl = 1_000;
      const first = await acquireLease(a, name, ttl);
      assert.notEqual(first, null);
      const start = Date.now();
      let second: TransportLease | null = null;
      while (!second && Date.now() - start < ttl * 5) {
        second = await acquireLease(b, name, ttl);
        if (!second) await new Promise((r) => setTimeout(r, 50));
      }
      assert.notEqual(second, null);
      assert.ok(Date.now() - start >= ttl * 0.8, `expected ${Date.now() - start} >= ${ttl * 0.8}`);
      assert.equal(await first!.renew(), false);
      assert.equal(await second!.renew(), true);
      await second!.release();
    },
  },
  {
    title: 'lease: release hands it over at once',
    when: (d) => d.leases === true,
    run: async ({ a, b }) => {
      const name = uniqueName('lease-release');
      const first = await acquireLease(a, name, 60_000);
      assert.notEqual(first, null);
      assert.equal(await acquireLease(b, name, 60_000), null);
      await first!.release();
      await first!.release();
      const second = await acquireLease(b, name, 60_000);
      assert.notEqual(second, null);
      assert.equal(await first!.renew(), false);
      assert.equal(await acquireLease(a, name, 60_000), null);
      await second!.release();
    },
  },
  {
    title: 'broadcast reaches every subscriber on both connections, and cancel stops it',
    run: async ({ a, b, subscriptions }) => {
      const topic = uniqueName('topic');
      const other = uniqueName('other');
      const onA = new Inbox<string>();
      const onB = new Inbox<string>();
      const onB2 = new Inbox<string>();
      const onOther = new Inbox<string>();
      subscriptions.push(await a.subscribe(topic, (body) => onA.push(str(body))));
      const sB = await b.subscribe(topic, (body) => onB.push(str(body)));
      subscriptions.push(await b.subscribe(topic, (body) => onB2.push(str(body))));
      subscriptions.push(await b.subscribe(other, (body) => onOther.push(str(body))));
      await a.broadcast(topic, text('one'));
      await Promise.all([onA.waitFor(1, 'broadcasts on a'), onB.waitFor(1, 'broadcasts on b'), onB2.waitFor(1, 'broadcasts on b (2nd)')]);
      await sB.cancel();
      await b.broadcast(topic, text('two'));
      await a.broadcast(topic, text('three'));
      await Promise.all([onA.waitFor(3, 'broadcasts on a'), onB2.waitFor(3, 'broadcasts on b (2nd)')]);
      eq(onA.items, ['one', 'two', 'three']);
      eq(onB2.items, ['one', 'two', 'three']);
      eq(onB.items, ['one']);
      eq(onOther.items, []);
      await a.broadcast(uniqueName('nobody'), text('unheard'));
    },
  },
  {
    title: 'assertQueue is idempotent and keeps queued messages',
    run: async ({ a, b, queue, consume }) => {
      const q = await queue('idempotent');
      await a.assertQueue(q);
      await b.assertQueue(q, {});
      await a.publish(q, text('kept'));
      await b.assertQueue(q);
      const inbox = new Inbox<string>();
      await consume(b, q, (d) => {
        inbox.push(str(d.body));
        d.ack();
      }, 1);
      eq(await inbox.waitFor(1, 'delivery'), ['kept']);
    },
  },
  {
    title: 'assertQueue is idempotent for a single-active queue',
    when: (d) => d.singleActiveConsumer,
    run: async ({ a, b, queue, consume }) => {
      const q2 = await queue('idempotent-sac', { singleActiveConsumer: true });
      await a.assertQueue(q2, { singleActiveConsumer: true });
      await b.assertQueue(q2, { singleActiveConsumer: true });
      await a.publish(q2, text('kept'));
      const inbox = new Inbox<string>();
      await consume(b, q2, (d) => {
        inbox.push(str(d.body));
        d.ack();
      }, 1);
      eq(await inbox.waitFor(1, 'delivery'), ['kept']);
    },
  },
  {
    title: 'without single-active consumers, declaring such a queue is refused, not faked',
    when: (d) => !d.singleActiveConsumer,
    run: async ({ a, queues }) => {
      const q = uniqueName('no-sac');
      queues.push(q);
      await assert.rejects(a.assertQueue(q, { singleActiveConsumer: true }), /single active consumer/i);
      await rejectsWithCode(a.assertQueue(q, { singleActiveConsumer: true }), 'UNSUPPORTED');
      // Nothing was declared: publishing to it still fails.
      await rejectsWithCode(a.publish(q, text('x')), 'NO_SUCH_QUEUE');
    },
  },
  {
    title: 'publishing to or consuming from a missing queue rejects; the transport stays usable',
    run: async ({ a, b, queue, consume }) => {
      const missing = uniqueName('missing');
      await assert.rejects(a.publish(missing, text('lost')));
      await assert.rejects(b.consume(missing, (d) => d.ack(), { prefetch: 1 }));
      const q = await queue('after-missing');
      const inbox = new Inbox<string>();
      await consume(b, q, (d) => {
        inbox.push(str(d.body));
        d.ack();
      }, 1);
      await a.publish(q, text('fine'));
      eq(await inbox.waitFor(1, 'delivery'), ['fine']);
    },
  },
  {
    title: 'close() is idempotent, stops the transport and leaves no open handles',
    run: async ({ factory }) => {
      const baseline = activeHandles();
      const fresh = await factory();
      const statuses: TransportStatus[] = [];
      fresh.a.status$.subscribe((s) => statuses.push(s));
      eq(statuses, ['connecting']);
      await fresh.a.connect();
      await fresh.b.connect();
      const q = uniqueName('close');
      await fresh.a.assertQueue(q);
      const inbox = new Inbox<string>();
      await fresh.b.consume(q, (d) => {
        inbox.push(str(d.body));
        d.ack();
      }, { prefetch: 1 });
      await fresh.a.subscribe(q, () => undefined);
      await fresh.a.publish(q, text('x'));
      await inbox.waitFor(1, 'delivery');
      await fresh.a.deleteQueue(q);
      await Promise.all([fresh.a.close(), fresh.a.close()]);
      await fresh.a.close();
      await fresh.b.close();
      await fresh.b.close();
      await fresh.cleanup();
      eq(statuses, ['connecting', 'connected', 'closed']);
      await assert.rejects(fresh.a.publish(q, text('late')));
      await assert.rejects(fresh.b.assertQueue(q));
      // Sockets finish closing asynchronously after close() resolves; poll, bounded.
      const deadline = Date.now() + WAIT_MS;
      while (extraHandles(baseline).length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      eq(extraHandles(baseline), []);
    },
  },
  {
    title: "connect() is idempotent: a second call resolves and does not re-emit 'connected'",
    run: async ({ a, b, queue }) => {
      const seen: TransportStatus[] = [];
      a.status$.subscribe((s) => seen.push(s));
      await a.connect();
      await Promise.all([b.connect(), b.connect()]);
      eq(seen, ['connected']);
      await a.assertQueue(await queue('reconnect-idempotent'));
    },
  },
  {
    title: 'connect() after close() rejects: a closed transport stays closed',
    run: async ({ a }) => {
      await a.close();
      await assert.rejects(a.connect());
      await assert.rejects(a.assertQueue(uniqueName('after-close')));
    },
  },
  {
    title: "status$ reports 'connected', then 'closed' and completes",
    run: async ({ a }) => {
      const seen: TransportStatus[] = [];
      let completed = false;
      a.status$.subscribe({ next: (s) => seen.push(s), complete: () => (completed = true) });
      eq(seen, ['connected']);
      await a.close();
      eq(seen, ['connected', 'closed']);
      assert.equal(completed, true);
    },
  },
];
