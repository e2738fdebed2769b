/**
 * How a node and the worker processes it forks agree on a worker's identity and start-up: the
 * environment variables a worker is forked with. (A worker whose runtime env cannot be set up
 * says so in a frame on its link: ipc-protocol.ts.)
 */
import type { JobId, NodeId, WorkerId } from './ids';
import type { RuntimeEnv } from './runtime-env';

/** The worker's id (its reply queue is `raybus.reply.<id>`, its task queue `raybus.worker.<id>`). */
const WORKER_ID_VAR = 'RAYBUS_WORKER_ID';
const NODE_ID_VAR = 'RAYBUS_NODE_ID';
const JOB_ID_VAR = 'RAYBUS_JOB_ID';
const NAMESPACE_VAR = 'RAYBUS_NAMESPACE';
/** The worker's effective runtime env (JSON). */
export const RUNTIME_ENV_VAR = 'RAYBUS_RUNTIME_ENV';
/** The node's `--import` modules (JSON array of resolved specifiers). */
export const NODE_IMPORTS_VAR = 'RAYBUS_NODE_IMPORTS';
/** The worker's GPU ids (comma-separated). */
export const GPU_IDS_VAR = 'RAYBUS_GPU_IDS';
/**
 * Set to `1` by a node that authenticates its bus: the worker takes only deliveries the node
 * opened with the cluster key, and loads code only from them.
 */
export const REQUIRE_SIGNED_CODE_VAR = 'RAYBUS_REQUIRE_SIGNED_CODE';
/** The cluster key of drivers, nodes and the CLI; never in a worker's environment. */
export const CLUSTER_KEY_VAR = 'RAYBUS_CLUSTER_KEY';
/** Set ('1') when the worker's stdout and stderr are its log files on the node. */
export const LOG_FILES_VAR = 'RAYBUS_LOG_FILES';

/** Who a worker is: set by its node, read by the worker at start. */
export interface WorkerIdentity {
  readonly workerId: WorkerId;
  readonly nodeId: NodeId;
  readonly jobId: JobId;
  readonly namespace: string;
}

/** The identity variables of a worker's environment. */
export function workerIdentityEnv(identity: WorkerIdentity): Record<string, string> {
  return {
    [WORKER_ID_VAR]: identity.workerId,
    [NODE_ID_VAR]: identity.nodeId,
    [JOB_ID_VAR]: identity.jobId,
    [NAMESPACE_VAR]: identity.namespace,
  };
}

/** This process's identity as a worker (undefined when it is not one). */
export function readWorkerIdentity(environ: NodeJS.ProcessEnv = process.env): WorkerIdentity | undefined {
  const workerId = environ[WORKER_ID_VAR];
  const nodeId = environ[NODE_ID_VAR];
  if (!workerId || !nodeId) return undefined;
  return {
    workerId: workerId as WorkerId,
    nodeId: nodeId as NodeId,
    jobId: (environ[JOB_ID_VAR] || 'job') as JobId,
    namespace: environ[NAMESPACE_VAR] || 'default',
  };
}

/** The env this worker was started with (undefined for the default env). */
export function readWorkerRuntimeEnv(environ: NodeJS.ProcessEnv = process.env): RuntimeEnv | undefined {
  const raw = environ[RUNTIME_ENV_VAR];
  if (!raw) return undefined;
  return JSON.parse(raw) as RuntimeEnv;
}

/** The GPU ids this worker was started with. */
export function readWorkerGpuIds(environ: NodeJS.ProcessEnv = process.env): number[] {
  const raw = environ[GPU_IDS_VAR];
  if (!raw) return [];
  return raw
    .split(',')
    .filter((s) => s.trim() !== '')
    .map(Number)
    .filter((n) => Number.isInteger(n));
}
