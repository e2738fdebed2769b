/**
 * Test helpers for suites that need a RabbitMQ broker: its address, a reachability probe, and
 * `describeWithBroker`, which skips (with a warning) when no broker answers, or fails when
 * `CI=true`, because CI always provides one.
 */
import { spawn, spawnSync } from 'node:child_process';

/** The broker the AMQP tests use. */
export const AMQP_TEST_URL = process.env.RAYBUS_TEST_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';

/** The command that runs rabbitmqctl against that broker (e.g. `docker exec rabbit rabbitmqctl`). */
export const RABBITMQCTL = (process.env.RAYBUS_TEST_RABBITMQCTL ?? 'rabbitmqctl').split(/\s+/).filter(Boolean);

export function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return url;
  }
}

/**
 * Why no AMQP broker answers at `url`, or undefined when one does. Sends the AMQP 0-9-1 protocol
 * header and waits for the first byte of connection.start. Synchronous (a child process), because jest declares tests
 * synchronously.
 */
export function probeBroker(url: string = AMQP_TEST_URL): string | undefined {
  let host: string;
  let port: number;
  let tls: boolean;
  try {
    const u = new URL(url);
    host = u.hostname.replace(/^\[|\]$/g, '');
    tls = u.protocol === 'amqps:';
    port = Number(u.port) || (tls ? 5671 : 5672);
  } catch {
    return `unparseable address '${url}'`;
  }
  const script = `
    const net = require('node:net');
    const sock = net.connect({ host: process.argv[1], port: Number(process.argv[2]) });
    const fail = (why) => { process.stdout.write(why); process.exit(1); };
    sock.setTimeout(2000, () => fail('no answer within 2 s'));
    sock.on('error', (e) => fail(e.code || e.message));
    // Over TLS a TCP answer has to do; in the clear, the broker must answer the AMQP header.
    sock.on('connect', () => process.argv[3] === 'tls' ? process.exit(0) : sock.write(Buffer.from('AMQP\\x00\\x00\\x09\\x01', 'latin1')));
    sock.on('data', (d) => { sock.destroy(); d[0] === 1 ? process.exit(0) : fail('not an AMQP 0-9-1 broker'); });
  `;
  const res = spawnSync(process.execPath, ['-e', script, host, String(port), tls ? 'tls' : 'plain'], { timeout: 5000, encoding: 'utf8' });
  if (res.status === 0) return undefined;
  return res.stdout || res.error?.message || `probe exited with ${String(res.status ?? res.signal)}`;
}

/**
 * `describe` when the broker answers. Otherwise: with `CI=true`, a suite with one failing test
 * that says why; elsewhere a skipped suite and a console warning.
 */
export function describeWithBroker(title: string, body: () => void): void {
  const problem = probeBroker();
  if (problem === undefined) {
    describe(title, body);
    return;
  }
  const why = `no AMQP broker answers at ${redact(AMQP_TEST_URL)} (${problem})`;
  if (process.env.CI === 'true') {
    describe(title, () => {
      test('needs a RabbitMQ broker', () => {
        throw new Error(`${why}. CI must provide RabbitMQ; set RAYBUS_TEST_AMQP_URL to its address.`);
      });
    });
    return;
  }
  console.warn(`Skipping "${title}": ${why}. Start RabbitMQ or set RAYBUS_TEST_AMQP_URL (with CI=true this fails instead).`);
  describe.skip(title, body);
}

/** Run rabbitmqctl with `args`; resolves with its output, rejects on a non-zero exit. */
export function rabbitmqctl(args: readonly string[], timeoutMs = 30_000): Promise<string> {
  const [cmd, ...prefix] = RABBITMQCTL;
  return new Promise((resolve, reject) => {
    const child = spawn(cmd!, [...prefix, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`${RABBITMQCTL.join(' ')} ${args.join(' ')} exited with ${String(code)}: ${out.trim()}`));
    });
  });
}
