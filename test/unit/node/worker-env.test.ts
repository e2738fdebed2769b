import { buildWorkerEnv } from '../../../src/node/worker-env';
import { GPU_IDS_VAR, RUNTIME_ENV_VAR } from '../../../src/worker/runtime-env-setup';

const identity = { RAYBUS_WORKER_ID: 'w1' };

describe('buildWorkerEnv', () => {
  it('inherits the node environment, adds identity, user env vars and the env as JSON', () => {
    const runtimeEnv = { envVars: { MODE: 'test', HOME: '/elsewhere' }, workingDir: '/w' };
    const { env, warning } = buildWorkerEnv({ base: { HOME: '/home/u', PATH: '/bin' }, identity, runtimeEnv, gpuIds: [], nodeHasGpus: false });
    expect(env).toMatchObject({ PATH: '/bin', HOME: '/elsewhere', MODE: 'test', RAYBUS_WORKER_ID: 'w1' });
    expect(JSON.parse(env[RUNTIME_ENV_VAR]!)).toEqual(runtimeEnv);
    expect(env.CUDA_VISIBLE_DEVICES).toBeUndefined();
    expect(warning).toBeUndefined();
  });

  it('identity variables cannot be overridden by the user, and a stale env JSON is not inherited', () => {
    const { env } = buildWorkerEnv({
      base: { [RUNTIME_ENV_VAR]: '{"envVars":{"OLD":"1"}}', [GPU_IDS_VAR]: '3' },
      identity,
      runtimeEnv: { envVars: { RAYBUS_WORKER_ID: 'mine' } },
      gpuIds: [],
      nodeHasGpus: false,
    });
    expect(env.RAYBUS_WORKER_ID).toBe('w1');
    expect(JSON.parse(env[RUNTIME_ENV_VAR]!)).toEqual({ envVars: { RAYBUS_WORKER_ID: 'mine' } });
    expect(env[GPU_IDS_VAR]).toBeUndefined();
    expect(buildWorkerEnv({ base: { [RUNTIME_ENV_VAR]: '{}' }, identity, gpuIds: [], nodeHasGpus: false }).env[RUNTIME_ENV_VAR]).toBeUndefined();
  });

  it('never hands a worker the cluster key; only the node decides whether it requires authenticated messages', () => {
    const base = { RAYBUS_CLUSTER_KEY: 'the-key', RAYBUS_REQUIRE_SIGNED_CODE: '0', PATH: '/bin' };
    const runtimeEnv = { envVars: { RAYBUS_CLUSTER_KEY: 'user-given', RAYBUS_REQUIRE_SIGNED_CODE: '0' } };
    const keyed = buildWorkerEnv({ base, identity: { ...identity, RAYBUS_REQUIRE_SIGNED_CODE: '1' }, runtimeEnv, gpuIds: [], nodeHasGpus: false }).env;
    expect(keyed.RAYBUS_CLUSTER_KEY).toBeUndefined();
    expect(keyed.RAYBUS_REQUIRE_SIGNED_CODE).toBe('1');
    const open = buildWorkerEnv({ base, identity, gpuIds: [], nodeHasGpus: false }).env;
    expect(open.RAYBUS_CLUSTER_KEY).toBeUndefined();
    expect(open.RAYBUS_REQUIRE_SIGNED_CODE).toBeUndefined();
  });

  it('a worker with GPUs sees exactly its GPU ids', () => {
    const { env, warning } = buildWorkerEnv({ base: { CUDA_VISIBLE_DEVICES: '0,1,2,3' }, identity, gpuIds: [2, 3], nodeHasGpus: true });
    expect(env.CUDA_VISIBLE_DEVICES).toBe('2,3');
    expect(env[GPU_IDS_VAR]).toBe('2,3');
    expect(warning).toBeUndefined();
  });

  it("the GPU assignment wins over the user's CUDA_VISIBLE_DEVICES, with a warning", () => {
    const { env, warning } = buildWorkerEnv({
      base: {},
      identity,
      runtimeEnv: { envVars: { CUDA_VISIBLE_DEVICES: '7' } },
      gpuIds: [1],
      nodeHasGpus: true,
    });
    expect(env.CUDA_VISIBLE_DEVICES).toBe('1');
    expect(warning).toMatch(/CUDA_VISIBLE_DEVICES='7' is ignored.*'1'/);
    // The same value as the assignment is no conflict.
    expect(buildWorkerEnv({ base: {}, identity, runtimeEnv: { envVars: { CUDA_VISIBLE_DEVICES: '1' } }, gpuIds: [1], nodeHasGpus: true }).warning).toBeUndefined();
  });

  it('a worker without GPUs on a GPU node sees none, unless the user set the variable', () => {
    expect(buildWorkerEnv({ base: { CUDA_VISIBLE_DEVICES: '0,1' }, identity, gpuIds: [], nodeHasGpus: true }).env.CUDA_VISIBLE_DEVICES).toBe('');
    const user = buildWorkerEnv({ base: {}, identity, runtimeEnv: { envVars: { CUDA_VISIBLE_DEVICES: '0' } }, gpuIds: [], nodeHasGpus: true });
    expect(user.env.CUDA_VISIBLE_DEVICES).toBe('0');
    expect(user.warning).toBeUndefined();
    // A node without GPUs leaves the inherited value alone.
    expect(buildWorkerEnv({ base: { CUDA_VISIBLE_DEVICES: '5' }, identity, gpuIds: [], nodeHasGpus: false }).env.CUDA_VISIBLE_DEVICES).toBe('5');
  });
});
