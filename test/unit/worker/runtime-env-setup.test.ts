import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { RuntimeEnvSetupError } from '../../../src/errors/ray-errors';
import { GPU_IDS_VAR, RUNTIME_ENV_VAR, readWorkerGpuIds, readWorkerRuntimeEnv, setupRuntimeEnv } from '../../../src/worker/runtime-env-setup';

describe('worker start-up facts', () => {
  it('reads the runtime env and GPU ids the node set', () => {
    expect(readWorkerRuntimeEnv({})).toBeUndefined();
    expect(readWorkerRuntimeEnv({ [RUNTIME_ENV_VAR]: '{"envVars":{"A":"a"}}' })).toEqual({ envVars: { A: 'a' } });
    expect(readWorkerGpuIds({})).toEqual([]);
    expect(readWorkerGpuIds({ [GPU_IDS_VAR]: '' })).toEqual([]);
    expect(readWorkerGpuIds({ [GPU_IDS_VAR]: '0,3' })).toEqual([0, 3]);
  });
});

describe('setupRuntimeEnv', () => {
  const cwd = process.cwd();
  afterEach(() => process.chdir(cwd));

  it('does nothing for the default env', async () => {
    await setupRuntimeEnv(undefined);
    expect(process.cwd()).toBe(cwd);
  });

  it('enters the working directory', async () => {
    const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'raybus-env-')));
    try {
      await setupRuntimeEnv({ workingDir: dir });
      expect(process.cwd()).toBe(dir);
    } finally {
      process.chdir(cwd);
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a missing working directory is a RuntimeEnvSetupError naming it', async () => {
    const missing = path.join(os.tmpdir(), 'raybus-no-such-dir-for-test');
    const err = await setupRuntimeEnv({ workingDir: missing }).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(err).toBeInstanceOf(RuntimeEnvSetupError);
    expect(err!.message).toContain(missing);
    expect(err!.message).toMatch(/does not exist/);
    expect(process.cwd()).toBe(cwd);
  });

  it('a working directory that is a file is a RuntimeEnvSetupError', async () => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'raybus-env-')), 'f.txt');
    fs.writeFileSync(file, 'x');
    await expect(setupRuntimeEnv({ workingDir: file })).rejects.toThrow(/is not a directory/);
    fs.rmSync(path.dirname(file), { recursive: true, force: true });
  });
});
