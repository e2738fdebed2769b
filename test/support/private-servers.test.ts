/**
 * The private brokers the suites that restart a broker use: each runs on its own port and
 * data, keeps durable data across a restart, and leaves nothing behind when stopped.
 */
import { existsSync } from 'node:fs';
import * as net from 'node:net';
import { connect } from 'amqplib';
import { answers } from './server-process';
import { describeWithPrivateNats, startPrivateNats, type PrivateNats } from './private-nats';
import { describeWithPrivateRabbitMQ, startPrivateRabbitMQ, type PrivateRabbitMQ } from './private-rabbitmq';

/** How many messages the durable queue `q` holds on the broker at `url`, and its first one. */
async function peek(url: string, q: string): Promise<{ count: number; first?: string }> {
  const conn = await connect(url);
  try {
    const ch = await conn.createChannel();
    const { messageCount } = await ch.checkQueue(q);
    const msg = await ch.get(q, { noAck: false });
    if (msg) ch.nack(msg, false, true);
    await ch.close();
    return { count: messageCount, ...(msg ? { first: msg.content.toString() } : {}) };
  } finally {
    await conn.close();
  }
}

describeWithPrivateRabbitMQ('a private RabbitMQ node', () => {
  let rabbit: PrivateRabbitMQ;
  beforeAll(async () => {
    rabbit = await startPrivateRabbitMQ();
  }, 90_000);
  afterAll(() => rabbit?.stop(), 60_000);

  test('its own node and port; durable queues keep persistent messages across restart() and restart({ wholeNode }); stop() leaves nothing', async () => {
    expect(rabbit.port).not.toBe(5672);
    expect(rabbit.nodeName).toMatch(/^raybus-test-[0-9a-f]{8}@localhost$/);
    const conn = await connect(rabbit.url);
    const ch = await conn.createConfirmChannel();
    await ch.assertQueue('durable-q', { durable: true });
    ch.sendToQueue('durable-q', Buffer.from('kept'), { persistent: true });
    await ch.waitForConfirms();
    const closed = new Promise((resolve) => conn.once('close', resolve));

    await rabbit.restart();
    await closed; // the restart dropped every connection
    expect(await peek(rabbit.url, 'durable-q')).toEqual({ count: 1, first: 'kept' });
    expect(await rabbit.ctl(['list_queues', '--no-table-headers', '-q', 'name'])).toContain('durable-q');

    await rabbit.restart({ wholeNode: true });
    expect(await peek(rabbit.url, 'durable-q')).toEqual({ count: 1, first: 'kept' });

    const { port, dir } = rabbit;
    await rabbit.stop();
    expect(await answers(port)).toBe(false);
    expect(existsSync(dir)).toBe(false);
  }, 120_000);
});

/** Send raw NATS protocol lines and collect what the server answers until `until` matches. */
function natsExchange(port: number, lines: string[], until: RegExp, timeoutMs = 5000): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: '127.0.0.1', port });
    let got = '';
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`no ${until} from NATS within ${timeoutMs} ms; got: ${got}`));
    }, timeoutMs);
    sock.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    sock.once('connect', () => sock.write(['CONNECT {"verbose":false,"headers":true}', ...lines, ''].join('\r\n')));
    sock.on('data', (d: Buffer) => {
      got += d.toString();
      if (until.test(got)) {
        clearTimeout(timer);
        sock.destroy();
        resolve(got);
      }
    });
  });
}

/** A JetStream API request over raw protocol; resolves with the JSON reply. */
async function jsRequest(port: number, subject: string, body: object = {}): Promise<Record<string, unknown>> {
  const payload = JSON.stringify(body);
  const out = await natsExchange(port, ['SUB _INBOX.t 1', `PUB ${subject} _INBOX.t ${Buffer.byteLength(payload)}`, payload], /MSG _INBOX\.t 1 \d+\r\n.*\r\n/);
  const json = /MSG _INBOX\.t 1 \d+\r\n(.*)\r\n/.exec(out)![1]!;
  return JSON.parse(json) as Record<string, unknown>;
}

describeWithPrivateNats('a private NATS server', () => {
  let nats: PrivateNats;
  beforeAll(async () => {
    nats = await startPrivateNats();
  }, 30_000);
  afterAll(() => nats?.stop(), 30_000);

  test('its own port with JetStream; a stream keeps its messages across restart(); stop() leaves nothing', async () => {
    expect(nats.port).not.toBe(4222);
    expect(nats.url).toBe(`nats://127.0.0.1:${nats.port}`);
    const info = await natsExchange(nats.port, ['PING'], /PONG/);
    expect(info).toMatch(/^INFO .*"jetstream":true/);
    const created = await jsRequest(nats.port, '$JS.API.STREAM.CREATE.KEEP', { name: 'KEEP', subjects: ['keep.>'], storage: 'file' });
    expect(created.error).toBeUndefined();
    const ack = await natsExchange(nats.port, ['SUB _INBOX.a 1', 'PUB keep.one _INBOX.a 4', 'kept'], /MSG _INBOX\.a/);
    expect(ack).toContain('"stream":"KEEP"');

    const port = nats.port;
    await nats.restart();
    expect(nats.port).toBe(port);
    const stream = await jsRequest(nats.port, '$JS.API.STREAM.INFO.KEEP');
    expect((stream.state as { messages: number }).messages).toBe(1);

    const dir = nats.storeDir;
    await nats.stop();
    expect(await answers(port)).toBe(false);
    expect(existsSync(dir)).toBe(false);
  }, 60_000);
});
