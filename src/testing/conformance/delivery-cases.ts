/**
 * Conformance cases about queues and deliveries: bodies and headers unchanged, publish order,
 * batches, prefetch, ack and nack (requeue at the head, or later where the transport says it
 * cannot), redelivery when a consumer or connection goes, round-robin, single-active consumers.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { Delivery } from '../../transport/transport';
import { Inbox, eq, readU32, reportedCapabilities, str, text, u32, type ConformanceCase } from './helpers';

/** The delivery cases, in order. */
export const DELIVERY_CASES: readonly ConformanceCase[] = [
  {
    title: 'round-trips binary bodies and headers unchanged',
    run: async ({ a, b, queue, consume }) => {
      const q = await queue('roundtrip');
      const all = Uint8Array.from({ length: 256 }, (_, i) => i);
      const view = new Uint8Array(all.buffer, 10, 20);
      // 1 MiB, or the largest body the transport accepts if that is less.
      const big = new Uint8Array(randomBytes(Math.min(1 << 20, reportedCapabilities(a).maxMessageBytes)));
      const headers = { s: 'text', n: 42, neg: -7, f: 1.5, t: true, no: false, empty: '' };
      const inbox = new Inbox<Delivery>();
      await consume(b, q, (d) => {
        inbox.push(d);
        d.ack();
      }, 10);
      await a.publish(q, all, { headers });
      await a.publish(q, new Uint8Array(0));
      await a.publish(q, view);
      await a.publish(q, big);
      const got = await inbox.waitFor(4, 'deliveries');
      eq(got.map((d) => d.queue), [q, q, q, q]);
      eq(got.map((d) => d.redelivered), [false, false, false, false]);
      assert.equal(Buffer.from(got[0]!.body).equals(Buffer.from(all)), true);
      eq(got[0]!.headers, headers);
      assert.equal(got[1]!.body.byteLength, 0);
      eq(got[1]!.headers, {});
      assert.equal(Buffer.from(got[2]!.body).equals(Buffer.from(view)), true);
      assert.equal(Buffer.from(got[3]!.body).equals(Buffer.from(big)), true);
    },
  },
  {
    title: 'delivers the messages of one publisher in publish order',
    run: async ({ a, b, queue, consume }) => {
      const q = await queue('fifo');
      const inbox = new Inbox<number>();
      await consume(b, q, (d) => {
        inbox.push(readU32(d.body));
        d.ack();
      }, 50);
      const n = 300;
      await Promise.all(Array.from({ length: n }, (_, i) => a.publish(q, u32(i))));
      const got = await inbox.waitFor(n, 'deliveries');
      eq(got, Array.from({ length: n }, (_, i) => i));
    },
  },
  {
    title: 'batched publishes arrive one by one, in order, each settled on its own',
    run: async ({ a, b, queue, consume, roundTrips }) => {
      const q = await queue('batch');
      const inbox = new Inbox<number>();
      await consume(b, q, (d) => {
        inbox.push(readU32(d.body));
        d.ack();
      }, 50);
      const n = 300;
      await Promise.all(Array.from({ length: n }, (_, i) => a.publish(q, u32(i), { batch: true })));
      eq(await inbox.waitFor(n, 'deliveries'), Array.from({ length: n }, (_, i) => i));
      // All acknowledged: a new message is the only thing left to deliver.
      await a.publish(q, u32(n));
      await inbox.waitFor(n + 1, 'deliveries');
      await roundTrips(b, q);
      assert.equal(inbox.items.length, n + 1);
    },
  },
  {
    title: 'a batched message nacked with requeue comes back alone; one dead-lettered is gone',
    run: async ({ a, b, queue, consume, roundTrips }) => {
      const q = await queue('batch-nack');
      await Promise.all(['m0', 'm1', 'm2', 'm3'].map((m) => a.publish(q, text(m), { batch: true })));
      const inbox = new Inbox<string>();
      let requeued = false;
      await consume(b, q, (d) => {
        const m = str(d.body);
        inbox.push(m);
        if (m === 'm1' && !requeued) {
          requeued = true;
          d.nack(true);
        } else if (m === 'm2') d.nack(false, 'conformance: dropped on purpose');
        else d.ack();
      }, 10);
      await inbox.waitFor(5, 'deliveries');
      await a.publish(q, text('sentinel'));
      await inbox.waitFor(6, 'deliveries');
      await roundTrips(b, q);
      // First deliveries in publish order; m1 once more (where it comes back is the
      // transport's choice: the in-memory bus puts it at the head), m2 never again.
      eq([...new Set(inbox.items)], ['m0', 'm1', 'm2', 'm3', 'sentinel']);
      eq([...inbox.items].sort(), ['m0', 'm1', 'm1', 'm2', 'm3', 'sentinel']);
    },
  },
  {
    title: 'a consumer cancelled while holding batched messages: the unacknowledged ones are redelivered',
    run: async ({ a, b, queue, consume, roundTrips }) => {
      const q = await queue('batch-cancel');
      await Promise.all(['m0', 'm1', 'm2'].map((m) => a.publish(q, text(m), { batch: true })));
      const held = new Inbox<Delivery>();
      const c1 = await a.consume(q, held.push, { prefetch: 10 });
      await held.waitFor(3, 'deliveries to the first consumer');
      held.items[0]!.ack();
      const standby = new Inbox<Delivery>();
      await consume(b, q, (d) => {
        standby.push(d);
        d.ack();
      }, 10);
      await c1.cancel();
      await standby.waitFor(2, 'requeued deliveries');
      await a.publish(q, text('sentinel'));
      const got = await standby.waitFor(3, 'deliveries');
      await roundTrips(b, q);
      // Redelivered as a group where the transport batches (an acknowledged sibling may come
      // again, which is why only some queues batch): the unacknowledged ones always do.
      const again = got.filter((d) => str(d.body) !== 'sentinel');
      for (const m of ['m1', 'm2']) assert.ok(again.some((d) => str(d.body) === m), `${m} was not redelivered`);
      assert.equal(again.every((d) => d.redelivered), true);
    },
  },
  {
    title: 'never gives a consumer more unacknowledged deliveries than its prefetch',
    run: async ({ a, b, queue, consume, roundTrips }) => {
      const q = await queue('prefetch');
      const n = 8;
      for (let i = 0; i < n; i++) await a.publish(q, u32(i));
      const held: Delivery[] = [];
      const inbox = new Inbox<number>();
      let outstanding = 0;
      let maxOutstanding = 0;
      await consume(b, q, (d) => {
        outstanding += 1;
        maxOutstanding = Math.max(maxOutstanding, outstanding);
        held.push(d);
        inbox.push(readU32(d.body));
      }, 2);
      for (let acked = 0; acked < n; acked++) {
        await inbox.waitFor(Math.min(n, acked + 2), 'deliveries');
        await roundTrips(b, q);
        assert.ok(outstanding <= 2, `expected ${outstanding} <= ${2}`);
        const d = held.shift()!;
        outstanding -= 1;
        d.ack();
      }
      assert.equal(maxOutstanding, 2);
      eq(inbox.items, Array.from({ length: n }, (_, i) => i));
    },
  },
  {
    title: 'ack removes the message from the queue',
    run: async ({ a, b, queue, consume, roundTrips }) => {
      const q = await queue('ack');
      await a.publish(q, text('m1'));
      const first = new Inbox<string>();
      const c1 = await b.consume(q, (d) => {
        first.push(str(d.body));
        d.ack();
      }, { prefetch: 1 });
      await first.waitFor(1, 'delivery');
      await c1.cancel();
      await a.publish(q, text('sentinel'));
      const second = new Inbox<string>();
      await consume(b, q, (d) => {
        second.push(str(d.body));
        d.ack();
      }, 10);
      await second.waitFor(1, 'delivery');
      await roundTrips(b, q);
      eq(second.items, ['sentinel']);
    },
  },
  {
    title: 'nack(requeue) redelivers the message marked redelivered',
    run: async ({ a, b, queue, consume }) => {
      const q = await queue('nack-requeue');
      await a.publish(q, text('again'), { headers: { k: 'v' } });
      const inbox = new Inbox<Delivery>();
      await consume(b, q, (d) => {
        inbox.push(d);
        if (d.redelivered) d.ack();
        else d.nack(true);
      }, 1);
      const [first, second] = await inbox.waitFor(2, 'deliveries');
      assert.equal(first!.redelivered, false);
      assert.equal(second!.redelivered, true);
      assert.equal(str(second!.body), 'again');
      eq(second!.headers, { k: 'v' });
    },
  },
  {
    title: 'nack(requeue) puts the message back at the head, before the messages queued behind it',
    when: (d) => d.requeueAtHead,
    run: async ({ a, b, queue, consume }) => {
      const q = await queue('nack-head');
      for (const m of ['m0', 'm1', 'm2']) await a.publish(q, text(m));
      const inbox = new Inbox<Delivery>();
      await consume(b, q, (d) => {
        inbox.push(d);
        if (str(d.body) === 'm0' && !d.redelivered) d.nack(true);
        else d.ack();
      }, 1);
      const got = await inbox.waitFor(4, 'deliveries');
      eq(got.map((d) => `${str(d.body)}${d.redelivered ? '*' : ''}`), ['m0', 'm0*', 'm1', 'm2']);
    },
  },
  {
    title: 'nack(requeue) redelivers later: marked redelivered, the other messages in their order',
    when: (d) => !d.requeueAtHead,
    run: async ({ a, b, queue, consume, roundTrips }) => {
      const q = await queue('nack-later');
      for (const m of ['m0', 'm1', 'm2', 'm3']) await a.publish(q, text(m));
      const inbox = new Inbox<Delivery>();
      await consume(b, q, (d) => {
        inbox.push(d);
        if (str(d.body) === 'm0' && !d.redelivered) d.nack(true);
        else d.ack();
      }, 1);
      await inbox.waitFor(5, 'deliveries');
      await a.publish(q, text('sentinel'));
      await inbox.waitFor(6, 'deliveries');
      await roundTrips(b, q);
      const seen = inbox.items.map((d) => `${str(d.body)}${d.redelivered ? '*' : ''}`);
      // Where m0 comes back is not promised; that it comes back once, marked, is.
      assert.equal(seen[0], 'm0');
      eq(seen.filter((m) => m.startsWith('m0')), ['m0', 'm0*']);
      eq(seen.filter((m) => !m.startsWith('m0')), ['m1', 'm2', 'm3', 'sentinel']);
    },
  },
  {
    title: 'nack(false) drops the message',
    run: async ({ a, b, queue, consume, roundTrips }) => {
      const q = await queue('nack-drop');
      await a.publish(q, text('doomed'));
      const first = new Inbox<string>();
      const c1 = await b.consume(q, (d) => {
        first.push(str(d.body));
        d.nack(false, 'conformance: dropped on purpose');
      }, { prefetch: 1 });
      await first.waitFor(1, 'delivery');
      await c1.cancel();
      await a.publish(q, text('sentinel'));
      const second = new Inbox<string>();
      await consume(b, q, (d) => {
        second.push(str(d.body));
        d.ack();
      }, 10);
      await second.waitFor(1, 'delivery');
      await roundTrips(b, q);
      eq(second.items, ['sentinel']);
      eq(first.items, ['doomed']);
    },
  },
  {
    title: 'cancelling a consumer requeues its unacknowledged messages to another consumer, marked redelivered',
    run: async ({ a, b, queue, consume, roundTrips }) => {
      const q = await queue('cancel-requeue');
      for (const m of ['m0', 'm1', 'm2']) await a.publish(q, text(m));
      const held = new Inbox<Delivery>();
      const c1 = await a.consume(q, held.push, { prefetch: 10 });
      await held.waitFor(3, 'deliveries to the first consumer');
      const standby = new Inbox<Delivery>();
      await consume(b, q, (d) => {
        standby.push(d);
        d.ack();
      }, 10);
      await roundTrips(b, q);
      assert.equal(standby.items.length, 0);
      await c1.cancel();
      const got = await standby.waitFor(3, 'requeued deliveries');
      eq(got.map((d) => str(d.body)), ['m0', 'm1', 'm2']);
      eq(got.map((d) => d.redelivered), [true, true, true]);
      // Settling a delivery of the cancelled consumer is a no-op, not an error.
      assert.doesNotThrow(() => {
        held.items[0]!.ack();
        held.items[1]!.nack(true);
        held.items[2]!.nack(false);
      });
      await a.publish(q, text('sentinel'));
      await standby.waitFor(4, 'deliveries');
      await roundTrips(b, q);
      eq(standby.items.map((d) => str(d.body)), ['m0', 'm1', 'm2', 'sentinel']);
    },
  },
  {
    title: 'closing a connection requeues its unacknowledged messages to a consumer on another connection',
    run: async ({ a, b, queue, consume }) => {
      const q = await queue('close-requeue');
      for (const m of ['m0', 'm1', 'm2']) await a.publish(q, text(m));
      const held = new Inbox<Delivery>();
      await a.consume(q, held.push, { prefetch: 10 });
      await held.waitFor(3, 'deliveries to the first consumer');
      const standby = new Inbox<Delivery>();
      await consume(b, q, (d) => {
        standby.push(d);
        d.ack();
      }, 10);
      await a.close();
      const got = await standby.waitFor(3, 'requeued deliveries');
      eq(got.map((d) => str(d.body)), ['m0', 'm1', 'm2']);
      eq(got.map((d) => d.redelivered), [true, true, true]);
      assert.doesNotThrow(() => held.items[0]!.ack());
    },
  },
  {
    title: 'round-robins between two consumers',
    run: async ({ a, b, queue, consume }) => {
      const q = await queue('round-robin');
      const one = new Inbox<number>();
      const two = new Inbox<number>();
      const all = new Inbox<number>();
      await consume(a, q, (d) => {
        one.push(readU32(d.body));
        all.push(0);
        d.ack();
      }, 10);
      await consume(b, q, (d) => {
        two.push(readU32(d.body));
        all.push(0);
        d.ack();
      }, 10);
      const n = 20;
      for (let i = 0; i < n; i++) await a.publish(q, u32(i));
      await all.waitFor(n, 'deliveries');
      assert.ok(one.items.length > 0, `expected ${one.items.length} > ${0}`);
      assert.ok(two.items.length > 0, `expected ${two.items.length} > ${0}`);
      assert.ok(Math.abs(one.items.length - two.items.length) <= 2, `expected ${Math.abs(one.items.length - two.items.length)} <= ${2}`);
      eq([...one.items, ...two.items].sort((x, y) => x - y), Array.from({ length: n }, (_, i) => i));
    },
  },
  {
    title: 'single-active consumer: only the first consumer receives; the standby takes over when it is cancelled',
    when: (d) => d.singleActiveConsumer,
    run: async ({ a, b, queue, consume, roundTrips }) => {
      const q = await queue('single-active', { singleActiveConsumer: true });
      await b.assertQueue(q, { singleActiveConsumer: true });
      const active = new Inbox<Delivery>();
      const c1 = await a.consume(q, (d) => {
        active.push(d);
        if (active.items.length < 6) d.ack();
      }, { prefetch: 10 });
      const standby = new Inbox<Delivery>();
      await consume(b, q, (d) => {
        standby.push(d);
        d.ack();
      }, 10);
      for (let i = 0; i < 6; i++) await a.publish(q, u32(i));
      await active.waitFor(6, 'deliveries to the active consumer');
      await roundTrips(b, q, { singleActiveConsumer: true });
      assert.equal(standby.items.length, 0);
      await c1.cancel();
      // The one delivery the active consumer left unacked moves to the standby.
      const requeued = await standby.waitFor(1, 'requeued delivery');
      assert.equal(readU32(requeued[0]!.body), 5);
      assert.equal(requeued[0]!.redelivered, true);
      await a.publish(q, u32(6));
      await a.publish(q, u32(7));
      await standby.waitFor(3, 'deliveries to the new active consumer');
      eq(standby.items.map((d) => readU32(d.body)), [5, 6, 7]);
      assert.equal(active.items.length, 6);
    },
  },
];
