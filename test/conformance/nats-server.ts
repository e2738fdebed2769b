/**
 * Test helpers for suites that need a NATS server with JetStream: its address, a reachability
 * probe, `describeWithNats` (skips with a warning when no server answers, fails when
 * `CI=true`), the removal of everything a test name space made, and private servers for tests
 * that stop one (never the shared one).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';

/** The server the NATS tests use (shared: tests only add and delete their own name space). */
export const NATS_TEST_URL = process.env.RAYBUS_TEST_NATS_URL ?? 'nats://127.0.0.1:4222';

/** The nats-server binary for private servers. */
export const NATS_SERVER_BIN = process.env.RAYBUS_TEST_NATS_SERVER ?? 'nats-server';

/** A fresh name space (`rbt` + hex): streams and buckets of one test file, deleted by {@link deleteNamespace}. */
export function testNamespace(): string {
  return `rbt${randomBytes(5).toString('hex')}`;
}

/**
 * Why no NATS server with JetStream answers at `url`, or undefined when one does. Reads the
 * server's INFO line (it must say `"jetstream":true`). Synchronous (a child process), because
 * jest declares tests synchronously.
 */
export function probeNats(url: string = NATS_TEST_URL): string | undefined {
  let host: string;
  let port: number;
  try {
    const u = new URL(url.split(',')[0]!.trim());
    host = u.hostname.replace(/^\[|\]$/g, '');
    port = Number(u.port) || 4222;
  } catch {
    return `unparseable address '${url}'`;
  }
  const script = `
    const net = require('node:net');
    const sock = net.connect({ host: process.argv[1], port: Number(process.argv[2]) });
    const fail = (why) => { process.stdout.write(why); process.exit(1); };
    sock.setTimeout(2000, () => fail('no answer within 2 s'));
    sock.on('error', (e) => fail(e.code || e.message));
    let data = '';
    sock.on('data', (d) => {
      data += d.toString('latin1');
      if (!data.includes('\\r\\n')) return;
      sock.destroy();
      if (!data.startsWith('INFO ')) fail('not a NATS server');
      else if (!/"jetstream":\\s*true/.test(data)) fail('JetStream is not enabled (start nats-server with -js)');
      else process.exit(0);
    });
  `;
  const res = spawnSync(process.execPath, ['-e', script, host, String(port)], { timeout: 5000, encoding: 'utf8' });
  if (res.status === 0) return undefined;
  return res.stdout || res.error?.message || `probe exited with ${String(res.status ?? res.signal)}`;
}

/** `describe` when the server answers; otherwise a failing suite with `CI=true`, a skipped one elsewhere. */
export function describeWithNats(title: string, body: () => void): void {
  const problem = probeNats();
  if (problem === undefined) {
    describe(title, body);
    return;
  }
  const why = `no NATS server with JetStream answers at ${NATS_TEST_URL} (${problem})`;
  if (process.env.CI === 'true') {
    describe(title, () => {
      test('needs a NATS server with JetStream', () => {
        throw new Error(`${why}. CI must provide nats-server -js; set RAYBUS_TEST_NATS_URL to its address.`);
      });
    });
    return;
  }
  console.warn(`Skipping "${title}": ${why}. Start nats-server -js or set RAYBUS_TEST_NATS_URL (with CI=true this fails instead).`);
  describe.skip(title, body);
}

/** Delete every stream (queues, dead letters, lease buckets) of name space `ns`. */
export async function deleteNamespace(ns: string, url: string = NATS_TEST_URL): Promise<string[]> {
  const nc = await connect({ servers: url, name: 'raybus-test-cleanup' });
  const deleted: string[] = [];
  try {
    const jsm = await jetstreamManager(nc);
    for await (const name of jsm.streams.names()) {
      if (name.startsWith(`${ns}_`) || name.startsWith(`KV_${ns}_`)) {
        await jsm.streams.delete(name);
        deleted.push(name);
      }
    }
  } finally {
    await nc.close();
  }
  return deleted;
}

/** A free TCP port on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

/** A nats-server of a test's own (own port, own store dir), which the test may kill and restart. */
export class PrivateNatsServer {
  private child: ChildProcess | undefined;
  readonly storeDir = mkdtempSync(path.join(tmpdir(), 'raybus-nats-'));

  private constructor(readonly port: number) {}

  static async start(): Promise<PrivateNatsServer> {
    const server = new PrivateNatsServer(await freePort());
    await server.start();
    return server;
  }

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  /** Start (again) on the same port and store dir; resolves once it accepts clients with JetStream. */
  async start(): Promise<void> {
    const child = spawn(NATS_SERVER_BIN, ['-a', '127.0.0.1', '-p', String(this.port), '-js', '-sd', this.storeDir], { stdio: 'ignore' });
    this.child = child;
    const deadline = Date.now() + 10_000;
    while (probeNats(this.url) !== undefined) {
      if (child.exitCode !== null) throw new Error(`nats-server exited with ${child.exitCode}`);
      if (Date.now() > deadline) throw new Error(`nats-server on port ${this.port} did not come up`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** Stop it with `signal` (SIGKILL: no clean shutdown) and wait for the exit. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill(signal);
    await exited;
  }

  /** Stop it and remove its store. */
  async destroy(): Promise<void> {
    await this.stop('SIGKILL');
    rmSync(this.storeDir, { recursive: true, force: true });
  }
}
