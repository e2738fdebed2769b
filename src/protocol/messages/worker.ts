/**
 * Messages to a worker's queue (`raybus.worker.<workerId>`): tasks pushed on a lease, and the
 * node's orders to host an actor and to stop a shared one.
 */
import type { ActorId, LeaseId, NodeId, ReplyQueue, TaskId } from '../ids';
import type { ActorSpec, CodeDescriptor, TaskContextInfo, WireArg } from '../wire';

export interface TaskMsg {
  t: 'task';
  task: TaskId;
  fn: CodeDescriptor;
  args: WireArg[];
  nret: number;
  owner: ReplyQueue;
  ctx: TaskContextInfo;
  lease: LeaseId;
  /** Generator backpressure (items ahead of the consumer); absent = off. */
  bp?: number;
  /** The function's maxCalls: the worker exits after running it that many times. */
  mc?: number;
}

export interface HostActorMsg {
  t: 'host-actor';
  spec: ActorSpec;
  restart: boolean;
  nodeId: NodeId;
}

/** The node's order to stop one shared actor of this worker (`ray.kill`); the process lives on. */
export interface StopActorMsg {
  t: 'stop-actor';
  actor: ActorId;
}

export type WorkerMsg = TaskMsg | HostActorMsg | StopActorMsg;
