/**
 * A NATS server with JetStream of a test's own: `nats-server -js` on a free port of 127.0.0.1
 * with its own store directory, so streams and consumers a test creates vanish with it and
 * the machine's shared NATS is never touched (nor stopped). Starts in well under a second.
 *
 * @example
 * let nats: PrivateNats;
 * beforeAll(async () => (nats = await startPrivateNats()));
 * afterAll(() => nats?.stop());
 * test('survives a restart', async () => { ...nats.url...; await nats.restart(); });
 *
 * Finds `nats-server` in `RAYBUS_TEST_NATS_SBIN`, then /usr/sbin, then on PATH.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { answers, exitsWithin, findExecutable, killGroup, OutputTail, startWatchdog, until } from './server-process';

/** A running private NATS server. */
export interface PrivateNats {
  /** `nats://127.0.0.1:<port>`, with `user:pass@` when the server was started with `auth`. */
  readonly url: string;
  readonly port: number;
  /** The JetStream store directory (kept across `restart()`). */
  readonly storeDir: string;
  /**
   * Stop the server (SIGTERM: it flushes JetStream and closes every connection) and start it
   * again on the same port and store, so streams, consumers and stored messages survive.
   * Resolves once it accepts connections again.
   */
  restart(): Promise<void>;
  /** Stop the server and remove its store. Safe to call twice. */
  stop(): Promise<void>;
}

const SBIN_DIRS = [process.env.RAYBUS_TEST_NATS_SBIN, '/usr/sbin'].filter((d): d is string => !!d);

/** Why a private NATS server cannot be started here, or undefined. */
export function privateNatsProblem(): string | undefined {
  return findExecutable('nats-server', SBIN_DIRS) ? undefined : 'nats-server not found (install it or set RAYBUS_TEST_NATS_SBIN)';
}

/**
 * `describe` when a private NATS server can be started here. Otherwise a failing suite with
 * `CI=true`, else a skipped one with one line saying why (printed once, by the global setup).
 */
export function describeWithPrivateNats(title: string, body: () => void): void {
  const problem = privateNatsProblem();
  if (problem === undefined) {
    describe(title, body);
  } else if (process.env.CI === 'true') {
    describe(title, () => {
      test('needs nats-server installed to start a private server', () => {
        throw new Error(`cannot start a private NATS server: ${problem}. CI must provide nats-server.`);
      });
    });
  } else {
    if (process.env.RAYBUS_TEST_RUN_ID === undefined) process.stderr.write(`Private-NATS suites skipped: ${problem} (CI=true fails instead).\n`);
    describe.skip(title, body);
  }
}

const LISTENING = /Listening for client connections on [^\s:]+:(\d+)/;
/** A NATS server greets every client with `INFO {...}`. */
const INFO_FIRST_BYTE = 'I'.charCodeAt(0);

/**
 * Start a NATS server with JetStream of this test's own; resolves once it accepts connections.
 * With `tls` (PEM files), it requires TLS of its clients.
 */
export async function startPrivateNats(
  options: { startTimeoutMs?: number; tls?: { certFile: string; keyFile: string }; auth?: { user: string; pass: string } } = {},
): Promise<PrivateNats> {
  const problem = privateNatsProblem();
  if (problem) throw new Error(`cannot start a private NATS server: ${problem}`);
  const server = findExecutable('nats-server', SBIN_DIRS)!;
  const startTimeoutMs = options.startTimeoutMs ?? 20_000;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'raybus-nats-'));
  // The first start takes any free port (-p -1, read from its log: no race for the port);
  // restarts reuse it, so clients reconnect to the same address.
  let port = -1;
  let child: ChildProcess;
  let output: OutputTail;
  let dismissWatchdog: () => void = () => undefined;

  const launch = async (): Promise<void> => {
    output = new OutputTail();
    // With `tls`, clients must use TLS (the server still greets in the clear, then upgrades).
    const tls = options.tls ? ['--tls', '--tlscert', options.tls.certFile, '--tlskey', options.tls.keyFile] : [];
    // With `auth`, clients must give this user name and password (in the URL: `url` has them).
    const auth = options.auth ? ['--user', options.auth.user, '--pass', options.auth.pass] : [];
    child = spawn(server, ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', dir, '-n', `raybus-test-${path.basename(dir)}`, ...tls, ...auth], {
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', output.push);
    child.stderr!.on('data', output.push);
    dismissWatchdog = startWatchdog(child.pid!, dir);
    await until(
      async () => {
        if (child.exitCode !== null || child.signalCode !== null) throw new Error(`private NATS server exited (${child.exitCode ?? child.signalCode}):\n${output}`);
        if (port === -1) {
          const m = LISTENING.exec(output.toString());
          if (!m) return false;
          port = Number(m[1]);
        }
        return answers(port, undefined, INFO_FIRST_BYTE);
      },
      startTimeoutMs,
      () => `private NATS server did not accept connections within ${startTimeoutMs} ms:\n${output}`,
      25,
    );
  };
  const halt = async (): Promise<void> => {
    dismissWatchdog();
    if (child.exitCode === null && child.signalCode === null) {
      killGroup(child, 'SIGTERM');
      if (!(await exitsWithin(child, 10_000))) killGroup(child, 'SIGKILL');
    }
  };

  try {
    await launch();
  } catch (err) {
    await halt().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }

  let stopped = false;
  return {
    get url() {
      const credentials = options.auth ? `${encodeURIComponent(options.auth.user)}:${encodeURIComponent(options.auth.pass)}@` : '';
      return `nats://${credentials}127.0.0.1:${port}`;
    },
    get port() {
      return port;
    },
    storeDir: dir,
    async restart() {
      if (stopped) throw new Error('private NATS: restart() after stop()');
      await halt();
      await launch();
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
