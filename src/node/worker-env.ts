/**
 * The process environment a node forks a worker with: the node's own, the worker's identity,
 * its runtime env (env vars, and the whole env as JSON for the worker to set up), and the GPU
 * assignment (`CUDA_VISIBLE_DEVICES`), which wins over a user's env var of the same name. The
 * cluster key never reaches a worker: user code runs there.
 */
import type { RuntimeEnv } from '../protocol/runtime-env';
import { CLUSTER_KEY_VAR, GPU_IDS_VAR, REQUIRE_SIGNED_CODE_VAR, RUNTIME_ENV_VAR } from '../protocol/worker-process';

/** What a worker is forked for. */
export interface WorkerEnvInput {
  /** The node process's environment (inherited). */
  readonly base: NodeJS.ProcessEnv;
  /** RAYBUS_* identity variables. */
  readonly identity: Readonly<Record<string, string>>;
  /** The worker's effective runtime env (undefined: the default env). */
  readonly runtimeEnv?: RuntimeEnv;
  /** GPU ids assigned to the worker's lease (empty: none). */
  readonly gpuIds: readonly number[];
  /** Does the node have GPU resources? Workers without GPUs then see none. */
  readonly nodeHasGpus: boolean;
}

/** The environment, and a warning when the GPU assignment overrode a user's env var. */
export interface WorkerEnv {
  readonly env: NodeJS.ProcessEnv;
  readonly warning?: string;
}

/**
 * @example
 * buildWorkerEnv({ base: process.env, identity: {}, gpuIds: [0, 1], nodeHasGpus: true }).env.CUDA_VISIBLE_DEVICES; // '0,1'
 */
export function buildWorkerEnv(input: WorkerEnvInput): WorkerEnv {
  const user = input.runtimeEnv?.envVars ?? {};
  const env: NodeJS.ProcessEnv = { ...input.base, ...user };
  // Whether the worker trusts only authenticated messages is the node's call alone.
  delete env[REQUIRE_SIGNED_CODE_VAR];
  Object.assign(env, input.identity);
  delete env[CLUSTER_KEY_VAR];
  delete env[RUNTIME_ENV_VAR];
  delete env[GPU_IDS_VAR];
  if (input.runtimeEnv) env[RUNTIME_ENV_VAR] = JSON.stringify(input.runtimeEnv);
  let warning: string | undefined;
  if (input.gpuIds.length > 0) {
    const ids = input.gpuIds.join(',');
    const asked = user.CUDA_VISIBLE_DEVICES;
    if (asked !== undefined && asked !== ids) {
      warning =
        `raybus: runtimeEnv.envVars.CUDA_VISIBLE_DEVICES='${asked}' is ignored for a worker with GPUs assigned: ` +
        `the GPU assignment wins (CUDA_VISIBLE_DEVICES='${ids}').`;
    }
    env.CUDA_VISIBLE_DEVICES = ids;
    env[GPU_IDS_VAR] = ids;
  } else if (input.nodeHasGpus && user.CUDA_VISIBLE_DEVICES === undefined) {
    // A worker without GPUs must not grab the node's GPUs (an explicit user value is kept).
    env.CUDA_VISIBLE_DEVICES = '';
  }
  return warning ? { env, warning } : { env };
}
