/**
 * Messages of the state API and of logs: the query broadcast on `raybus.state` (every driver,
 * worker and node answers with its slice), the broker's direct request for what it alone knows
 * (actors, nodes, placement groups), the answers, worker output on its way to the driver, and
 * reading a worker's log file through its node.
 */
import type { NodeId, ReplyQueue, RequestId, TaskId, WorkerId } from '../ids';
import type { ListKind, ProcessMetrics, StateFilter, StateQueryKind, TaskSummaryEntry } from '../state';

/** What every state query carries: filters, page size and position, detail. */
export interface StateQueryFields {
  req: RequestId;
  reply: ReplyQueue;
  filters: StateFilter[];
  /** Most rows in the answer. */
  limit: number;
  /** Rows after this key only (the `nextCursor` of the previous page). */
  cursor?: string;
  detail: boolean;
}

/** Broadcast on the state topic: whoever holds rows of `what` answers `reply` with its slice. */
export interface StateQueryMsg extends StateQueryFields {
  t: 'state-query';
  what: StateQueryKind;
}

/** To the broker: the rows only it holds. `ids`: only these actors (the task merge asks). */
export interface StateRequestMsg extends StateQueryFields {
  t: 'state-request';
  what: Extract<ListKind, 'actors' | 'nodes' | 'placement-groups'> | 'actor-summary';
  ids?: string[];
}

/** Who answered a state query. */
export interface StateSource {
  kind: 'driver' | 'worker' | 'node' | 'broker';
  id: string;
  nodeId?: NodeId;
  pid?: number;
}

/** One process's (or the broker's) slice of a state query's answer. */
export interface StateAnswerMsg {
  t: 'state-answer';
  req: RequestId;
  from: StateSource;
  /** Matching rows (after `cursor`, sorted by key), at most `limit`. */
  items: object[];
  /** Rows that matched here, in all. */
  total: number;
  /** More rows matched than were sent. */
  more: boolean;
  /** Finished tasks this owner's bounded buffer no longer holds. */
  dropped?: number;
  /** Tasks executing in this process now, with their names (actor calls become RUNNING). */
  running?: Array<[TaskId, string]>;
  /** `task-summary`: this owner's counts by function. */
  summary?: Record<string, TaskSummaryEntry>;
  /** `actor-summary` (the broker): actors by class and state, and `creationFailed` by class. */
  counts?: Record<string, Record<string, number>>;
  /** `metrics`: this process's counters. */
  metrics?: ProcessMetrics;
}

/** One line a worker wrote, tagged with what it was running. */
export interface LogLine {
  /** The function, or the actor's class. */
  name: string;
  text: string;
  /** Written to stderr. */
  err?: boolean;
}

/** Worker → the owner of its work: lines its work wrote (batched). */
export interface LogLinesMsg {
  t: 'log-lines';
  pid: number;
  node: NodeId;
  worker: WorkerId;
  lines: LogLine[];
}

/** To a node: part of a worker's log file (`raybus logs`). */
export interface ReadLogMsg {
  t: 'read-log';
  req: RequestId;
  reply: ReplyQueue;
  worker: WorkerId;
  stream: 'out' | 'err';
  /** Byte offset to read from. */
  offset: number;
  /** Most bytes to send. */
  max: number;
}

/** The node's answer to `read-log`. */
export interface LogChunkMsg {
  t: 'log-chunk';
  req: RequestId;
  /** The bytes read, as UTF-8 text (may end inside a line). */
  data: string;
  /** Offset after what was read. */
  next: number;
  /** The file's size now. */
  size: number;
  /** Why nothing could be read (no such file). */
  err?: string;
}
