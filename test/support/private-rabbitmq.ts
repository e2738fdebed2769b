/**
 * A RabbitMQ node of a test's own, for cases that stop or restart the broker: the machine's
 * RabbitMQ is shared and is never stopped by a test. The node runs as a child process on free
 * ports, with its own node name, Erlang cookie, data, log and config directory under the OS
 * temp directory, no plugins, and the default `guest` user; `stop()` stops it and removes the
 * directory. Starting one takes several seconds: start it once per suite (in `beforeAll`).
 * With `tls` it also listens for `amqps://` on a port of its own.
 *
 * @example
 * let rabbit: PrivateRabbitMQ;
 * beforeAll(async () => (rabbit = await startPrivateRabbitMQ()), 90_000);
 * afterAll(() => rabbit?.stop());
 * test('survives a restart', async () => { ...rabbit.url...; await rabbit.restart(); });
 *
 * Finds `rabbitmq-server` and `rabbitmqctl` in `RAYBUS_TEST_RABBITMQ_SBIN`, then in
 * /usr/lib/rabbitmq/bin (Debian's unwrapped scripts: its /usr/sbin wrappers switch to the
 * `rabbitmq` user and share that user's cookie and log directory), then on PATH.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { answers, exitsWithin, findExecutable, freePort, killGroup, OutputTail, startWatchdog, until } from './server-process';

/** A running private RabbitMQ node. */
export interface PrivateRabbitMQ {
  /** `amqp://guest:guest@127.0.0.1:<port>/` (the default vhost `/` of this node). */
  readonly url: string;
  readonly port: number;
  /** The Erlang node name, e.g. `raybus-test-1a2b3c4d@localhost`. */
  readonly nodeName: string;
  /** Its directory (data, logs, config, cookie); removed by `stop()`. */
  readonly dir: string;
  /**
   * Restart the broker: stop its RabbitMQ application (every connection drops) and start it
   * again on the same data, so durable queues and persistent messages survive. With
   * `wholeNode`, the Erlang VM is stopped and started again too (same ports, same data).
   * Resolves once it accepts AMQP connections again.
   */
  restart(options?: { wholeNode?: boolean }): Promise<void>;
  /** Run rabbitmqctl against this node; resolves with its output. */
  ctl(args: readonly string[], timeoutMs?: number): Promise<string>;
  /** Stop the node and remove its directory. Safe to call twice. */
  stop(): Promise<void>;
  /** With `tls`: `amqps://guest:guest@127.0.0.1:<tlsPort>/`, its TLS listener. */
  readonly tlsUrl?: string;
}

/** A TLS listener for a private node: PEM files of its certificate, key and CA. */
export interface PrivateRabbitMQTls {
  readonly certFile: string;
  readonly keyFile: string;
  readonly caFile: string;
}

const SBIN_DIRS = [process.env.RAYBUS_TEST_RABBITMQ_SBIN, '/usr/lib/rabbitmq/bin'].filter((d): d is string => !!d);
const AMQP_HEADER = Buffer.from('AMQP\x00\x00\x09\x01', 'latin1');
/** connection.start is a method frame: type 1. */
const FRAME_METHOD = 1;

/** Why a private node cannot be started here (no rabbitmq-server), or undefined. */
export function privateRabbitMQProblem(): string | undefined {
  if (!findExecutable('rabbitmq-server', SBIN_DIRS)) return 'rabbitmq-server not found (install RabbitMQ or set RAYBUS_TEST_RABBITMQ_SBIN)';
  if (!findExecutable('rabbitmqctl', SBIN_DIRS)) return 'rabbitmqctl not found next to rabbitmq-server';
  return undefined;
}

/**
 * `describe` when a private node can be started here. Otherwise a failing suite with
 * `CI=true`, else a skipped one with one line saying why (printed once, by the global setup).
 */
export function describeWithPrivateRabbitMQ(title: string, body: () => void): void {
  const problem = privateRabbitMQProblem();
  if (problem === undefined) {
    describe(title, body);
  } else if (process.env.CI === 'true') {
    describe(title, () => {
      test('needs RabbitMQ installed to start a private node', () => {
        throw new Error(`cannot start a private RabbitMQ node: ${problem}. CI must provide RabbitMQ.`);
      });
    });
  } else {
    if (process.env.RAYBUS_TEST_RUN_ID === undefined) process.stderr.write(`Private-RabbitMQ suites skipped: ${problem} (CI=true fails instead).\n`);
    describe.skip(title, body);
  }
}

/** Start a RabbitMQ node of this test's own; resolves once it accepts AMQP connections. */
export async function startPrivateRabbitMQ(options: { startTimeoutMs?: number; tls?: PrivateRabbitMQTls } = {}): Promise<PrivateRabbitMQ> {
  const problem = privateRabbitMQProblem();
  if (problem) throw new Error(`cannot start a private RabbitMQ node: ${problem}`);
  const server = findExecutable('rabbitmq-server', SBIN_DIRS)!;
  const ctlPath = findExecutable('rabbitmqctl', SBIN_DIRS)!;
  const startTimeoutMs = options.startTimeoutMs ?? 60_000;

  const dir = mkdtempSync(path.join(os.tmpdir(), 'raybus-rabbitmq-'));
  const nodeName = `raybus-test-${randomBytes(4).toString('hex')}@localhost`;
  const [port, distPort, tlsPort] = await Promise.all([freePort(), freePort(), options.tls ? freePort() : Promise.resolve(0)]);
  const home = path.join(dir, 'home');
  mkdirSync(home);
  // Its own cookie: rabbitmqctl reads $HOME/.erlang.cookie, the node writes none of its own then.
  writeFileSync(path.join(home, '.erlang.cookie'), randomBytes(20).toString('hex'), { mode: 0o400 });
  writeFileSync(path.join(dir, 'enabled_plugins'), '[].\n');
  writeFileSync(path.join(dir, 'rabbitmq-env.conf'), '');
  const tls = options.tls
    ? [
        `listeners.ssl.1 = 127.0.0.1:${tlsPort}`,
        `ssl_options.cacertfile = ${options.tls.caFile}`,
        `ssl_options.certfile = ${options.tls.certFile}`,
        `ssl_options.keyfile = ${options.tls.keyFile}`,
        'ssl_options.verify = verify_none',
        'ssl_options.fail_if_no_peer_cert = false',
      ]
    : [];
  writeFileSync(path.join(dir, 'rabbitmq.conf'), [`listeners.tcp.1 = 127.0.0.1:${port}`, ...tls, ''].join('\n'));
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    HOME: home,
    RABBITMQ_NODENAME: nodeName,
    RABBITMQ_NODE_PORT: String(port),
    RABBITMQ_DIST_PORT: String(distPort),
    RABBITMQ_MNESIA_BASE: path.join(dir, 'mnesia'),
    RABBITMQ_LOG_BASE: path.join(dir, 'log'),
    RABBITMQ_ENABLED_PLUGINS_FILE: path.join(dir, 'enabled_plugins'),
    // Not the machine's /etc/rabbitmq files: they name the shared node and its port.
    RABBITMQ_CONF_ENV_FILE: path.join(dir, 'rabbitmq-env.conf'),
    RABBITMQ_CONFIG_FILE: path.join(dir, 'rabbitmq.conf'),
    RABBITMQ_ADVANCED_CONFIG_FILE: path.join(dir, 'advanced.config'),
    RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS: '-kernel inet_dist_use_interface {127,0,0,1}',
    ERL_EPMD_ADDRESS: '127.0.0.1',
  };

  const ctl = (args: readonly string[], timeoutMs = 60_000): Promise<string> =>
    new Promise((resolve, reject) => {
      const child = spawn(ctlPath, ['-n', nodeName, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
      const out = new OutputTail();
      child.stdout.on('data', out.push);
      child.stderr.on('data', out.push);
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      child.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      child.once('close', (code) => {
        clearTimeout(timer);
        if (code === 0) resolve(out.toString());
        else reject(new Error(`rabbitmqctl -n ${nodeName} ${args.join(' ')} exited with ${String(code)}: ${out.toString().trim()}`));
      });
    });

  let child: ChildProcess;
  let output: OutputTail;
  let dismissWatchdog: () => void = () => undefined;
  const launch = async (): Promise<void> => {
    output = new OutputTail();
    // Its own process group: stop() and the watchdog can end the shell and the VM together.
    child = spawn(server, [], { env, cwd: dir, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.on('data', output.push);
    child.stderr!.on('data', output.push);
    dismissWatchdog = startWatchdog(child.pid!, dir);
    await awaitAmqp(startTimeoutMs, 'start');
  };
  const awaitAmqp = (timeoutMs: number, what: string): Promise<void> =>
    until(
      async () => {
        if (child.exitCode !== null || child.signalCode !== null) {
          throw new Error(`private RabbitMQ ${nodeName} exited (${child.exitCode ?? child.signalCode}) during ${what}:\n${output}`);
        }
        return answers(port, AMQP_HEADER, FRAME_METHOD);
      },
      timeoutMs,
      () => `private RabbitMQ ${nodeName} did not accept AMQP connections on port ${port} within ${timeoutMs} ms of its ${what}:\n${output}`,
      100,
    );
  const halt = async (): Promise<void> => {
    dismissWatchdog();
    if (child.exitCode === null && child.signalCode === null) {
      await ctl(['stop'], 30_000).catch(() => undefined);
      if (!(await exitsWithin(child, 20_000))) {
        killGroup(child, 'SIGTERM');
        if (!(await exitsWithin(child, 10_000))) killGroup(child, 'SIGKILL');
      }
    }
    // The shell may have gone before the VM: make sure nothing of the group lingers.
    killGroup(child, 'SIGKILL');
  };

  try {
    await launch();
    // The TLS listener starts with the others; wait until it accepts connections too.
    if (options.tls) await until(() => answers(tlsPort), startTimeoutMs, () => `private RabbitMQ ${nodeName}: no TLS listener on port ${tlsPort}:\n${output}`, 100);
  } catch (err) {
    await halt().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }

  let stopped = false;
  return {
    url: `amqp://guest:guest@127.0.0.1:${port}/`,
    ...(options.tls ? { tlsUrl: `amqps://guest:guest@127.0.0.1:${tlsPort}/` } : {}),
    port,
    nodeName,
    dir,
    ctl,
    async restart({ wholeNode = false } = {}) {
      if (stopped) throw new Error('private RabbitMQ: restart() after stop()');
      if (wholeNode) {
        await halt();
        await launch();
        return;
      }
      await ctl(['stop_app']);
      await ctl(['start_app']);
      await awaitAmqp(startTimeoutMs, 'restart');
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      try {
        await halt();
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
