/**
 * What the private-server helpers share: free ports, finding an executable, waiting for a
 * condition, stopping a process group, and a watchdog that stops a server whose test process
 * died without stopping it (so a killed jest run leaves no broker behind).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';

/** A TCP port on 127.0.0.1 that nothing listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/** The first executable called `name` in `dirs`, then on PATH; undefined if there is none. */
export function findExecutable(name: string, dirs: readonly string[] = []): string | undefined {
  const pathDirs = (process.env.PATH ?? '').split(path.delimiter).filter(Boolean);
  for (const dir of [...dirs, ...pathDirs]) {
    const file = path.join(dir, name);
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      /* not here */
    }
  }
  return undefined;
}

/** Poll `check` every `everyMs` until it returns true; rejects with `describe()` after `timeoutMs`. */
export async function until(check: () => Promise<boolean> | boolean, timeoutMs: number, describe: () => string, everyMs = 100): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(describe());
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Whether something on 127.0.0.1:`port` sends `expect`'s first byte after being sent `hello` (or just accepts, without `hello`). */
export function answers(port: number, hello?: Buffer, expectFirstByte?: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect({ host: '127.0.0.1', port });
    const done = (ok: boolean): void => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(timeoutMs, () => done(false));
    sock.once('error', () => done(false));
    sock.once('connect', () => {
      if (hello === undefined && expectFirstByte === undefined) done(true);
      else if (hello !== undefined) sock.write(hello);
    });
    sock.once('data', (d: Buffer) => done(expectFirstByte === undefined || d[0] === expectFirstByte));
  });
}

/** Resolves with the exit code once `child` exited (at once if it already has). */
export function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

/** Resolves true if `child` exits within `ms`. */
export async function exitsWithin(child: ChildProcess, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  const ok = await Promise.race([exited(child).then(() => true as const), timeout]);
  clearTimeout(timer);
  return ok;
}

/** Send `signal` to the process group of `child` (spawned with `detached: true`); ignores a group that is gone. */
export function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    /* already gone */
  }
}

/**
 * Start a detached shell that waits while this process and the server (`serverPid`, leader of
 * its process group) live. If this process dies first, it sends the group SIGTERM, then SIGKILL
 * after `graceS` seconds, and removes `dir`. Returns a function that dismisses it.
 */
export function startWatchdog(serverPid: number, dir: string, graceS = 15): () => void {
  const script = `
    while kill -0 ${process.pid} 2>/dev/null && kill -0 ${serverPid} 2>/dev/null; do sleep 1; done
    if kill -0 ${serverPid} 2>/dev/null; then
      kill -TERM -${serverPid} 2>/dev/null
      i=0; while [ $i -lt ${graceS} ] && kill -0 ${serverPid} 2>/dev/null; do sleep 1; i=$((i+1)); done
      kill -KILL -${serverPid} 2>/dev/null
      rm -rf "$1"
    fi`;
  const dog = spawn('/bin/sh', ['-c', script, 'raybus-test-watchdog', dir], { detached: true, stdio: 'ignore' });
  dog.unref();
  return () => {
    if (dog.pid !== undefined && dog.exitCode === null) {
      try {
        process.kill(dog.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  };
}

/** Keeps the last `max` characters of a stream's output, for error messages. */
export class OutputTail {
  private text = '';
  constructor(private readonly max = 8000) {}
  push = (chunk: Buffer | string): void => {
    this.text = (this.text + chunk.toString()).slice(-this.max);
  };
  toString(): string {
    return this.text;
  }
}
