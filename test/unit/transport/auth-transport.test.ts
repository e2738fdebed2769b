import { createCipheriv, createHmac, hkdfSync } from 'node:crypto';
import { InMemoryBus } from '../../../src/transport/in-memory-transport';
import { POLY1305_FROM, createAuthTransport } from '../../../src/transport/auth-transport';
import { SimulatedClock } from '../../../src/util/simulated-clock';
import { ClusterTransport } from '../../../src/transport/cluster-transport';
import { parseClusterAddress } from '../../../src/transport/cluster-address';
import { GatheredBytes } from '../../../src/serialization/gathered-bytes';
import { writeEnvelope } from '../../../src/serialization/envelope-writer';
import { encodeEnvelope } from '../../../src/serialization/serializer';
import { AUTHENTICATED_HEADER, type Delivery, type Transport } from '../../../src/transport/transport';

const KEY = 'a'.repeat(64);
const derived = (info: string): Buffer => Buffer.from(hkdfSync('sha256', Buffer.from(KEY), Buffer.from('raybus cluster key v1'), Buffer.from(info), 32));
const MAC_KEY = derived('message authentication');
const SENDER_ROOT = derived('message authentication, per sender');

/** A receiver on queue `q` with key KEY, a sender, a raw (unkeyed) bus user, and a sealer that captures bytes. */
async function setup(opts: { encrypt?: boolean } = {}) {
  const bus = new InMemoryBus();
  const clock = new SimulatedClock(1_000_000);
  const rejects: string[] = [];
  const raw = bus.connect();
  const sender = createAuthTransport(bus.connect(), { key: KEY, encrypt: opts.encrypt, clock });
  const receiver = createAuthTransport(bus.connect(), { key: KEY, encrypt: opts.encrypt, clock, onReject: (r) => rejects.push(r) });
  await Promise.all([raw.connect(), sender.connect(), receiver.connect()]);
  await raw.assertQueue('q');
  const got: Delivery[] = [];
  await receiver.consume('q', (d) => {
    got.push(d);
    d.ack();
  }, { prefetch: 0 });
  /** The bytes a key holder would put on the bus for `queue` (captured, not delivered). */
  const sealFor = async (queue: string, payload: string | Buffer, key = KEY): Promise<Uint8Array> => {
    let captured: Uint8Array | undefined;
    const capture = { kind: 'capture', publish: async (_q: string, b: Uint8Array) => void (captured = b) } as unknown as Transport;
    await createAuthTransport(capture, { key, encrypt: opts.encrypt, clock }).publish(queue, typeof payload === 'string' ? Buffer.from(payload) : payload);
    return captured!;
  };
  return { bus, raw, sender, receiver, got, rejects, clock, sealFor };
}

const text = (d: Delivery): string => Buffer.from(d.body).toString();

describe('AuthTransport', () => {
  it('seals a payload under POLY1305_FROM with HMAC-SHA256 over destination, header and payload, and opens it', async () => {
    const { sealFor, raw, got } = await setup();
    const sizes = [0, 5, 5000, POLY1305_FROM - 1];
    for (const size of sizes) {
      const payload = 'x'.repeat(size);
      const sealed = Buffer.from(await sealFor('q', payload));
      const header = sealed.subarray(0, 28);
      expect([header[2], header[3]]).toEqual([1, 0]);
      expect(sealed.subarray(28, sealed.length - 32).equals(Buffer.from(payload))).toBe(true);
      const mac = createHmac('sha256', MAC_KEY).update('q').update('\0').update(header).update(Buffer.from(payload)).digest();
      expect(sealed.subarray(sealed.length - 32).equals(mac)).toBe(true);
      await raw.publish('q', sealed);
    }
    expect(got.map((d) => d.body.byteLength)).toEqual(sizes);
  });

  it('seals a larger payload with a Poly1305 tag under the sender\'s own key, its sequence number the nonce, and opens it', async () => {
    const { sealFor, raw, got, rejects } = await setup();
    const sizes = [POLY1305_FROM, 70 * 1024, 3 * 1024 * 1024];
    for (const size of sizes) {
      const payload = Buffer.alloc(size, size & 0xff);
      const sealed = Buffer.from(await sealFor('q', payload));
      const header = sealed.subarray(0, 28);
      expect([header[2], header[3]]).toEqual([2, 0]);
      expect(sealed.subarray(28, sealed.length - 16).equals(payload)).toBe(true);
      // Computed here from the definition: the sender's key from its id, one associated data.
      const senderKey = Buffer.from(hkdfSync('sha256', SENDER_ROOT, header.subarray(4, 12), Buffer.from('raybus sender mac key'), 32));
      const nonce = Buffer.concat([Buffer.alloc(4), header.subarray(12, 20)]);
      const mac = createCipheriv('chacha20-poly1305', senderKey, nonce, { authTagLength: 16 });
      mac.setAAD(Buffer.concat([Buffer.from('q\0'), header, payload]), { plaintextLength: 0 });
      mac.final();
      expect(sealed.subarray(sealed.length - 16).equals(mac.getAuthTag())).toBe(true);
      await raw.publish('q', sealed);
    }
    expect(got.map((d) => d.body.byteLength)).toEqual(sizes);
    expect(rejects).toEqual([]);
  });

  it('refuses a large message altered anywhere, sealed for another queue, under another key or another sender id', async () => {
    const s = await setup();
    const payload = Buffer.alloc(20_000, 7);
    const good = Buffer.from(await s.sealFor('q', payload));
    const altered = (at: number): Buffer => {
      const b = Buffer.from(good);
      b[at]! ^= 1;
      return b;
    };
    // payload, tag, sequence number (the nonce), timestamp, sender id (another sender's key), flags
    for (const at of [28 + 100, good.length - 1, 19, 27, 5, 3]) await s.raw.publish('q', altered(at));
    await s.raw.publish('q', await s.sealFor('another-queue', payload));
    await s.raw.publish('q', await s.sealFor('q', payload, 'b'.repeat(64)));
    // An HMAC-sealed message whose version claims a Poly1305 tag: refused, whatever its length.
    const small = Buffer.from(await s.sealFor('q', 'short'));
    small[2] = 2;
    await s.raw.publish('q', small);
    expect(s.got).toHaveLength(0);
    expect(s.rejects).toHaveLength(9);
    expect(s.rejects.every((r) => /bad seal/.test(r))).toBe(true);
    // The untouched one still opens.
    await s.raw.publish('q', good);
    expect(s.got.map((d) => d.body.byteLength)).toEqual([20_000]);
  });

  it('still opens a large message sealed with HMAC-SHA256, as senders before Poly1305 tags made them', async () => {
    const { raw, got, rejects, clock } = await setup();
    const payload = Buffer.alloc(100_000, 3);
    let captured: Buffer | undefined;
    const capture = { kind: 'capture', publish: async (_q: string, b: Uint8Array) => void (captured = Buffer.from(b)) } as unknown as Transport;
    await createAuthTransport(capture, { key: KEY, clock }).publish('q', Buffer.from('x'));
    // The header of a real seal, with the HMAC of the large payload: the older format.
    const header = Buffer.from(captured!.subarray(0, 28));
    const mac = createHmac('sha256', MAC_KEY).update('q').update('\0').update(header).update(payload).digest();
    await raw.publish('q', Buffer.concat([header, payload, mac]));
    expect(got.map((d) => d.body.byteLength)).toEqual([100_000]);
    expect(rejects).toEqual([]);
  });

  it('seals a gathered message from its parts, leaving its arrays uncopied, and the receiver gets the whole message', async () => {
    for (const encrypt of [false, true]) {
      const { sender, got, rejects } = await setup({ encrypt });
      const big = Buffer.alloc(200_000, 9);
      const value = { t: 'blob-chunk', at: 3, bytes: big, tail: 'after' };
      const gathered = writeEnvelope(value, true)!;
      expect(gathered instanceof GatheredBytes && gathered.gathered).toBe(true);
      await sender.publish('q', gathered);
      expect(rejects).toEqual([]);
      expect(got).toHaveLength(1);
      expect(Buffer.from(got[0]!.body).equals(Buffer.from(encodeEnvelope(value)))).toBe(true);
      // Read from its parts when not encrypting: the arrays were never copied into the message.
      expect((gathered as GatheredBytes).gathered).toBe(!encrypt);
      expect(big.every((b) => b === 9)).toBe(true);
    }
  });

  it("says it takes gathered messages, and the cluster's naming over it says so too (over a bare bus, not)", () => {
    const bus = new InMemoryBus();
    const address = parseClusterAddress('amqp://h/?cluster=c1');
    expect(new ClusterTransport(createAuthTransport(bus.connect(), { key: KEY }), address).takesGathered).toBe(true);
    expect(new ClusterTransport(bus.connect(), address).takesGathered).toBe(false);
  });

  it('delivers what a key holder sends, marked authenticated, and nothing else', async () => {
    const { raw, sender, got, rejects, receiver } = await setup();
    await sender.publish('q', Buffer.from('hello'));
    await raw.publish('q', Buffer.from('forged, no seal'));
    expect(got.map(text)).toEqual(['hello']);
    expect(got[0]!.headers[AUTHENTICATED_HEADER]).toMatch(/^[0-9a-f]{16}$/);
    expect(rejects).toEqual([expect.stringMatching(/not sealed with a cluster key/)]);
    expect(receiver.stats()).toEqual({ accepted: 1, rejected: { 'not sealed with a cluster key': 1 } });
  });

  it('refuses another key, an altered payload, and a message sealed for another queue', async () => {
    const s = await setup();
    await s.raw.publish('q', await s.sealFor('q', 'other key', 'b'.repeat(64)));
    const altered = Buffer.from(await s.sealFor('q', 'pay 10'));
    altered[28] = 'P'.charCodeAt(0);
    await s.raw.publish('q', altered);
    await s.raw.publish('q', await s.sealFor('another-queue', 'meant elsewhere'));
    expect(s.got).toHaveLength(0);
    expect(s.rejects).toHaveLength(3);
    expect(s.rejects.every((r) => /bad seal/.test(r))).toBe(true);
  });

  it('refuses a replay and an old message, unless the bus itself redelivers it', async () => {
    const s = await setup();
    const once = await s.sealFor('q', 'run once');
    await s.raw.publish('q', once);
    await s.raw.publish('q', once);
    expect(s.got.map(text)).toEqual(['run once']);
    expect(s.rejects).toEqual([expect.stringMatching(/seen before \(a replay\)/)]);
    const stale = await s.sealFor('q', 'stale');
    await s.clock.advance(16 * 60_000);
    await s.raw.publish('q', stale);
    expect(s.got).toHaveLength(1);
    expect(s.rejects[1]).toMatch(/too old/);
    // A delivery the bus marks redelivered (its consumer died before acking) still counts.
    const second = createAuthTransport(s.bus.connect(), { key: KEY, clock: s.clock });
    await second.connect();
    await s.raw.assertQueue('r');
    await s.sender.publish('r', Buffer.from('work'));
    const firstTry = s.bus.connect();
    await firstTry.connect();
    await new Promise<void>((resolve) => void firstTry.consume('r', () => resolve(), { prefetch: 1 }));
    await firstTry.close(); // unacked: requeued, marked redelivered
    const again: string[] = [];
    await second.consume('r', (d) => {
      again.push(`${text(d)} redelivered=${d.redelivered}`);
      d.ack();
    }, { prefetch: 0 });
    expect(again).toEqual(['work redelivered=true']);
  });

  it("opens each of a sender's last 4,096 sequence numbers on a queue once, in any order, and refuses older ones", async () => {
    const { raw, got, rejects, clock } = await setup();
    // Messages 1..12,400 of one sender to 'q' (message n has sequence number n), captured unsent.
    const sealed: Uint8Array[] = [];
    const capture = { kind: 'capture', publish: async (_q: string, b: Uint8Array) => void sealed.push(b) } as unknown as Transport;
    const one = createAuthTransport(capture, { key: KEY, clock });
    for (let n = 1; n <= 12_400; n++) await one.publish('q', Buffer.from(String(n)));
    /** Deliver messages `seqs` in this order: those that opened, and how many were refused as replays. */
    const deliver = async (...seqs: number[]): Promise<{ opened: number[]; refused: number }> => {
      for (const n of seqs) await raw.publish('q', sealed[n - 1]!);
      const refused = rejects.splice(0);
      expect(refused.every((r) => /seen before \(a replay\)/.test(r))).toBe(true);
      return { opened: got.splice(0).map((d) => Number(text(d))), refused: refused.length };
    };

    // Out of order within the window: each opens once.
    expect(await deliver(10, 8, 9, 8, 10, 1)).toEqual({ opened: [10, 8, 9, 1], refused: 2 });
    // A step of less than a window: the window is now 5..4,100. 4 and 1 are too far behind, 8
    // was seen; 5 and 6, never seen, open once, as does 4,097, which took 1's place.
    expect(await deliver(4_100, 4, 5, 8, 6, 6, 4_099, 4_099, 1, 4_097)).toEqual({ opened: [4_100, 5, 6, 4_099, 4_097], refused: 5 });
    // A step onto remembered places: 4,105 takes 9's (9 is now too far behind), while 10, seen,
    // stays seen; 4,101 to 4,104 take the places of 5 to 8, and open once.
    expect(await deliver(4_105, 9, 10, 4_101, 4_105, 4_104, 4_101)).toEqual({ opened: [4_105, 4_101, 4_104], refused: 4 });
    // A step of more than a window: everything before 4,205 is too far behind, and the rest opens once.
    expect(await deliver(8_300, 4_205, 4_204, 4_105, 8_299, 8_300)).toEqual({ opened: [8_300, 4_205, 8_299], refused: 3 });
    // A step of exactly a window: 8,300 (the highest before) is then just too far behind, 8,301 not.
    expect(await deliver(12_396, 8_300, 8_301, 8_301)).toEqual({ opened: [12_396, 8_301], refused: 2 });
  });

  it('decides each delivery as a set of the last 4,096 numbers would, over random steps, repeats and stragglers', async () => {
    const { raw, got, rejects, clock } = await setup();
    const N = 120_000;
    const sealed: Uint8Array[] = [];
    const capture = { kind: 'capture', publish: async (_q: string, b: Uint8Array) => void sealed.push(b) } as unknown as Transport;
    const one = createAuthTransport(capture, { key: KEY, clock });
    for (let n = 1; n <= N; n++) await one.publish('q', Buffer.from(String(n)));
    // A seeded generator (mulberry32): steps forward of 1 to 10, now and then of up to 6,000,
    // and numbers up to 5,000 behind the highest, some of them delivered before.
    let state = 0x5eed;
    const random = (): number => {
      state = (state + 0x6d2b79f5) | 0;
      let t = Math.imul(state ^ (state >>> 15), 1 | state);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
    };
    const seen = new Set<number>();
    let max = 0;
    const expected: number[] = [];
    for (let i = 0; i < 12_000; i++) {
      const n = random() < 0.4 ? Math.min(N, max + 1 + Math.floor(random() * (random() < 0.995 ? 10 : 6_000))) : Math.max(1, max - Math.floor(random() * 5_000));
      if (n > max - 4_096 && !seen.has(n)) {
        seen.add(n);
        expected.push(n);
        max = Math.max(max, n);
      }
      await raw.publish('q', sealed[n - 1]!);
      // The bus hands out a few hundred deliveries per event-loop turn: let it take its turns.
      if (i % 100 === 99) await new Promise((resolve) => setImmediate(resolve));
    }
    await new Promise((resolve) => setImmediate(resolve));
    expect(got.map((d) => Number(text(d)))).toEqual(expected);
    expect(expected.length).toBeGreaterThan(4_000);
    expect(max).toBeLessThan(N);
    expect(rejects).toHaveLength(12_000 - expected.length);
  });

  it('keeps a window per sender and queue, however their messages interleave', async () => {
    const { raw, got, rejects, clock, bus } = await setup();
    const receiverR = createAuthTransport(bus.connect(), { key: KEY, clock, onReject: (r) => rejects.push(r) });
    await receiverR.connect();
    await raw.assertQueue('r');
    const gotR: string[] = [];
    await receiverR.consume('r', (d) => {
      gotR.push(text(d));
      d.ack();
    }, { prefetch: 0 });
    const sealer = (): { seal: (queue: string, body: string) => Promise<Uint8Array> } => {
      let out: Uint8Array | undefined;
      const capture = { kind: 'capture', publish: async (_q: string, b: Uint8Array) => void (out = b) } as unknown as Transport;
      const t = createAuthTransport(capture, { key: KEY, clock });
      return { seal: async (queue, body) => (await t.publish(queue, Buffer.from(body)), out!) };
    };
    const a = sealer();
    const b = sealer();
    // Sender a's numbers 1 and 2 go to q, 3 to r; sender b's 1 and 2 to q.
    const [a1, a2, a3, b1, b2] = [await a.seal('q', 'a1'), await a.seal('q', 'a2'), await a.seal('r', 'a3'), await b.seal('q', 'b1'), await b.seal('q', 'b2')];
    for (const [queue, m] of [['q', a1], ['q', b1], ['q', a1], ['r', a3], ['q', b2], ['q', b1], ['r', a3], ['q', a2], ['q', a2]] as const) await raw.publish(queue, m);
    expect(got.map(text)).toEqual(['a1', 'b1', 'b2', 'a2']);
    expect(gotR).toEqual(['a3']);
    expect(rejects).toHaveLength(4);
    expect(rejects.every((r) => /seen before \(a replay\)/.test(r))).toBe(true);
  });

  it('encrypts payloads so the bus cannot read them, and refuses plain ones where a cluster encrypts', async () => {
    const s = await setup({ encrypt: true });
    await s.sender.publish('q', Buffer.from('secret value 42'));
    expect(s.got.map(text)).toEqual(['secret value 42']);
    expect(Buffer.from(await s.sealFor('q', 'secret value 42')).includes(Buffer.from('secret value'))).toBe(false);
    const plain = createAuthTransport(s.bus.connect(), { key: KEY, clock: s.clock });
    await plain.connect();
    await plain.publish('q', Buffer.from('plain'));
    expect(s.got).toHaveLength(1);
    expect(s.rejects).toEqual([expect.stringMatching(/not encrypted, but this cluster encrypts/)]);
  });

  it('authenticates broadcasts too', async () => {
    const s = await setup();
    const heard: string[] = [];
    await s.receiver.subscribe('topic', (b) => heard.push(Buffer.from(b).toString()));
    await s.sender.broadcast('topic', Buffer.from('owner died'));
    await s.raw.broadcast('topic', Buffer.from('forged owner died'));
    expect(heard).toEqual(['owner died']);
  });
});
