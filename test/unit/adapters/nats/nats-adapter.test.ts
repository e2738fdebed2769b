/** The NATS adapter's pure parts: names, headers, URLs, options, the delivery ledger. No server needed. */
import { serversAndCredentials } from '../../../../adapters/nats/connection';
import { decodeHeaders, encodeHeaders, TYPES_HEADER } from '../../../../adapters/nats/headers';
import { adoptCopy, DeliveryLedger, messageKey, parseAckSubject, SETTLED_REMEMBERED, type HeldDelivery } from '../../../../adapters/nats/ledger';
import { escapeName, Naming } from '../../../../adapters/nats/naming';
import { resolveNatsOptions } from '../../../../adapters/nats/options';

describe('NATS adapter: naming', () => {
  test('escapeName is injective on tricky inputs and yields valid subject tokens and stream names', () => {
    const inputs = ['a.b', 'a_b', 'a=2Eb', 'a=5Fb', 'a b', 'a*b', 'a>b', 'a/b', 'é', '_', '.', '=', '', 'A-z09', 't1:raybus.broker'];
    const out = inputs.map(escapeName);
    expect(new Set(out).size).toBe(inputs.length);
    for (const token of out) expect(token).toMatch(/^[A-Za-z0-9_=-]*$/);
    expect(escapeName('raybus.actor.7')).toBe('raybus_actor_7');
    expect(escapeName('t1:raybus.broker')).toBe('t1=3Araybus_broker');
  });

  test('long queue names get a bounded stream name ending in a hash; subjects keep the whole name', () => {
    const n = new Naming('raybus');
    const long = `raybus.reply.${'x'.repeat(400)}`;
    const other = `${long}y`;
    expect(n.queue(long).stream.length).toBeLessThanOrEqual(200);
    expect(n.queue(long).stream).toMatch(/==[0-9a-f]{32}$/);
    expect(n.queue(long).stream).not.toBe(n.queue(other).stream);
    expect(n.queue(long).subject).toBe(`raybus.q.${escapeName(long)}`);
    expect(n.topic('raybus.events.x')).toBe('raybus.t.raybus_events_x');
  });
});

describe('NATS adapter: headers', () => {
  test('every value kind round-trips; only non-plain values are typed', () => {
    const input = { s: 'text', empty: '', n: 42, f: -1.5, t: true, no: false, spaced: ' x ', nl: 'a\nb', uni: 'é✓' };
    const encoded = encodeHeaders(input)!;
    expect(JSON.parse(encoded.headers.get(TYPES_HEADER))).toEqual({ n: 'n', f: 'n', t: 'b', no: 'b', spaced: 'j', nl: 'j' });
    expect(decodeHeaders(encoded.headers)).toEqual(input);
    expect(encodeHeaders({})).toBeUndefined();
  });

  test('unusable or reserved names are refused', () => {
    for (const bad of ['a b', 'a:b', 'Nats-Msg-Id', TYPES_HEADER, '']) {
      expect(() => encodeHeaders({ [bad]: 'x' })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    }
  });
});

describe('NATS adapter: URLs and options', () => {
  test('credentials in the URL become client options', () => {
    expect(serversAndCredentials('nats://u%40x:p%3Aw@h1:4222, nats://h2:4222')).toEqual({ servers: ['nats://h1:4222', 'nats://h2:4222'], user: 'u@x', pass: 'p:w' });
    expect(serversAndCredentials('nats://s3cr3t@h:4222')).toEqual({ servers: ['nats://h:4222'], token: 's3cr3t' });
    expect(serversAndCredentials('127.0.0.1:4222')).toEqual({ servers: ['127.0.0.1:4222'] });
  });

  test('options are validated synchronously', () => {
    expect(resolveNatsOptions().namespace).toBe('raybus');
    expect(() => resolveNatsOptions({ namespace: 'a_b' })).toThrow(RangeError);
    expect(() => resolveNatsOptions({ ackWaitMs: 10 })).toThrow(RangeError);
    expect(() => resolveNatsOptions({ nope: 1 } as never)).toThrow(TypeError);
    expect(resolveNatsOptions({ reconnectAttempts: Infinity }).reconnectAttempts).toBe(Infinity);
  });

  test('the options raybus opens every transport with are taken: maxDelayMs caps the reconnect wait; caFile must exist', () => {
    expect(resolveNatsOptions({ maxDelayMs: 200 }).reconnectTimeWaitMs).toBe(200);
    expect(resolveNatsOptions({ maxDelayMs: 2000 }).reconnectTimeWaitMs).toBe(500);
    expect(resolveNatsOptions({ caFile: __filename }).caFile).toBe(__filename);
    expect(() => resolveNatsOptions({ caFile: '/no/such/ca.pem' })).toThrow(/caFile.*no such file/);
    expect(() => resolveNatsOptions({ caFile: '' })).toThrow(TypeError);
    expect(resolveNatsOptions({}).keepAlive).toBe(true);
    expect(resolveNatsOptions({ keepAlive: false }).keepAlive).toBe(false);
    expect(() => resolveNatsOptions({ keepAlive: 'no' } as never)).toThrow(/keepAlive/);
  });
});

describe('NATS adapter: delivery ledger', () => {
  // Ack subjects as nats-server 2.9 sends them: the 2.9.10 sequence that delivered m2 twice.
  const first = '$JS.ACK.ns_q_x.raybus-queue.2.3.5.1796419899508108206.1';
  const again = '$JS.ACK.ns_q_x.raybus-queue.1.3.6.1796419899508108206.0';

  test('ack subjects are read in both forms; anything else is not one', () => {
    expect(parseAckSubject(first)).toEqual({ stream: 'ns_q_x', delivered: 2, streamSeq: 3, timestamp: '1796419899508108206' });
    expect(parseAckSubject('$JS.ACK.hub.ACCHASH.ns_q_x.raybus-queue.4.9.12.1796419899508108206.0.tok')).toEqual({
      stream: 'ns_q_x',
      delivered: 4,
      streamSeq: 9,
      timestamp: '1796419899508108206',
    });
    for (const bad of ['_INBOX.abc', '$JS.ACK.s.c.x.3.5.1.0', '$JS.ACK.s.c.1.0.5.1.0', '$JS.ACK.s.c.1.3.5', '$JS.API.CONSUMER.INFO.s.c.1.2.3']) {
      expect(parseAckSubject(bad)).toBeUndefined();
    }
  });

  test('every copy of a stored message has one key; the same sequence of a stream made again does not', () => {
    expect(messageKey(first, parseAckSubject(first))).toBe(messageKey(again, parseAckSubject(again)));
    const remade = '$JS.ACK.ns_q_x.raybus-queue.1.3.1.1796419999000000000.0';
    expect(messageKey(remade, parseAckSubject(remade))).not.toBe(messageKey(first, parseAckSubject(first)));
    expect(messageKey('odd', undefined)).toBe('odd');
  });

  test('a held message has one holder, which takes over the newest copy; only its own release frees it', () => {
    const ledger = new DeliveryLedger();
    const key = messageKey(first, parseAckSubject(first));
    const held: HeldDelivery = { reply: first, touched: 1 };
    ledger.hold(key, held);
    adoptCopy(ledger.holder(key)!, again, 2);
    expect(held).toEqual({ reply: again, touched: 2 });
    ledger.release(key, { reply: first, touched: 1 });
    expect(ledger.holder(key)).toBe(held);
    ledger.release(key, held);
    expect(ledger.holder(key)).toBeUndefined();
    expect(ledger.settlement(key)).toBeUndefined();
  });

  test('a settled message is remembered as settled (no longer held), the oldest forgotten first', () => {
    const ledger = new DeliveryLedger();
    const held: HeldDelivery = { reply: first, touched: 1 };
    ledger.hold('k0', held);
    ledger.settle('k0', held, 'ack');
    expect(ledger.holder('k0')).toBeUndefined();
    expect(ledger.settlement('k0')).toBe('ack');
    const other: HeldDelivery = { reply: again, touched: 1 };
    ledger.settle('k1', other, 'term');
    for (let i = 2; i < SETTLED_REMEMBERED; i++) ledger.settle(`k${i}`, other, 'ack');
    expect(ledger.settlement('k0')).toBe('ack');
    ledger.settle(`k${SETTLED_REMEMBERED}`, other, 'ack');
    expect(ledger.settlement('k0')).toBeUndefined();
    expect(ledger.settlement('k1')).toBe('term');
  });
});
