/** The options a CoreWorker is built with (core-worker.ts). */
import type { JobId, NodeId, ProcId, WorkerId } from '../protocol/ids';
import type { RuntimeEnv } from '../protocol/runtime-env';
import type { Transport } from '../transport/transport';
import type { Clock } from '../util/clock';
import type { BlockedNotices } from './blocked-waits';

/** Identity and collaborators of one process's runtime. */
export interface CoreWorkerOptions {
  readonly procId: ProcId | WorkerId;
  readonly transport: Transport;
  readonly jobId: JobId;
  readonly namespace: string;
  readonly nodeId?: NodeId;
  readonly isDriver: boolean;
  /**
   * The runtime env work submitted from this process inherits: the job's on a driver, the
   * worker's own (its effective env) in a worker.
   */
  readonly runtimeEnv?: RuntimeEnv;
  /** Every timer of the core (get/wait timeouts, submission retries). Default: real time. */
  readonly clock?: Clock;
  /** A driver prints the output its work's workers send (`init({ logToDriver })`; default true). */
  readonly logToDriver?: boolean;
  /**
   * A worker: where a task that waits in `get`/`wait` says so (its CPU is lent out meanwhile).
   * Absent on a driver, which holds no lease.
   */
  readonly blockedNotices?: BlockedNotices;
}
