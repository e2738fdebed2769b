/**
 * Test helpers for suites that need a RabbitMQ broker: its address, a reachability probe,
 * `describeWithBroker`, which skips when no broker answers (or fails when `CI=true`, because CI
 * always provides one), rabbitmqctl, and vhosts of a test's own.
 *
 * Every jest run works in a vhost of its own, `raybus-test-<run id>`: the global setup
 * (test/support/global-setup.ts) creates it and points `RAYBUS_TEST_AMQP_URL` at it, the global
 * teardown deletes it, and every queue in it with it. Nothing is created in the broker's `/`.
 */
import { randomBytes } from 'node:crypto';
import { spawn, spawnSync } from 'node:child_process';

/** The broker (and vhost) the AMQP tests use. */
export const AMQP_TEST_URL = process.env.RAYBUS_TEST_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';

/** The vhost of this run, when the global setup made one. */
export const AMQP_TEST_VHOST: string | undefined = process.env.RAYBUS_TEST_AMQP_VHOST;

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
 * Why the AMQP suites cannot use a broker, or undefined when one answers. The global setup
 * probes once per run (and prints the reason once); without it, every caller probes.
 */
export function amqpUnavailable(): string | undefined {
  if (process.env.RAYBUS_TEST_RUN_ID !== undefined) return process.env.RAYBUS_TEST_AMQP_UNAVAILABLE || undefined;
  const problem = probeBroker();
  return problem === undefined ? undefined : `no broker at ${redact(AMQP_TEST_URL)} (${problem})`;
}

/** The one line that says why RabbitMQ suites are skipped (or fail with `CI=true`). */
export function amqpSkipLine(why: string): string {
  return process.env.CI === 'true'
    ? `RabbitMQ suites fail: ${why} (CI=true; CI must provide RabbitMQ, set RAYBUS_TEST_AMQP_URL to its address)`
    : `RabbitMQ suites skipped: ${why} (set RAYBUS_TEST_AMQP_URL, or CI=true to fail instead)`;
}

/**
 * `describe` when the broker answers. Otherwise: with `CI=true`, a suite with one failing test
 * that says why; elsewhere a skipped suite (the global setup printed why, once per run).
 */
export function describeWithBroker(title: string, body: () => void): void {
  const why = amqpUnavailable();
  if (why === undefined) {
    describe(title, body);
    return;
  }
  if (process.env.CI === 'true') {
    describe(title, () => {
      test('needs a RabbitMQ broker', () => {
        throw new Error(amqpSkipLine(why));
      });
    });
    return;
  }
  if (process.env.RAYBUS_TEST_RUN_ID === undefined) process.stderr.write(`${amqpSkipLine(why)}\n`);
  describe.skip(title, body);
}

/** `url` with its vhost (the path) set to `vhost`. */
export function vhostUrl(url: string, vhost: string): string {
  const u = new URL(url);
  u.pathname = `/${encodeURIComponent(vhost)}`;
  return u.toString();
}

/** The user name in `url` (guest when it names none). */
export function amqpUser(url: string): string {
  return decodeURIComponent(new URL(url).username) || 'guest';
}

/** Create `vhost` (if missing) and give the user of `url` every permission in it. */
export async function createVhost(url: string, vhost: string): Promise<void> {
  await rabbitmqctl(['add_vhost', vhost]).catch((err: Error) => {
    if (!/already exists/.test(err.message)) throw err;
  });
  await rabbitmqctl(['set_permissions', '-p', vhost, amqpUser(url), '.*', '.*', '.*']);
}

/** Delete `vhost` and everything in it; a vhost that is gone already is fine. */
export async function deleteVhost(vhost: string): Promise<void> {
  await rabbitmqctl(['delete_vhost', vhost]).catch((err: Error) => {
    if (!/not.found|does not exist|no_such_vhost/i.test(err.message)) throw err;
  });
}

/** A vhost a test made for itself (to disturb nothing else), with its address. */
export interface ScratchVhost {
  readonly vhost: string;
  readonly url: string;
  /** Delete it, with its queues and connections. */
  remove(): Promise<void>;
}

/**
 * Create a vhost of this test's own, `<run vhost>-<suffix>` (the global teardown deletes any
 * such vhost a test left behind). Needs rabbitmqctl.
 */
export async function createScratchVhost(suffix: string): Promise<ScratchVhost> {
  const vhost = `${AMQP_TEST_VHOST ?? `raybus-test-${randomBytes(4).toString('hex')}`}-${suffix}`;
  await createVhost(AMQP_TEST_URL, vhost);
  return { vhost, url: vhostUrl(AMQP_TEST_URL, vhost), remove: () => deleteVhost(vhost) };
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
