/**
 * Lifecycle of the embedded default: init / shutdown / isInitialized, re-init rules, option
 * validation, the runtime context, and `.remote()` before `init()` (in a child process).
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type * as Ray from '../../src/index';
import { isAlive } from '../support/processes';

// The built package (jest maps 'raybus' to dist/); see remote-functions.test.ts for why
// `require` is used.
const ray: typeof Ray = require('raybus');

const T = { timeoutMs: 20000 };

/** Call `fn` and turn a synchronous throw into a rejection, so either form can be asserted. */
function attempt<R>(fn: () => R): Promise<Awaited<R>> {
  return Promise.resolve().then(fn) as Promise<Awaited<R>>;
}

beforeAll(async () => {
  await ray.init({ numCpus: 4 });
});

afterAll(async () => {
  await ray.shutdown();
});

describe('init', () => {
  test('isInitialized() is true after init', () => {
    expect(ray.isInitialized()).toBe(true);
  });

  test('init() a second time throws unless ignoreReinitError: true', async () => {
    await expect(attempt(() => ray.init())).rejects.toThrow(/already/i);
    await expect(ray.init({ ignoreReinitError: true })).resolves.toBeDefined();
    expect(ray.isInitialized()).toBe(true);
    // Still the same working runtime.
    const f = ray.remote(() => 'still works');
    expect(await ray.get(f.remote(), T)).toBe('still works');
  });
});

describe('runtime context', () => {
  test('on the driver the task fields are null', () => {
    const ctx = ray.getRuntimeContext();
    expect(ctx.taskId).toBeNull();
    expect(ctx.actorId).toBeNull();
    expect(typeof ctx.jobId).toBe('string');
    expect(typeof ctx.namespace).toBe('string');
  });

  test('inside a task: taskId, nodeId, jobId and the _metadata option', async () => {
    type Ctx = Pick<Ray.RuntimeContext, 'taskId' | 'nodeId' | 'jobId' | 'actorId' | 'metadata'>;
    const probe: Ray.RemoteFunction<() => Ctx> = ray.remote({ _metadata: { 'my.lib': { flag: true, n: 3 } } })((): Ctx => {
      const c = ray.getRuntimeContext();
      return { taskId: c.taskId, nodeId: c.nodeId, jobId: c.jobId, actorId: c.actorId, metadata: c.metadata };
    });
    const driver = ray.getRuntimeContext();
    const ctx = await ray.get(probe.remote(), T);
    expect(typeof ctx.taskId).toBe('string');
    expect(ctx.taskId).not.toBe('');
    expect(typeof ctx.nodeId).toBe('string');
    const nodeIds = (await ray.nodes()).map((n) => n.nodeId);
    expect(nodeIds).toContain(ctx.nodeId);
    expect(ctx.jobId).toBe(driver.jobId);
    expect(ctx.actorId).toBeNull();
    expect(ctx.metadata).toEqual({ 'my.lib': { flag: true, n: 3 } });
    // Two tasks have different ids.
    const other = await ray.get(probe.remote(), T);
    expect(other.taskId).not.toBe(ctx.taskId);
  });
});

describe('shutdown', () => {
  test('pending gets reject with a clear error; init works again afterwards', async () => {
    const never = ray.remote(() => new Promise(() => undefined));
    const Stuck = ray.remote(
      class Stuck {
        async hang() {
          await new Promise(() => undefined);
        }
      },
    );
    const taskRef = never.remote();
    const callRef = Stuck.remote().hang.remote();
    const pendingTask = ray.get(taskRef);
    const pendingCall = ray.get(callRef);
    // Neither can finish on its own.
    const [ready] = await ray.wait([taskRef, callRef], { numReturns: 1, timeoutMs: 300 });
    expect(ready).toEqual([]);
    await ray.shutdown();
    expect(ray.isInitialized()).toBe(false);
    await expect(pendingTask).rejects.toThrow(/shut ?down/i);
    await expect(pendingCall).rejects.toThrow(/shut ?down/i);

    // Option misuse throws synchronously, naming the option.
    const init = ray.init as unknown as (o: unknown) => Promise<unknown>;
    expect(() => init({ numCpu: 1 })).toThrow(/numCpu/);
    expect(ray.isInitialized()).toBe(false);

    await ray.init({ numCpus: 4 });
    expect(ray.isInitialized()).toBe(true);
    const f = ray.remote((x: number) => x + 1);
    expect(await ray.get(f.remote(1), T)).toBe(2);
  });
});

describe('.remote() before init', () => {
  test('initialises the embedded default; the script exits on its own after shutdown', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'raybus-autoinit-'));
    const script = path.join(dir, 'autoinit.js');
    const dist = path.join(__dirname, '../../dist/cjs/src/index.js');
    writeFileSync(
      script,
      [
        `const ray = require(${JSON.stringify(dist)});`,
        `const before = ray.isInitialized();`,
        `const add = ray.remote((a, b) => a + b);`,
        `const ref = add.remote(2, 3);`,
        `ray.get(ref).then(async (v) => {`,
        `  console.log('RESULT ' + v + ' before=' + before + ' after=' + ray.isInitialized());`,
        `  await ray.shutdown();`,
        `  console.log('SHUTDOWN');`,
        `}, (e) => { console.error('FAILED ' + e.stack); process.exitCode = 2; });`,
      ].join('\n'),
    );
    try {
      const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
        execFile(process.execPath, [script], { timeout: 20000, killSignal: 'SIGKILL' }, (error, out, err) => {
          resolve({ code: error ? ((error as { code?: number }).code ?? null) : 0, stdout: String(out), stderr: String(err) });
        });
      });
      // One string, so a failure shows the child's output along with its exit code.
      expect(`exit=${code}\n${stdout}\n${stderr}`).toMatch(/^exit=0\n/);
      expect(stdout).toContain('RESULT 5 before=false after=true');
      expect(stdout).toContain('SHUTDOWN');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 30000);
});

describe('a worker process and its node', () => {
  test('a worker has no IPC channel (only its frame pipe), and exits when its node is killed (SIGKILL)', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'raybus-orphan-'));
    const script = path.join(dir, 'driver.js');
    const dist = path.join(__dirname, '../../dist/cjs/src/index.js');
    writeFileSync(
      script,
      [
        `const ray = require(${JSON.stringify(dist)});`,
        `class Probe { info() { return { pid: process.pid, send: typeof process.send, noChannel: process.channel === undefined } } }`,
        `ray.init().then(async () => {`,
        `  const a = ray.remote(Probe).remote();`,
        `  console.log('INFO ' + JSON.stringify(await ray.get(a.info.remote())));`,
        `  setInterval(() => undefined, 1000);`,
        `});`,
      ].join('\n'),
    );
    const driver = spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      const info = await new Promise<{ pid: number; send: string; noChannel: boolean }>((resolve, reject) => {
        let out = '';
        driver.stdout.on('data', (d: Buffer) => {
          out += d.toString();
          const m = /INFO (.*)\n/.exec(out);
          if (m) resolve(JSON.parse(m[1]!) as { pid: number; send: string; noChannel: boolean });
        });
        driver.on('exit', (code) => reject(new Error(`the driver exited (${code}) before its actor answered: ${out}`)));
      });
      expect(info).toEqual({ pid: expect.any(Number), send: 'undefined', noChannel: true });
      expect(isAlive(info.pid)).toBe(true);
      const exited = new Promise((resolve) => driver.once('exit', resolve));
      driver.kill('SIGKILL');
      await exited;
      // The worker sees its pipe close and exits; bounded, polled (no event reaches this process).
      const deadline = Date.now() + 10_000;
      while (isAlive(info.pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(isAlive(info.pid)).toBe(false);
    } finally {
      driver.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  }, 30000);
});
