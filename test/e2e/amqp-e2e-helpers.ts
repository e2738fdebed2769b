/**
 * Helpers of the end-to-end suites on RabbitMQ: driver scripts in child processes, a lock that
 * keeps these suites from running at the same time, and waiting for a condition without fixed
 * sleeps. Their broker: `AMQP_TEST_URL` (the run's vhost on the shared broker) or a node of
 * their own (test/support/private-rabbitmq.ts) for cases that restart it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, rmdirSync, statSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/** The built package, as a child process requires it. */
export const RAYBUS_DIST = path.resolve(__dirname, '../../dist/cjs/src/index.js');
export const RAYBUS_CLI = path.resolve(__dirname, '../../dist/cjs/src/cli/main.js');

/** A driver script running in its own process. */
export interface ChildDriver {
  readonly child: ChildProcess;
  /** Everything it printed so far. */
  output(): string;
  /** Resolves with the first line matching `re` (rejects if the process exits first). */
  line(re: RegExp, timeoutMs?: number): Promise<RegExpExecArray>;
  /** Resolves with the exit code once it exited. */
  exited(): Promise<number | null>;
}

/**
 * Run `body` (JavaScript, with `ray` and `address` in scope, inside an async function) in a
 * new Node process. Print lines to report back.
 */
export function spawnDriver(address: string, body: string, env: NodeJS.ProcessEnv = {}): ChildDriver {
  const script = `
    const ray = require(${JSON.stringify(RAYBUS_DIST)});
    const address = process.env.TEST_ADDRESS;
    (async () => { ${body} })().then(
      () => process.exit(0),
      (err) => { console.log('DRIVER ERROR ' + (err && err.stack || err)); process.exit(1); },
    );
  `;
  const child = spawn(process.execPath, ['-e', script], {
    env: { ...process.env, ...env, TEST_ADDRESS: address },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const waiters: Array<() => void> = [];
  const onData = (d: Buffer): void => {
    out += d.toString();
    for (const w of waiters.splice(0)) w();
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  void exit.then(() => {
    for (const w of waiters.splice(0)) w();
  });
  return {
    child,
    output: () => out,
    exited: () => exit,
    line: (re, timeoutMs = 30_000) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no line matching ${re} within ${timeoutMs} ms; output:\n${out}`)), timeoutMs);
        const check = (): void => {
          const m = re.exec(out);
          if (m) {
            clearTimeout(timer);
            resolve(m);
          } else if (child.exitCode !== null || child.signalCode !== null) {
            clearTimeout(timer);
            reject(new Error(`driver exited (${child.exitCode ?? child.signalCode}) before printing ${re}; output:\n${out}`));
          } else waiters.push(check);
        };
        check();
      }),
  };
}

/** Poll `probe` every `everyMs` until it returns a value other than undefined. */
export async function eventually<T>(probe: () => Promise<T | undefined> | T | undefined, timeoutMs: number, what: string, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastErr: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) {
      lastErr = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastErr ? ` (last error: ${(lastErr as Error).message})` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

const LOCK = path.join(os.tmpdir(), 'raybus-amqp-e2e.lock');

/**
 * Take the lock of the RabbitMQ end-to-end suites (a directory; a stale one, older than ten
 * minutes, is taken over), so that one `raybus start` cluster at a time runs on this machine,
 * also across jest runs: each starts several node processes and their workers.
 */
export async function lockAmqpSuites(timeoutMs = 300_000): Promise<() => void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      mkdirSync(LOCK);
      return () => {
        try {
          rmdirSync(LOCK);
        } catch {
          /* already gone */
        }
      };
    } catch {
      try {
        if (Date.now() - statSync(LOCK).mtimeMs > 600_000) rmdirSync(LOCK);
      } catch {
        /* raced with its owner */
      }
    }
    if (Date.now() > deadline) throw new Error(`could not take ${LOCK} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 250));
  }
}
