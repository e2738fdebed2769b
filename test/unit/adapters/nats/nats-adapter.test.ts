/** The NATS adapter's pure parts: names, headers, URLs, options. No server needed. */
import { serversAndCredentials } from '../../../../adapters/nats/connection';
import { decodeHeaders, encodeHeaders, TYPES_HEADER } from '../../../../adapters/nats/headers';
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
});
