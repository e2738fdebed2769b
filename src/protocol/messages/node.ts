/** Messages to a node's queue (`raybus.node.<nodeId>`), from the broker and task owners. */
import type { LeaseId, ReplyQueue, RequestId } from '../ids';
import type { RuntimeEnv } from '../runtime-env';
import type { ActorSpec, Resources } from '../wire';
import type { ReadLogMsg } from './state';

export interface StartLeaseMsg {
  t: 'start-lease';
  lease: LeaseId;
  req: RequestId;
  owner: ReplyQueue;
  demand: Resources;
  gpuIds: number[];
  /** The runtime env the leased worker must have (forwarded from RequestLeaseMsg.env). */
  env?: RuntimeEnv;
}
export interface StartActorMsg {
  t: 'start-actor';
  lease: LeaseId;
  spec: ActorSpec;
  gpuIds: number[];
  restart: boolean;
}
export interface ReleaseLeaseMsg {
  t: 'release-lease';
  lease: LeaseId;
}
export interface KillWorkerMsg {
  t: 'kill-worker';
  lease: LeaseId;
  /** Acknowledge to `reply` (tagged `req`) once the worker is dead and its calls requeued. */
  reply?: ReplyQueue;
  req?: RequestId;
}

/**
 * Worker → its node: the task running on `lease` waits in `get`/`wait` (`blocked`), or runs
 * again. The node remembers it for its reports and tells the broker, which lends the lease's
 * CPU out meanwhile (Ray's NotifyWorkerBlocked / NotifyWorkerUnblocked).
 */
export interface WorkerBlockedMsg {
  t: 'worker-blocked';
  lease: LeaseId;
  blocked: boolean;
}

export type NodeMsg = StartLeaseMsg | StartActorMsg | ReleaseLeaseMsg | KillWorkerMsg | ReadLogMsg | WorkerBlockedMsg;
