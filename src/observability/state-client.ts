/**
 * Asking the cluster about its state, from any process with a transport (a driver, a worker,
 * the CLI): queries broadcast on the state topic are answered by every process holding rows
 * (answers are collected until none came for a quiet period, at most `maxWaitMs`); what only
 * the broker knows (actors, nodes, placement groups) is one request to its queue. Answers
 * come to a reply queue of the query's own, or — for a client that asks often, the dashboard —
 * to one kept open between queries (`keepSession`). Nothing here blocks the bus or the broker:
 * every answer is one bounded message, computed by its sender over what it holds.
 */
import { randomBytes } from 'node:crypto';
import type { Transport } from '../transport/transport';
import { BROKER_QUEUE, STATE_TOPIC, nodeQueue, replyQueue } from '../protocol/queues';
import type { NodeId, ProcId, ReplyQueue, RequestId, WorkerId } from '../protocol/ids';
import type { LogChunkMsg, StateAnswerMsg, StateQueryMsg, StateRequestMsg } from '../protocol/messages/state';
import type { ReplyMsg } from '../protocol/messages/reply';
import { TASK_DURATION_BUCKETS_S, type ActorItem, type ActorSummary, type ListKind, type StateItems, type StateQueryKind, type TaskItem, type TaskSummary, type TimelineEvent } from '../protocol/state';
import type { ClusterState } from '../protocol/wire';
import { mergeMetrics, type ClusterMetrics } from './process-metrics';
import { decodeMessage, encodeMessage } from '../serialization/message-codec';
import { encodeEnvelope } from '../serialization/serializer';
import { systemClock, type Clock, type Timer } from '../util/clock';
import { MAX_LIMIT, type ResolvedListOptions } from './state-query';
import { CREATION_FAILED, actorsToResolve, candidates, completeTasks, creationCounts, mergePage, mergeTaskSummary, type ListResult } from './state-merge';

/** How long to wait after the last answer before the answers are taken as complete (ms). */
const DEFAULT_QUIET_MS = 250;
/** Longest a broadcast query waits for answers (ms). */
const DEFAULT_MAX_WAIT_MS = 3000;
/** Longest a request to the broker or a node waits (ms). */
const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;

/** Thrown when the broker (or a node) did not answer in time. */
export class StateQueryTimeoutError extends Error {
  override name = 'StateQueryTimeoutError';
}

export interface StateClientOptions {
  readonly clock?: Clock;
  readonly quietMs?: number;
  readonly maxWaitMs?: number;
  readonly requestTimeoutMs?: number;
  /** Told every second while answers are still being collected (progress lines). */
  readonly progress?: (answersSoFar: number) => void;
}

const BROKER_KINDS: ReadonlySet<ListKind> = new Set(['actors', 'nodes', 'placement-groups']);

/** A conversation with the cluster: its own reply queue, answers routed by request id. */
class Session {
  private readonly waiting = new Map<string, (msg: ReplyMsg) => void>();
  readonly reply: ReplyQueue = replyQueue(`state-${randomBytes(6).toString('hex')}` as ProcId);
  private cancel?: () => Promise<void>;

  constructor(private readonly transport: Transport) {}

  async open(): Promise<void> {
    await this.transport.assertQueue(this.reply, { autoDelete: true, expiresMs: 60_000 });
    const sub = await this.transport.consume(
      this.reply,
      (d) => {
        d.ack();
        let msg: ReplyMsg;
        try {
          msg = decodeMessage('reply', d.body);
        } catch {
          return;
        }
        const req = (msg as { req?: string }).req;
        if (req !== undefined) this.waiting.get(req)?.(msg);
      },
      { prefetch: 0 },
    );
    this.cancel = () => sub.cancel();
  }

  on(req: string, handler: (msg: ReplyMsg) => void): void {
    this.waiting.set(req, handler);
  }

  off(req: string): void {
    this.waiting.delete(req);
  }

  async close(): Promise<void> {
    this.waiting.clear();
    await this.cancel?.().catch(() => undefined);
    await this.transport.deleteQueue(this.reply).catch(() => undefined);
  }
}

/** Queries the cluster's state over a transport (see the file comment). */
export class StateClient {
  private readonly clock: Clock;
  /** The session kept open between queries (`keepSession`). */
  private kept?: Session;

  constructor(
    private readonly transport: Transport,
    private readonly options: StateClientOptions = {},
  ) {
    this.clock = options.clock ?? systemClock;
  }

  /** One page of rows of `kind`. */
  async list<K extends ListKind>(kind: K, q: ResolvedListOptions): Promise<ListResult<StateItems[K]>> {
    return this.withSession(async (s) => {
      if (BROKER_KINDS.has(kind)) {
        const answer = await this.askBroker(s, { what: kind as StateRequestMsg['what'], ...fields(q) });
        return mergePage(kind, candidates(kind, [answer]), [answer], q);
      }
      const answers = await this.broadcast(s, kind, q, q.timeoutMs);
      const rows = candidates(kind, answers);
      if (kind === 'tasks') {
        const tasks = rows as TaskItem[];
        const ids = actorsToResolve(tasks, answers);
        const actors = ids.length > 0 ? await this.actorsById(s, ids) : undefined;
        completeTasks(tasks, answers, actors);
      }
      return mergePage(kind, rows, answers, q);
    });
  }

  /** Tasks by function and state across every owner (Ray's `summarize_tasks`). */
  async summarizeTasks(timeoutMs?: number): Promise<TaskSummary> {
    return this.withSession(async (s) => {
      const [answers, actors] = await Promise.all([
        this.broadcast(s, 'task-summary', { filters: [], limit: MAX_LIMIT, detail: false }, timeoutMs),
        this.askBroker(s, { what: 'actor-summary', filters: [], limit: MAX_LIMIT, detail: false }),
      ]);
      return mergeTaskSummary(answers, creationCounts(actors.counts ?? {}));
    });
  }

  /** Actors by class and state (Ray's `summarize_actors`). */
  async summarizeActors(): Promise<ActorSummary> {
    return this.withSession(async (s) => {
      const answer = await this.askBroker(s, { what: 'actor-summary', filters: [], limit: MAX_LIMIT, detail: false });
      const summary: ActorSummary['summary'] = {};
      let totalActors = 0;
      for (const [className, counts] of Object.entries(answer.counts ?? {})) {
        const stateCounts: Record<string, number> = {};
        for (const [state, n] of Object.entries(counts)) {
          if (state === CREATION_FAILED) continue;
          stateCounts[state] = n;
          totalActors += n;
        }
        summary[className] = { className, stateCounts };
      }
      return { summary, totalActors, summaryBy: 'class' };
    });
  }

  /** Every execution the workers remember, oldest first. */
  async timeline(timeoutMs?: number): Promise<TimelineEvent[]> {
    return this.withSession(async (s) => {
      const answers = await this.broadcast(s, 'timeline', { filters: [], limit: MAX_LIMIT, detail: true }, timeoutMs);
      const events = answers.flatMap((a) => a.items as unknown as TimelineEvent[]);
      return events.sort((a, b) => a.startUs - b.startUs);
    });
  }

  /** Part of a worker's log file, read by its node. */
  async readLog(node: NodeId, worker: WorkerId, stream: 'out' | 'err', offset: number, max: number): Promise<LogChunkMsg> {
    return this.withSession(async (s) => {
      const req = newReq();
      const answer = this.one<LogChunkMsg>(s, req, 'log-chunk', `node ${node}`);
      await this.transport.publish(nodeQueue(node), encodeMessage('node', { t: 'read-log', req, reply: s.reply, worker, stream, offset, max }));
      return answer;
    });
  }

  /** The live cluster as the broker leader sees it (`raybus status`): nodes, actors, leases, waiting work. */
  async clusterState(): Promise<ClusterState> {
    return this.withSession(async (s) => {
      const req = newReq();
      const answer = this.one<Extract<ReplyMsg, { t: 'cluster-state' }>>(s, req, 'cluster-state', 'the broker');
      answer.catch(() => undefined);
      await this.transport.publish(BROKER_QUEUE, encodeMessage('broker', { t: 'cluster-state-request', req, reply: s.reply }));
      return (await answer).state;
    });
  }

  /** Every process's counters (bus traffic, task durations), summed; each process counted once. */
  async metrics(timeoutMs?: number): Promise<ClusterMetrics> {
    return this.withSession(async (s) => {
      const answers = await this.broadcast(s, 'metrics', { filters: [], limit: 1, detail: false }, timeoutMs);
      return mergeMetrics(answers, TASK_DURATION_BUCKETS_S.length);
    });
  }

  /**
   * Keep one reply queue open for every query from now on (a client that asks every few
   * seconds would otherwise declare and delete a queue each time), until `close()`.
   */
  async keepSession(): Promise<void> {
    if (this.kept) return;
    const s = new Session(this.transport);
    await s.open();
    this.kept = s;
  }

  /** Close the kept session (queries after this open their own again). */
  async close(): Promise<void> {
    const s = this.kept;
    this.kept = undefined;
    await s?.close();
  }

  private async withSession<T>(fn: (s: Session) => Promise<T>): Promise<T> {
    if (this.kept) return fn(this.kept);
    const s = new Session(this.transport);
    await s.open();
    try {
      return await fn(s);
    } finally {
      await s.close();
    }
  }

  /** Actors by id, from the broker (to tell how their creation tasks went). */
  private async actorsById(s: Session, ids: string[]): Promise<Map<string, ActorItem>> {
    const answer = await this.askBroker(s, { what: 'actors', filters: [], limit: ids.length, detail: true, ids });
    return new Map((answer.items as unknown as ActorItem[]).map((a) => [a.actorId, a]));
  }

  private async askBroker(s: Session, q: Omit<StateRequestMsg, 't' | 'req' | 'reply'>): Promise<StateAnswerMsg> {
    const req = newReq();
    const answer = this.one<StateAnswerMsg>(s, req, 'state-answer', 'the broker');
    await this.transport.publish(BROKER_QUEUE, encodeMessage('broker', { t: 'state-request', req, reply: s.reply, ...q }));
    return answer;
  }

  /** The single answer tagged `req`, or StateQueryTimeoutError. */
  private one<T extends ReplyMsg>(s: Session, req: RequestId, tag: T['t'], who: string): Promise<T> {
    const ms = this.options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    return new Promise<T>((resolve, reject) => {
      // Held open (ref): a process waiting for the answer may have nothing else to wait on.
      const timer = this.clock
        .setTimeout(() => {
          s.off(req);
          reject(new StateQueryTimeoutError(`${who} did not answer within ${ms} ms (is the cluster running?)`));
        }, ms)
        .ref();
      s.on(req, (msg) => {
        if (msg.t !== tag) return;
        this.clock.clear(timer);
        s.off(req);
        resolve(msg as T);
      });
    });
  }

  /** Broadcast a query and collect the answers until a quiet period passes. */
  private async broadcast(s: Session, what: StateQueryKind, q: Pick<ResolvedListOptions, 'filters' | 'limit' | 'detail' | 'cursor'>, timeoutMs?: number): Promise<StateAnswerMsg[]> {
    const req = newReq();
    const quietMs = this.options.quietMs ?? DEFAULT_QUIET_MS;
    const maxWaitMs = timeoutMs ?? this.options.maxWaitMs ?? DEFAULT_MAX_WAIT_MS;
    const answers: StateAnswerMsg[] = [];
    let resolve!: () => void;
    const done = new Promise<void>((r) => (resolve = r));
    let quiet: Timer | undefined;
    let ended = false;
    const finish = (): void => {
      ended = true;
      s.off(req);
      this.clock.clear(quiet);
      this.clock.clear(max);
      this.clock.clear(progress);
      resolve();
    };
    const max = this.clock.setTimeout(finish, Math.max(maxWaitMs, quietMs)).ref();
    const progress = this.options.progress ? this.clock.setInterval(() => this.options.progress!(answers.length), 1000) : undefined;
    const rearm = (): void => {
      this.clock.clear(quiet);
      if (!ended) quiet = this.clock.setTimeout(finish, quietMs);
    };
    // The quiet period runs only once the query is out: a broker's confirm of the broadcast
    // can take a good part of it on a loaded machine, time in which answers may still be on
    // their way.
    let out = false;
    s.on(req, (msg) => {
      if (msg.t !== 'state-answer') return;
      answers.push(msg);
      if (out) rearm();
    });
    const msg: StateQueryMsg = { t: 'state-query', req, reply: s.reply, what, ...fields(q) };
    try {
      await this.transport.broadcast(STATE_TOPIC, encodeEnvelope(msg));
    } catch (err) {
      finish();
      throw err;
    }
    out = true;
    rearm();
    await done;
    return answers;
  }
}

function fields(q: Pick<ResolvedListOptions, 'filters' | 'limit' | 'detail' | 'cursor'>): Pick<StateQueryMsg, 'filters' | 'limit' | 'detail' | 'cursor'> {
  return { filters: [...q.filters], limit: q.limit, detail: q.detail, ...(q.cursor !== undefined ? { cursor: q.cursor } : {}) };
}

function newReq(): RequestId {
  return randomBytes(8).toString('hex') as RequestId;
}
