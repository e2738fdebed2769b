/**
 * Every id format raybus puts on the wire, in one place, as branded string types with the
 * helpers that make and read them. A brand is a compile-time tag only: at run time an id is a
 * plain string, so ids travel and compare as strings.
 *
 * Formats:
 * - a unique id: 12 hex chars of process prefix + 10 hex chars of a counter (`newIdSource`);
 * - a task's return `i` (an object id): the task id + 4 hex digits of `i`; a generator task's
 *   completion is its return 0;
 * - a worker id: the first 8 chars of its node id, `w`, a counter and random hex;
 * - a lease id: `g`, a counter and random hex, `@` and the node it was granted on.
 */
import { randomHex } from '../util/node-crypto';

declare const brand: unique symbol;
/** `T` tagged with `B` at compile time. */
export type Brand<T, B extends string> = T & { readonly [brand]: B };

export type TaskId = Brand<string, 'TaskId'>;
export type ObjectId = Brand<string, 'ObjectId'>;
export type ActorId = Brand<string, 'ActorId'>;
export type NodeId = Brand<string, 'NodeId'>;
export type WorkerId = Brand<string, 'WorkerId'>;
export type LeaseId = Brand<string, 'LeaseId'>;
export type JobId = Brand<string, 'JobId'>;
export type PlacementGroupId = Brand<string, 'PlacementGroupId'>;
/** Correlates a request with its answer (`req` fields). */
export type RequestId = Brand<string, 'RequestId'>;
/** A process's identity on the bus: its reply queue is `raybus.reply.<ProcId>`. */
export type ProcId = Brand<string, 'ProcId'>;

/** Hex digits of a return index in an object id. */
const RETURN_INDEX_DIGITS = 4;

/** Where `joinFlat` assembles an id. */
const scratch = Buffer.allocUnsafe(256);
const HEX = '0123456789abcdef';

/**
 * `head` followed by `digits` hex digits of `n`, as one flat string. A template literal would
 * make a pair of strings V8 joins later (two more objects for each id a queued task holds, and
 * slower hashing as a Map key); a million queued tasks hold two ids each. Falls back to the
 * template literal for a head past 192 characters or outside Latin-1.
 */
function joinHex(head: string, n: number, digits: number): string {
  const len = head.length;
  if (len > 192) return `${head}${n.toString(16).padStart(digits, '0')}`;
  for (let i = 0; i < len; i++) {
    const c = head.charCodeAt(i);
    if (c > 0xff) return `${head}${n.toString(16).padStart(digits, '0')}`;
    scratch[i] = c;
  }
  if (n >= 16 ** digits) return `${head}${n.toString(16)}`;
  for (let i = len + digits - 1; i >= len; i--) {
    scratch[i] = HEX.charCodeAt(n % 16);
    n = Math.floor(n / 16);
  }
  return scratch.toString('latin1', 0, len + digits);
}

/** The object id of return `index` of `task`. */
export function returnId(task: TaskId, index: number): ObjectId {
  return joinHex(task, index, RETURN_INDEX_DIGITS) as ObjectId;
}

/** The ids of a task's `count` returns, in order. */
export function returnIdsOf(task: TaskId, count: number): ObjectId[] {
  const ids = new Array<ObjectId>(count);
  for (let i = 0; i < count; i++) ids[i] = returnId(task, i);
  return ids;
}

/** The task that produces `object` (a return of it, or its stream's completion). */
export function taskOfObject(object: ObjectId | string): TaskId {
  return object.slice(0, -RETURN_INDEX_DIGITS) as TaskId;
}

/** The object of item `seq` of a generator task's stream. */
export function streamItemId(task: TaskId, seq: number): ObjectId {
  return `${task}s${seq.toString(16).padStart(8, '0')}` as ObjectId;
}

/** The completion object of a generator task (its return 0). */
export function completionId(task: TaskId): ObjectId {
  return returnId(task, 0);
}

/** The task id of an actor's creation task (its constructor call): the actor's id. */
export function actorCreationTaskId(actor: ActorId): TaskId {
  return actor as string as TaskId;
}

const ACTOR_REF_PREFIX = 'actor:';

/**
 * The key under which an actor's handles are counted like refs to an object its owner owns
 * (the owner's handles, borrowers, handles in pending tasks): the actor lives while it is held.
 */
export function actorRefKey(actor: ActorId): ObjectId {
  return `${ACTOR_REF_PREFIX}${actor}` as ObjectId;
}

/** The actor whose handles `key` counts (undefined for an object id). */
export function actorOfRefKey(key: ObjectId | string): ActorId | undefined {
  return key.startsWith(ACTOR_REF_PREFIX) ? (key.slice(ACTOR_REF_PREFIX.length) as ActorId) : undefined;
}

/** The object that `pg.ready()` resolves once placement group `pg` is created. */
export function placementGroupReadyId(pg: PlacementGroupId): ObjectId {
  return `${pg}ready` as ObjectId;
}

/** Makes the unique ids of one process: a random prefix and a counter. */
export interface IdSource {
  next<T extends TaskId | ObjectId | ActorId | RequestId | PlacementGroupId>(): T;
}

/** Hex digits of the counter at the end of a unique id. */
export const ID_COUNTER_DIGITS = 10;

/** Ids with `prefix`; without one, a random prefix drawn at the first id. */
export function newIdSource(prefix?: string): IdSource {
  let counter = 0;
  return {
    next<T>() {
      counter += 1;
      return joinHex((prefix ??= randomHex(6)), counter, ID_COUNTER_DIGITS) as T;
    },
  };
}

/** The unique id with `prefix` and `counter` (what `newIdSource(prefix)` makes). */
export function joinId(prefix: string, counter: number): string {
  return joinHex(prefix, counter, ID_COUNTER_DIGITS);
}

/**
 * The counter of a unique id made with `prefix`, or -1 when `id` is not one (read from the
 * characters, without making a new string).
 */
export function idCounter(id: string, prefix: string): number {
  if (id.length !== prefix.length + ID_COUNTER_DIGITS || !id.startsWith(prefix)) return -1;
  let n = 0;
  for (let i = prefix.length; i < id.length; i++) {
    const c = id.charCodeAt(i);
    const d = c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : -1;
    if (d < 0) return -1;
    n = n * 16 + d;
  }
  return n;
}

/** A new node id (28 hex chars). */
export function newNodeId(): NodeId {
  return randomHex(14) as NodeId;
}

/** A new job id (8 hex chars). */
export function newJobId(): JobId {
  return randomHex(4) as JobId;
}

const WORKER_NODE_CHARS = 8;

/** The id of worker number `seq` of `node`. */
export function newWorkerId(node: NodeId, seq: number): WorkerId {
  return `${node.slice(0, WORKER_NODE_CHARS)}w${seq.toString(16)}${randomHex(3)}` as WorkerId;
}

/** The start every worker id of `node` shares. */
export function workerIdPrefix(node: NodeId | string): string {
  return `${node.slice(0, WORKER_NODE_CHARS)}w`;
}

/** Lease number `n` granted on `node`. */
export function leaseId(node: NodeId | string, n: number): LeaseId {
  return `g${n.toString(16)}${randomHex(3)}@${node}` as LeaseId;
}

/** The node a lease was granted on (undefined for ids of another form). */
export function nodeOfLease(lease: LeaseId | string): NodeId | undefined {
  const at = lease.lastIndexOf('@');
  return at >= 0 ? (lease.slice(at + 1) as NodeId) : undefined;
}

/** The proc id of a driver of job `job` (`driver-<job><random>`). */
export function driverProcId(job: JobId, unique = ''): ProcId {
  return `driver-${job}${unique}` as ProcId;
}

/** The name of a queue of kind `K` (see queues.ts): what may be sent there is typed by `K`. */
export type QueueName<K extends string = string> = Brand<string, `queue:${K}`>;
/** A process's reply queue, which is also its address as an owner of objects. */
export type ReplyQueue = QueueName<'reply'>;
/** The name of a broadcast topic of kind `K`. */
export type TopicName<K extends string = string> = Brand<string, `topic:${K}`>;
