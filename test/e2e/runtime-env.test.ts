/**
 * runtimeEnv end to end on the embedded default, with real worker processes (Ray's "Runtime
 * Environments" docs): env vars in the worker's process.env, the working directory, modules imported
 * before user code, merging over the job-level env, inheritance by child tasks, worker pools
 * per env, setup errors, and the GPU assignment winning over CUDA_VISIBLE_DEVICES.
 *
 * Remote functions use only their arguments, globals, `ray` and `require` (shipped by value).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type * as Ray from '../../src/index';
import type * as RayTesting from '../../src/testing/index';

// The built package (jest maps 'raybus' to dist/); see remote-functions.test.ts for why
// `require` is used.
const ray: typeof Ray = require('raybus');
const testing: typeof RayTesting = require('raybus/testing');

const tmp = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'raybus-runtime-env-')));

beforeAll(async () => {
  // Two (fake) GPUs: the node hands out ids 0 and 1; nothing here touches a real GPU.
  await ray.init({ numCpus: 4, numGpus: 2, runtimeEnv: { envVars: { RT_JOB: 'job', RT_SHARED: 'job' } } });
});

afterAll(async () => {
  await ray.shutdown();
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** The rejection reason of a promise (fails the test if it fulfils). */
async function rejectionOf(p: Promise<unknown>): Promise<Error> {
  return p.then(
    (v) => {
      throw new Error(`expected a rejection, got ${String(v)}`);
    },
    (e: unknown) => e as Error,
  );
}

const envOf = ray.remote((...names: string[]) => Object.fromEntries(names.map((n) => [n, process.env[n] ?? null])));
const pid = ray.remote(() => process.pid);

describe('what a runtime env sets in the worker', () => {
  test('env vars are in the worker process environment (also for its child processes)', async () => {
    const f = ray.remote({ runtimeEnv: { envVars: { RT_A: 'alpha' } } })(() => ({
      own: process.env.RT_A,
      child: require('node:child_process').execFileSync(process.execPath, ['-e', 'process.stdout.write(process.env.RT_A || "")']).toString(),
    }));
    expect(await ray.get(f.remote())).toEqual({ own: 'alpha', child: 'alpha' });
  });

  test('snake_case in .options(): env_vars', async () => {
    const f = envOf.options({ runtime_env: { env_vars: { RT_SNAKE: 'yes' } } } as never);
    expect(await ray.get(f.remote('RT_SNAKE'))).toEqual({ RT_SNAKE: 'yes' });
  });

  test('process.cwd() is the working dir (a relative one resolves against the driver cwd)', async () => {
    const dir = fs.mkdtempSync(path.join(tmp, 'wd-'));
    const cwd = ray.remote(() => process.cwd());
    expect(await ray.get(cwd.options({ runtimeEnv: { workingDir: dir } }).remote())).toBe(dir);
    expect(await ray.get(cwd.options({ runtimeEnv: { working_dir: path.relative(process.cwd(), dir) } } as never).remote())).toBe(dir);
  });

  test('`require` in the task resolves from the working dir', async () => {
    const dir = fs.mkdtempSync(path.join(tmp, 'wd-'));
    fs.writeFileSync(path.join(dir, 'local-helper.js'), 'module.exports = { answer: 42 };\n');
    const f = ray.remote({ runtimeEnv: { workingDir: dir } })(() => require('./local-helper.js').answer);
    expect(await ray.get(f.remote())).toBe(42);
  });

  test('modules are imported before the task runs (relative paths resolve against the driver cwd)', async () => {
    const dir = fs.mkdtempSync(path.join(tmp, 'mod-'));
    const file = path.join(dir, 'setup.js');
    fs.writeFileSync(file, "globalThis.__loaded = 'yes';\nglobalThis.__loadedCwd = process.cwd();\n");
    const esm = path.join(dir, 'setup.mjs');
    fs.writeFileSync(esm, "globalThis.__loadedEsm = 'esm';\n");
    const f = ray.remote(() => [(globalThis as Record<string, unknown>).__loaded, (globalThis as Record<string, unknown>).__loadedEsm]);
    expect(await ray.get(f.options({ runtimeEnv: { modules: [file, esm] } }).remote())).toEqual(['yes', 'esm']);
    const rel = `./${path.relative(process.cwd(), file)}`;
    expect(await ray.get(f.options({ runtimeEnv: { modules: [rel] } }).remote())).toEqual(['yes', undefined]);
    // The working dir is entered before the modules are imported.
    const g = ray.remote(() => (globalThis as Record<string, unknown>).__loadedCwd);
    expect(await ray.get(g.options({ runtimeEnv: { modules: [file], workingDir: dir } }).remote())).toBe(dir);
  });

  test("an actor's constructor and methods run in its env", async () => {
    const dir = fs.mkdtempSync(path.join(tmp, 'actor-'));
    const A = ray.remote({ runtimeEnv: { envVars: { RT_ACTOR: 'actor' }, workingDir: dir } })(
      class {
        atStart = process.env.RT_ACTOR;
        read(): unknown[] {
          return [this.atStart, process.env.RT_ACTOR, process.cwd(), process.env.RT_JOB];
        }
      },
    );
    const a = A.remote();
    expect(await ray.get(a.read.remote())).toEqual(['actor', 'actor', dir, 'job']);
  });
});

describe('merging and inheritance', () => {
  test('without a task-level env, the job-level env applies', async () => {
    expect(await ray.get(envOf.remote('RT_JOB', 'RT_SHARED'))).toEqual({ RT_JOB: 'job', RT_SHARED: 'job' });
  });

  test('task-level envVars merge key by key over the job level (task wins)', async () => {
    const f = envOf.options({ runtimeEnv: { envVars: { RT_SHARED: 'task', RT_TASK: 'task' } } });
    expect(await ray.get(f.remote('RT_JOB', 'RT_SHARED', 'RT_TASK'))).toEqual({ RT_JOB: 'job', RT_SHARED: 'task', RT_TASK: 'task' });
  });

  test('.options() replaces the runtimeEnv given to remote()', async () => {
    const f = ray.remote({ runtimeEnv: { envVars: { RT_DECL: 'decl' } } })((...n: string[]) => n.map((k) => process.env[k] ?? null));
    expect(await ray.get(f.remote('RT_DECL', 'RT_OPT'))).toEqual(['decl', null]);
    expect(await ray.get(f.options({ runtimeEnv: { envVars: { RT_OPT: 'opt' } } }).remote('RT_DECL', 'RT_OPT'))).toEqual([null, 'opt']);
  });

  test("a child task inherits its parent's effective env; its own env merges over it", async () => {
    const dir = fs.mkdtempSync(path.join(tmp, 'parent-'));
    const parent = ray.remote({ runtimeEnv: { envVars: { RT_PARENT: 'p', RT_SHARED: 'parent' }, workingDir: dir } })(async () => {
      const child = ray.remote(() => [process.env.RT_PARENT, process.env.RT_SHARED, process.env.RT_JOB, process.env.RT_CHILD ?? null, process.cwd()]);
      return ray.get([child.remote(), child.options({ runtimeEnv: { envVars: { RT_CHILD: 'c', RT_SHARED: 'child' } } }).remote()]);
    });
    expect(await ray.get(parent.remote())).toEqual([
      ['p', 'parent', 'job', null, dir],
      ['p', 'child', 'job', 'c', dir],
    ]);
  });

  test("an actor created inside a task inherits the task's env", async () => {
    const parent = ray.remote({ runtimeEnv: { envVars: { RT_PARENT: 'from-task' } } })(async () => {
      const Inner = ray.remote(
        class {
          get(): string | undefined {
            return process.env.RT_PARENT;
          }
        },
      );
      return ray.get(Inner.remote().get.remote());
    });
    expect(await ray.get(parent.remote())).toBe('from-task');
  });
});

describe('worker pools per runtime env', () => {
  test('two different envs run in different processes; the same env reuses its worker', async () => {
    const one = pid.options({ runtimeEnv: { envVars: { RT_POOL: 'one' } } });
    const two = pid.options({ runtimeEnv: { envVars: { RT_POOL: 'two' } } });
    const p1 = await ray.get(one.remote());
    const p2 = await ray.get(two.remote());
    expect(p1).not.toBe(p2);
    expect(await ray.get(one.remote())).toBe(p1);
    // The same env written again (another object, another key order) is the same pool.
    expect(await ray.get(pid.options({ runtime_env: { env_vars: { RT_POOL: 'two' } } } as never).remote())).toBe(p2);
    expect(p1).not.toBe(process.pid);
  });

  test('work with the default (job) env does not run on a worker of another env', async () => {
    const special = await ray.get(pid.options({ runtimeEnv: { envVars: { RT_POOL: 'special' } } }).remote());
    const plain = await ray.get(pid.remote());
    expect(plain).not.toBe(special);
    expect(await ray.get(pid.remote())).toBe(plain);
  });
});

describe('setup errors', () => {
  const missing = path.join(tmp, 'does-not-exist');

  test('a missing working dir fails the task with RuntimeEnvSetupError naming it', async () => {
    const f = ray.remote({ runtimeEnv: { workingDir: missing }, maxRetries: 3 })(() => 'never runs');
    const err = await rejectionOf(ray.get(f.remote()));
    expect(err).toBeInstanceOf(ray.RuntimeEnvSetupError);
    expect(err).toBeInstanceOf(ray.RayError);
    expect(err.message).toContain(missing);
    expect(err.message).toMatch(/does not exist/);
    // Every call fails the same way; none hangs.
    const errs = await Promise.all([f.remote(), f.remote()].map((r) => rejectionOf(ray.get(r))));
    for (const e of errs) expect(e).toBeInstanceOf(ray.RuntimeEnvSetupError);
  });

  test('a module that fails to import fails the task with RuntimeEnvSetupError naming the module and its error', async () => {
    const bad = path.join(tmp, 'bad-module.js');
    fs.writeFileSync(bad, "throw new Error('boom at import');\n");
    const f = ray.remote({ runtimeEnv: { modules: [bad] } })(() => 'never runs');
    const err = await rejectionOf(ray.get(f.remote()));
    expect(err).toBeInstanceOf(ray.RuntimeEnvSetupError);
    expect(err.message).toContain(bad);
    expect(err.message).toContain('boom at import');
    const gone = await rejectionOf(ray.get(f.options({ runtimeEnv: { modules: [path.join(tmp, 'no-such-module.js')] } }).remote()));
    expect(gone).toBeInstanceOf(ray.RuntimeEnvSetupError);
    expect(gone.message).toContain('no-such-module.js');
  });

  test("an actor with a bad env: __ray_ready__ and every call fail with RuntimeEnvSetupError", async () => {
    const A = ray.remote({ runtimeEnv: { workingDir: missing } })(
      class {
        ping(): string {
          return 'pong';
        }
      },
    );
    const a = A.remote();
    const ready = await rejectionOf(ray.get(a.__ray_ready__.remote()));
    expect(ready).toBeInstanceOf(ray.RuntimeEnvSetupError);
    expect(ready.message).toContain(missing);
    const call = await rejectionOf(ray.get(a.ping.remote()));
    expect(call).toBeInstanceOf(ray.RuntimeEnvSetupError);
  });

  test('the driver and the node survive: later work, with and without an env, still runs', async () => {
    const dir = fs.mkdtempSync(path.join(tmp, 'after-'));
    expect(await ray.get(envOf.remote('RT_JOB'))).toEqual({ RT_JOB: 'job' });
    const cwd = ray.remote({ runtimeEnv: { workingDir: dir } })(() => process.cwd());
    expect(await ray.get(cwd.remote())).toBe(dir);
    // Failed setups gave their leases back (returns are asynchronous: poll, up to 20 s).
    let cpus = 0;
    for (const end = Date.now() + 20_000; cpus !== 4 && Date.now() < end; ) {
      cpus = (await ray.availableResources()).CPU ?? 0;
      if (cpus !== 4) await new Promise((r) => setTimeout(r, 20));
    }
    expect(cpus).toBe(4);
  });
});

describe('GPU assignment and CUDA_VISIBLE_DEVICES', () => {
  test('a worker with GPUs sees its ids; it is stopped when its lease ends, never pooled', async () => {
    const g = ray.remote({ numGpus: 1 })(() => [process.env.CUDA_VISIBLE_DEVICES, ray.getGpuIds(), process.pid]);
    const [cvd1, ids1, pid1] = (await ray.get(g.remote())) as [string, number[], number];
    expect(ids1).toHaveLength(1);
    expect(cvd1).toBe(String(ids1[0]));
    // The owner returns the idle lease; the node then stops the worker instead of pooling it.
    const node = testing.embeddedNode()!;
    for (const end = Date.now() + 20_000; node.workerPids().includes(pid1) && Date.now() < end; ) await new Promise((r) => setTimeout(r, 20));
    expect(node.workerPids()).not.toContain(pid1);
    const [, , pid2] = (await ray.get(g.remote())) as [string, number[], number];
    expect(pid2).not.toBe(pid1);
    const two = ray.remote({ numGpus: 2 })(() => [process.env.CUDA_VISIBLE_DEVICES, ray.getGpuIds()]);
    expect(await ray.get(two.remote())).toEqual(['0,1', [0, 1]]);
  });

  test("the GPU assignment wins over the user's CUDA_VISIBLE_DEVICES, with a warning", async () => {
    const warn = jest.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    const g = ray.remote({ numGpus: 1, runtimeEnv: { envVars: { CUDA_VISIBLE_DEVICES: '7' } } })(() => [process.env.CUDA_VISIBLE_DEVICES, ray.getGpuIds()]);
    const [cvd, ids] = (await ray.get(g.remote())) as [string, number[]];
    expect(cvd).toBe(String(ids[0]));
    expect(cvd).not.toBe('7');
    expect(warn.mock.calls.some(([w]) => /CUDA_VISIBLE_DEVICES='7' is ignored/.test(String(w)))).toBe(true);
    warn.mockRestore();
  });

  test('a worker without GPUs on a GPU node sees none', async () => {
    expect(await ray.get(envOf.remote('CUDA_VISIBLE_DEVICES'))).toEqual({ CUDA_VISIBLE_DEVICES: '' });
    const ids = ray.remote(() => ray.getGpuIds());
    expect(await ray.get(ids.remote())).toEqual([]);
  });
});
