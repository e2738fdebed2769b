/**
 * The one conformance suite every Transport implementation must pass (in-memory, AMQP, ...).
 *
 * Usage, from a `*.test.ts` file:
 *   describeTransport('memory', async () => { const bus = new InMemoryBus();
 *     return { a: bus.connect(), b: bus.connect(), cleanup: async () => {} }; });
 *
 * The factory returns two not-yet-connected transports to the same bus (two connections);
 * the suite connects them, and closes them after each test. Negative checks ("nothing more
 * arrives") are made after a sentinel message or a broker round trip, never after a sleep.
 *
 * Capabilities: a transport may say what it can do (`transport.capabilities`, see
 * {@link SuiteCapabilities}); one without that property is taken to have the in-memory bus's
 * (and RabbitMQ's) full set. Cases that need a capability run only where it is declared; where
 * it is missing, a case checks what the transport does instead (it refuses, or redelivers
 * later). Jest declares cases before any transport exists, so a test file whose transport has
 * `capabilities` passes them in the options, and a case checks the connected transports
 * report the same.
 */
import { randomBytes } from 'node:crypto';
import type { Delivery, Subscription, Transport, TransportStatus } from '../../src/transport/transport';

/** What a transport factory hands the suite. */
export interface TransportPair {
  readonly a: Transport;
  readonly b: Transport;
  /** Release anything the factory made beyond the two transports (both are closed by then). */
  cleanup(): Promise<void>;
}

const jestTest = test;

/** How long one awaited event may take before the test fails with a description. */
const WAIT_MS = 5_000;
const TEST_TIMEOUT_MS = 20_000;

/** A unique queue or topic name for one test. */
export function uniqueName(label: string): string {
  return `raybus.test.${label}.${randomBytes(5).toString('hex')}`;
}

/** Collects values pushed by a handler; `waitFor(n)` resolves once n have arrived. */
export class Inbox<T> {
  readonly items: T[] = [];
  private waiters: Array<{ count: number; resolve: () => void }> = [];

  readonly push = (item: T): void => {
    this.items.push(item);
    this.waiters = this.waiters.filter((w) => {
      if (this.items.length < w.count) return true;
      w.resolve();
      return false;
    });
  };

  waitFor(count: number, what: string, ms = WAIT_MS): Promise<T[]> {
    if (this.items.length >= count) return Promise.resolve(this.items);
    return new Promise<T[]>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new Error(`timed out after ${ms} ms waiting for ${count} ${what}; got ${this.items.length}`));
      }, ms);
      const waiter = {
        count,
        resolve: () => {
          clearTimeout(timer);
          resolve(this.items);
        },
      };
      this.waiters.push(waiter);
    });
  }
}

export function text(value: string): Uint8Array {
  return new TextEncoder().encode(value);
}

export function str(body: Uint8Array): string {
  return new TextDecoder().decode(body);
}

export function u32(n: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, n);
  return out;
}

export function readU32(body: Uint8Array): number {
  return new DataView(body.buffer, body.byteOffset, body.byteLength).getUint32(0);
}

function activeHandles(): Map<string, number> {
  const counts = new Map<string, number>();
  for (const kind of process.getActiveResourcesInfo()) counts.set(kind, (counts.get(kind) ?? 0) + 1);
  return counts;
}

function extraHandles(baseline: Map<string, number>): string[] {
  const extra: string[] = [];
  for (const [kind, n] of activeHandles()) if (n > (baseline.get(kind) ?? 0)) extra.push(`${kind} x${n - (baseline.get(kind) ?? 0)}`);
  return extra;
}

/** What a transport can do, as it reports in its optional `capabilities` property. */
export interface SuiteCapabilities {
  /** `singleActiveConsumer` queues are honoured (otherwise declaring one must be refused). */
  readonly singleActiveConsumer: boolean;
  /** A message nacked with requeue comes back before the messages queued behind it. */
  readonly requeueAtHead: boolean;
  /** `expiresMs` deletes unused queues. */
  readonly queueExpiry: boolean;
  /** Largest body accepted; larger ones are refused. */
  readonly maxMessageBytes: number;
  /** The transport has `acquireLease(name, ttlMs)`. */
  readonly leases?: boolean;
}

/** The in-memory bus's (and RabbitMQ's) capabilities: what a transport without `capabilities` is taken to have. */
export const FULL_CAPABILITIES: SuiteCapabilities = {
  singleActiveConsumer: true,
  requeueAtHead: true,
  queueExpiry: true,
  maxMessageBytes: Infinity,
  leases: false,
};

/** The capabilities `t` reports, or the full set. */
export function capabilitiesOf(t: Transport): SuiteCapabilities {
  return (t as { capabilities?: SuiteCapabilities }).capabilities ?? FULL_CAPABILITIES;
}

/** A lease handle, as a transport with `capabilities.leases` hands out. */
interface SuiteLease {
  readonly id: string;
  renew(): Promise<boolean>;
  release(): Promise<void>;
}

function acquireLease(t: Transport, name: string, ttlMs: number): Promise<SuiteLease | null> {
  const acquire = (t as { acquireLease?: (name: string, ttlMs: number) => Promise<SuiteLease | null> }).acquireLease;
  if (typeof acquire !== 'function') throw new Error(`transport '${t.kind}' declares leases but has no acquireLease()`);
  return acquire.call(t, name, ttlMs);
}

/** Options of {@link describeTransport}. */
export interface ConformanceOptions {
  /**
   * What the transport reports as `transport.capabilities` (omit for a transport without
   * that property: the full set). Decides which capability-specific cases run.
   */
  readonly capabilities?: SuiteCapabilities;
  /**
   * Titles of cases this transport is known to fail. They run as `test.failing`, so the gate
   * stays green while the defect is recorded, and turns red once the defect is fixed (then
   * remove the entry). Each entry needs a comment saying why it fails.
   */
  readonly knownFailures?: readonly string[];
}

/** Run the conformance suite against the transports `factory` makes. */
export function describeTransport(name: string, factory: () => Promise<TransportPair>, options: ConformanceOptions = {}): void {
  const known = new Set(options.knownFailures ?? []);
  const declared = options.capabilities ?? FULL_CAPABILITIES;
  const test = (title: string, fn: () => Promise<void>): void => {
    if (known.has(title)) jestTest.failing(title, fn, TEST_TIMEOUT_MS);
    else jestTest(title, fn, TEST_TIMEOUT_MS);
  };
  /** A case that runs only where `needed` holds (skipped, visibly, elsewhere). */
  const testWhen = (needed: boolean, title: string, fn: () => Promise<void>): void => {
    if (needed) test(title, fn);
    else jestTest.skip(title, fn);
  };
  describe(`Transport conformance: ${name}`, () => {

    let pair: TransportPair;
    let a: Transport;
    let b: Transport;
    let queues: string[];
    let subscriptions: Subscription[];

    beforeEach(async () => {
      pair = await factory();
      a = pair.a;
      b = pair.b;
      queues = [];
      subscriptions = [];
      await a.connect();
      await b.connect();
    });

    afterEach(async () => {
      for (const s of subscriptions) await s.cancel().catch(() => undefined);
      for (const q of queues) {
        await a.deleteQueue(q).catch(() => b.deleteQueue(q)).catch(() => undefined);
      }
      await a.close();
      await b.close();
      await pair.cleanup();
    });

    async function queue(label: string, options?: Parameters<Transport['assertQueue']>[1]): Promise<string> {
      const q = uniqueName(label);
      queues.push(q);
      await a.assertQueue(q, options);
      return q;
    }

    async function consume(
      t: Transport,
      q: string,
      handler: (d: Delivery) => void,
      prefetch: number,
    ): Promise<Subscription> {
      const s = await t.consume(q, handler, { prefetch });
      subscriptions.push(s);
      return s;
    }

    /** Messages `t`'s consumers would have been sent by now have arrived after two broker round trips. */
    async function roundTrips(t: Transport, q: string, options?: Parameters<Transport['assertQueue']>[1]): Promise<void> {
      await t.assertQueue(q, options);
      await t.assertQueue(q, options);
      await new Promise<void>((resolve) => setImmediate(resolve));
    }

    test('round-trips binary bodies and headers unchanged', async () => {
      const q = await queue('roundtrip');
      const all = Uint8Array.from({ length: 256 }, (_, i) => i);
      const view = new Uint8Array(all.buffer, 10, 20);
      // 1 MiB, or the largest body the transport accepts if that is less.
      const big = new Uint8Array(randomBytes(Math.min(1 << 20, capabilitiesOf(a).maxMessageBytes)));
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
      expect(got.map((d) => d.queue)).toEqual([q, q, q, q]);
      expect(got.map((d) => d.redelivered)).toEqual([false, false, false, false]);
      expect(Buffer.from(got[0]!.body).equals(Buffer.from(all))).toBe(true);
      expect(got[0]!.headers).toEqual(headers);
      expect(got[1]!.body.byteLength).toBe(0);
      expect(got[1]!.headers).toEqual({});
      expect(Buffer.from(got[2]!.body).equals(Buffer.from(view))).toBe(true);
      expect(Buffer.from(got[3]!.body).equals(Buffer.from(big))).toBe(true);
    });

    test('delivers the messages of one publisher in publish order', async () => {
      const q = await queue('fifo');
      const inbox = new Inbox<number>();
      await consume(b, q, (d) => {
        inbox.push(readU32(d.body));
        d.ack();
      }, 50);
      const n = 300;
      await Promise.all(Array.from({ length: n }, (_, i) => a.publish(q, u32(i))));
      const got = await inbox.waitFor(n, 'deliveries');
      expect(got).toEqual(Array.from({ length: n }, (_, i) => i));
    });

    // PublishOptions.batch: a transport may carry messages published together in one broker
    // message (the AMQP adapter does); each must still look like a message of its own.
    test('batched publishes arrive one by one, in order, each settled on its own', async () => {
      const q = await queue('batch');
      const inbox = new Inbox<number>();
      await consume(b, q, (d) => {
        inbox.push(readU32(d.body));
        d.ack();
      }, 50);
      const n = 300;
      await Promise.all(Array.from({ length: n }, (_, i) => a.publish(q, u32(i), { batch: true })));
      expect(await inbox.waitFor(n, 'deliveries')).toEqual(Array.from({ length: n }, (_, i) => i));
      // All acknowledged: a new message is the only thing left to deliver.
      await a.publish(q, u32(n));
      await inbox.waitFor(n + 1, 'deliveries');
      await roundTrips(b, q);
      expect(inbox.items).toHaveLength(n + 1);
    });

    test('a batched message nacked with requeue comes back alone; one dead-lettered is gone', async () => {
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
      expect([...new Set(inbox.items)]).toEqual(['m0', 'm1', 'm2', 'm3', 'sentinel']);
      expect([...inbox.items].sort()).toEqual(['m0', 'm1', 'm1', 'm2', 'm3', 'sentinel']);
    });

    test('a consumer cancelled while holding batched messages: the unacknowledged ones are redelivered', async () => {
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
      expect(again.map((d) => str(d.body))).toEqual(expect.arrayContaining(['m1', 'm2']));
      expect(again.every((d) => d.redelivered)).toBe(true);
    });

    test('never gives a consumer more unacknowledged deliveries than its prefetch', async () => {
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
        expect(outstanding).toBeLessThanOrEqual(2);
        const d = held.shift()!;
        outstanding -= 1;
        d.ack();
      }
      expect(maxOutstanding).toBe(2);
      expect(inbox.items).toEqual(Array.from({ length: n }, (_, i) => i));
    });

    test('ack removes the message from the queue', async () => {
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
      expect(second.items).toEqual(['sentinel']);
    });

    test('nack(requeue) redelivers the message marked redelivered', async () => {
      const q = await queue('nack-requeue');
      await a.publish(q, text('again'), { headers: { k: 'v' } });
      const inbox = new Inbox<Delivery>();
      await consume(b, q, (d) => {
        inbox.push(d);
        if (d.redelivered) d.ack();
        else d.nack(true);
      }, 1);
      const [first, second] = await inbox.waitFor(2, 'deliveries');
      expect(first!.redelivered).toBe(false);
      expect(second!.redelivered).toBe(true);
      expect(str(second!.body)).toBe('again');
      expect(second!.headers).toEqual({ k: 'v' });
    });

    testWhen(declared.requeueAtHead, 'nack(requeue) puts the message back at the head, before the messages queued behind it', async () => {
      const q = await queue('nack-head');
      for (const m of ['m0', 'm1', 'm2']) await a.publish(q, text(m));
      const inbox = new Inbox<Delivery>();
      await consume(b, q, (d) => {
        inbox.push(d);
        if (str(d.body) === 'm0' && !d.redelivered) d.nack(true);
        else d.ack();
      }, 1);
      const got = await inbox.waitFor(4, 'deliveries');
      expect(got.map((d) => `${str(d.body)}${d.redelivered ? '*' : ''}`)).toEqual(['m0', 'm0*', 'm1', 'm2']);
    });

    testWhen(!declared.requeueAtHead, 'nack(requeue) redelivers later: marked redelivered, the other messages in their order', async () => {
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
      expect(seen[0]).toBe('m0');
      expect(seen.filter((m) => m.startsWith('m0'))).toEqual(['m0', 'm0*']);
      expect(seen.filter((m) => !m.startsWith('m0'))).toEqual(['m1', 'm2', 'm3', 'sentinel']);
    });

    test('nack(false) drops the message', async () => {
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
      expect(second.items).toEqual(['sentinel']);
      expect(first.items).toEqual(['doomed']);
    });

    test('cancelling a consumer requeues its unacknowledged messages to another consumer, marked redelivered', async () => {
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
      expect(standby.items).toHaveLength(0);
      await c1.cancel();
      const got = await standby.waitFor(3, 'requeued deliveries');
      expect(got.map((d) => str(d.body))).toEqual(['m0', 'm1', 'm2']);
      expect(got.map((d) => d.redelivered)).toEqual([true, true, true]);
      // Settling a delivery of the cancelled consumer is a no-op, not an error.
      expect(() => {
        held.items[0]!.ack();
        held.items[1]!.nack(true);
        held.items[2]!.nack(false);
      }).not.toThrow();
      await a.publish(q, text('sentinel'));
      await standby.waitFor(4, 'deliveries');
      await roundTrips(b, q);
      expect(standby.items.map((d) => str(d.body))).toEqual(['m0', 'm1', 'm2', 'sentinel']);
    });

    test('closing a connection requeues its unacknowledged messages to a consumer on another connection', async () => {
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
      expect(got.map((d) => str(d.body))).toEqual(['m0', 'm1', 'm2']);
      expect(got.map((d) => d.redelivered)).toEqual([true, true, true]);
      expect(() => held.items[0]!.ack()).not.toThrow();
    });

    test('round-robins between two consumers', async () => {
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
      expect(one.items.length).toBeGreaterThan(0);
      expect(two.items.length).toBeGreaterThan(0);
      expect(Math.abs(one.items.length - two.items.length)).toBeLessThanOrEqual(2);
      expect([...one.items, ...two.items].sort((x, y) => x - y)).toEqual(Array.from({ length: n }, (_, i) => i));
    });

    testWhen(declared.singleActiveConsumer, 'single-active consumer: only the first consumer receives; the standby takes over when it is cancelled', async () => {
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
      expect(standby.items).toHaveLength(0);
      await c1.cancel();
      // The one delivery the active consumer left unacked moves to the standby.
      const requeued = await standby.waitFor(1, 'requeued delivery');
      expect(readU32(requeued[0]!.body)).toBe(5);
      expect(requeued[0]!.redelivered).toBe(true);
      await a.publish(q, u32(6));
      await a.publish(q, u32(7));
      await standby.waitFor(3, 'deliveries to the new active consumer');
      expect(standby.items.map((d) => readU32(d.body))).toEqual([5, 6, 7]);
      expect(active.items).toHaveLength(6);
    });

    test('reports the capabilities this suite was declared with', async () => {
      for (const t of [a, b]) {
        const reported = capabilitiesOf(t);
        expect({
          singleActiveConsumer: reported.singleActiveConsumer,
          requeueAtHead: reported.requeueAtHead,
          queueExpiry: reported.queueExpiry,
          leases: reported.leases ?? false,
        }).toEqual({
          singleActiveConsumer: declared.singleActiveConsumer,
          requeueAtHead: declared.requeueAtHead,
          queueExpiry: declared.queueExpiry,
          leases: declared.leases ?? false,
        });
        expect(reported.maxMessageBytes).toBeGreaterThan(0);
      }
    });

    testWhen(Number.isFinite(declared.maxMessageBytes), 'refuses a message above maxMessageBytes with a clear error, and stays usable', async () => {
      const q = await queue('too-large');
      const max = capabilitiesOf(a).maxMessageBytes;
      await expect(a.publish(q, new Uint8Array(max + 1))).rejects.toMatchObject({ code: 'MESSAGE_TOO_LARGE' });
      await expect(a.publish(q, new Uint8Array(max + 1))).rejects.toThrow(/maxMessageBytes/);
      await expect(a.broadcast(uniqueName('too-large'), new Uint8Array(max + 1))).rejects.toMatchObject({ code: 'MESSAGE_TOO_LARGE' });
      const inbox = new Inbox<number>();
      await consume(b, q, (d) => {
        inbox.push(d.body.byteLength);
        d.ack();
      }, 1);
      await a.publish(q, new Uint8Array(max));
      expect(await inbox.waitFor(1, 'delivery')).toEqual([max]);
    });

    testWhen(declared.leases === true, 'lease: one holder at a time; renewing keeps it', async () => {
      const name = uniqueName('lease-one');
      const held = await acquireLease(a, name, 5_000);
      expect(held).not.toBeNull();
      expect(await acquireLease(b, name, 5_000)).toBeNull();
      expect(await acquireLease(a, name, 5_000)).toBeNull();
      expect(await held!.renew()).toBe(true);
      expect(await acquireLease(b, name, 5_000)).toBeNull();
      const other = await acquireLease(b, uniqueName('lease-other'), 5_000);
      expect(other).not.toBeNull();
      expect(other!.id).not.toBe(held!.id);
      await held!.release();
      await other!.release();
    });

    testWhen(declared.leases === true, 'lease: once it expires unrenewed, another candidate takes it and the old holder learns it lost it', async () => {
      const name = uniqueName('lease-expiry');
      const ttl = 1_000;
      const first = await acquireLease(a, name, ttl);
      expect(first).not.toBeNull();
      const start = Date.now();
      let second: SuiteLease | null = null;
      while (!second && Date.now() - start < ttl * 5) {
        second = await acquireLease(b, name, ttl);
        if (!second) await new Promise((r) => setTimeout(r, 50));
      }
      expect(second).not.toBeNull();
      expect(Date.now() - start).toBeGreaterThanOrEqual(ttl * 0.8);
      expect(await first!.renew()).toBe(false);
      expect(await second!.renew()).toBe(true);
      await second!.release();
    });

    testWhen(declared.leases === true, 'lease: release hands it over at once', async () => {
      const name = uniqueName('lease-release');
      const first = await acquireLease(a, name, 60_000);
      expect(first).not.toBeNull();
      expect(await acquireLease(b, name, 60_000)).toBeNull();
      await first!.release();
      await first!.release();
      const second = await acquireLease(b, name, 60_000);
      expect(second).not.toBeNull();
      expect(await first!.renew()).toBe(false);
      expect(await acquireLease(a, name, 60_000)).toBeNull();
      await second!.release();
    });

    test('broadcast reaches every subscriber on both connections, and cancel stops it', async () => {
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
      expect(onA.items).toEqual(['one', 'two', 'three']);
      expect(onB2.items).toEqual(['one', 'two', 'three']);
      expect(onB.items).toEqual(['one']);
      expect(onOther.items).toEqual([]);
      await a.broadcast(uniqueName('nobody'), text('unheard'));
    });

    test('assertQueue is idempotent and keeps queued messages', async () => {
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
      expect(await inbox.waitFor(1, 'delivery')).toEqual(['kept']);
    });

    testWhen(declared.singleActiveConsumer, 'assertQueue is idempotent for a single-active queue', async () => {
      const q2 = await queue('idempotent-sac', { singleActiveConsumer: true });
      await a.assertQueue(q2, { singleActiveConsumer: true });
      await b.assertQueue(q2, { singleActiveConsumer: true });
      await a.publish(q2, text('kept'));
      const inbox = new Inbox<string>();
      await consume(b, q2, (d) => {
        inbox.push(str(d.body));
        d.ack();
      }, 1);
      expect(await inbox.waitFor(1, 'delivery')).toEqual(['kept']);
    });

    testWhen(!declared.singleActiveConsumer, 'without single-active consumers, declaring such a queue is refused, not faked', async () => {
      const q = uniqueName('no-sac');
      queues.push(q);
      await expect(a.assertQueue(q, { singleActiveConsumer: true })).rejects.toThrow(/single active consumer/i);
      await expect(a.assertQueue(q, { singleActiveConsumer: true })).rejects.toMatchObject({ code: 'UNSUPPORTED' });
      // Nothing was declared: publishing to it still fails.
      await expect(a.publish(q, text('x'))).rejects.toMatchObject({ code: 'NO_SUCH_QUEUE' });
    });

    test('publishing to or consuming from a missing queue rejects; the transport stays usable', async () => {
      const missing = uniqueName('missing');
      await expect(a.publish(missing, text('lost'))).rejects.toThrow();
      await expect(b.consume(missing, (d) => d.ack(), { prefetch: 1 })).rejects.toThrow();
      const q = await queue('after-missing');
      const inbox = new Inbox<string>();
      await consume(b, q, (d) => {
        inbox.push(str(d.body));
        d.ack();
      }, 1);
      await a.publish(q, text('fine'));
      expect(await inbox.waitFor(1, 'delivery')).toEqual(['fine']);
    });

    test('close() is idempotent, stops the transport and leaves no open handles', async () => {
      const baseline = activeHandles();
      const fresh = await factory();
      const statuses: TransportStatus[] = [];
      fresh.a.status$.subscribe((s) => statuses.push(s));
      expect(statuses).toEqual(['connecting']);
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
      expect(statuses).toEqual(['connecting', 'connected', 'closed']);
      await expect(fresh.a.publish(q, text('late'))).rejects.toThrow();
      await expect(fresh.b.assertQueue(q)).rejects.toThrow();
      // Sockets finish closing asynchronously after close() resolves; poll, bounded.
      const deadline = Date.now() + WAIT_MS;
      while (extraHandles(baseline).length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      expect(extraHandles(baseline)).toEqual([]);
    });

    test("connect() is idempotent: a second call resolves and does not re-emit 'connected'", async () => {
      const seen: TransportStatus[] = [];
      a.status$.subscribe((s) => seen.push(s));
      await a.connect();
      await Promise.all([b.connect(), b.connect()]);
      expect(seen).toEqual(['connected']);
      await a.assertQueue(await queue('reconnect-idempotent'));
    });

    test('connect() after close() rejects: a closed transport stays closed', async () => {
      await a.close();
      await expect(a.connect()).rejects.toThrow();
      await expect(a.assertQueue(uniqueName('after-close'))).rejects.toThrow();
    });

    test("status$ reports 'connected', then 'closed' and completes", async () => {
      const seen: TransportStatus[] = [];
      let completed = false;
      a.status$.subscribe({ next: (s) => seen.push(s), complete: () => (completed = true) });
      expect(seen).toEqual(['connected']);
      await a.close();
      expect(seen).toEqual(['connected', 'closed']);
      expect(completed).toBe(true);
    });
  });
}
