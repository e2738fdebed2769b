/**
 * Messages to a process's reply queue (`raybus.reply.<procId>`): results and stream items of
 * the work it submitted, lease answers, object requests and answers, borrow tokens, answers to
 * its requests, and control of the tasks and streams it runs.
 */
import type { LeaseId, NodeId, ObjectId, PlacementGroupId, ReplyQueue, RequestId, TaskId, WorkerId } from '../ids';
import type { ActorMeta, ClusterInfo, ClusterState, PlacementGroupInfo, WireError, WireOutcome } from '../wire';
import type { LogChunkMsg, LogLinesMsg, StateAnswerMsg } from './state';

export interface ResultMsg {
  t: 'result';
  task: TaskId;
  rets: WireOutcome[];
  /** Generator tasks: how many stream items were sent before this result. */
  n?: number;
  /** The worker reached the task's maxCalls and exits: send it nothing more. */
  retire?: boolean;
  /** Normal tasks: how long the call ran, in µs (the owner sizes its pipelining by it). */
  us?: number;
}
/**
 * Worker → owner: tasks pushed on a lease that the worker will not start soon (the one it
 * runs is waiting), in push order; the owner queues them again. They never started.
 */
export interface TasksReturnedMsg {
  t: 'tasks-returned';
  lease: LeaseId;
  tasks: TaskId[];
  /** The running task waits in `get`/`wait`: push nothing more to this lease until it ends. */
  blocked?: boolean;
}
/**
 * Actor host → caller: a call of maxTaskRetries ≠ 0 came back to the mailbox after the
 * incarnation holding it died. The caller counts the attempt and answers `call-verdict`.
 */
export interface CallRedeliveredMsg {
  t: 'call-redelivered';
  task: TaskId;
  reply: ReplyQueue;
}
/** Caller → actor host: run the redelivered call as attempt `attempt`, or drop it (`run: false`). */
export interface CallVerdictMsg {
  t: 'call-verdict';
  task: TaskId;
  run: boolean;
  attempt: number;
}
/** One value yielded by a generator task (item `seq`, from 0), sent to the owner. */
export interface StreamItemMsg {
  t: 'stream-item';
  task: TaskId;
  seq: number;
  out: WireOutcome;
  /** The producer's reply queue, for acks, release and cancel. */
  from: ReplyQueue;
}
/** Owner → producer: consumption progress, release, or cancel of a stream. */
export interface StreamControlMsg {
  t: 'stream-ack' | 'stream-release' | 'stream-cancel';
  task: TaskId;
  consumed?: number;
}
/** Owner → worker running a task: cancel it (its AbortSignal fires). */
export interface CancelTaskMsg {
  t: 'cancel-task';
  task: TaskId;
  /** Also cancel the tasks it submitted (default true). */
  recursive?: boolean;
}
export interface LeaseGrantedMsg {
  t: 'lease-granted';
  req: RequestId;
  lease: LeaseId;
  worker: WorkerId;
  node: NodeId;
}
export interface LeaseFailedMsg {
  t: 'lease-failed';
  req: RequestId;
  err: WireError;
}
/**
 * Broker → owner: the lease request `req` is infeasible (no node could ever provide it); it
 * stays pending. A driver's process is not kept alive for such work alone.
 */
export interface LeaseInfeasibleMsg {
  t: 'lease-infeasible';
  req: RequestId;
}
export interface LeaseLostMsg {
  t: 'lease-lost';
  lease: LeaseId;
  reason: string;
  /** Do not retry the tasks (their placement group was removed). */
  fatal?: boolean;
}
/**
 * Work of some owner waits for resources: give back the task leases kept idle for more work
 * (the broker tells every owner holding task leases; task-submitter.ts).
 */
export interface LeasesWantedMsg {
  t: 'leases-wanted';
}
export interface PgReadyMsg {
  t: 'pg-ready';
  pg: PlacementGroupId;
}
export interface PgTableReplyMsg {
  t: 'pg-table-reply';
  req: RequestId;
  table: Record<string, PlacementGroupInfo>;
}
/** A borrower asks the owner for an object's value. */
export interface GetObjectMsg {
  t: 'get-object';
  id: ObjectId;
  reply: ReplyQueue;
}
/** The owner's answer to `get-object`. */
export interface ObjectMsg {
  t: 'object';
  id: ObjectId;
  out: WireOutcome;
}
/** `n` borrow tokens for an object (negative: returned). */
export interface BorrowMsg {
  t: 'borrow';
  id: ObjectId;
  n: number;
}
/** A receiver asks the holder of blob `id` for `len` bytes from `off` (core/blob-exchange.ts). */
export interface BlobGetMsg {
  t: 'blob-get';
  id: string;
  off: number;
  len: number;
  reply: ReplyQueue;
}
/**
 * The holder's answer: the bytes from `off`; with the last chunk, the sha256 (hex) of the
 * whole; `err` when it does not hold the blob (any more).
 */
export interface BlobChunkMsg {
  t: 'blob-chunk';
  id: string;
  off: number;
  data: Uint8Array;
  h?: string;
  err?: string;
}
/** The receiver has the whole blob (or gave up): the holder may forget it. */
export interface BlobDoneMsg {
  t: 'blob-done';
  id: string;
}
/** Actor host → caller: which calls of sequence `s` still wait for their results? */
export interface CallSeqQueryMsg {
  t: 'call-seq-query';
  s: string;
  reply: ReplyQueue;
}
/**
 * Caller → actor host: the lowest number of sequence `s` still waiting for its result (the
 * next number it will use when none waits), or -1 for a sequence it does not know.
 */
export interface CallSeqMsg {
  t: 'call-seq';
  s: string;
  lo: number;
}
export interface ActorInfoMsg {
  t: 'actor-info';
  req: RequestId;
  meta?: ActorMeta;
  err?: WireError;
}
export interface ClusterInfoMsg {
  t: 'cluster-info';
  req: RequestId;
  info: ClusterInfo;
}
export interface ClusterStateMsg {
  t: 'cluster-state';
  req: RequestId;
  state: ClusterState;
}
export interface AckMsg {
  t: 'ack';
  req: RequestId;
  err?: WireError;
}

/** Answers correlated with a request by `req`. */
export type RequestAnswerMsg = LeaseGrantedMsg | LeaseFailedMsg | ActorInfoMsg | ClusterInfoMsg | ClusterStateMsg | AckMsg | PgTableReplyMsg;

export type ReplyMsg =
  | ResultMsg
  | TasksReturnedMsg
  | CallRedeliveredMsg
  | CallVerdictMsg
  | StreamItemMsg
  | StreamControlMsg
  | CancelTaskMsg
  | LeaseLostMsg
  | LeaseInfeasibleMsg
  | LeasesWantedMsg
  | PgReadyMsg
  | GetObjectMsg
  | ObjectMsg
  | BorrowMsg
  | CallSeqQueryMsg
  | CallSeqMsg
  | BlobGetMsg
  | BlobChunkMsg
  | BlobDoneMsg
  | RequestAnswerMsg
  | StateAnswerMsg
  | LogLinesMsg
  | LogChunkMsg;
