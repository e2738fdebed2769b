/**
 * The dashboard's reading of the cluster: a poll asks the state API (on one reply queue kept
 * open: `StateClient.keepSession`) for everything the pages show, all queries at once, and
 * the transport how full the queues it knows of are; the result is a snapshot. Polls run every
 * `intervalMs` while someone watches (server-sent events), and on demand (a page load, a
 * scrape of /metrics) — never two at a time, and never more than the state API's bounded
 * answers: nothing here holds the bus or the broker up.
 */
import type { Transport } from '../transport/transport';
import { StateClient } from '../observability/state-client';
import { MAX_LIMIT, type ResolvedListOptions } from '../observability/state-query';
import { BROKER_QUEUE, actorQueue, nodeQueue, workerQueue } from '../protocol/queues';
import type { ActorId, NodeId, WorkerId } from '../protocol/ids';
import type { ActorItem, TaskItem } from '../protocol/state';
import { systemClock, type Clock, type Timer } from '../util/clock';
import { parseTaskMarker } from '../observability/log-markers';
import { buildSnapshot, type DashboardSnapshot, type PollResults, type QueueRow } from './snapshot';

/** Default time between two polls while someone watches (ms). */
const DEFAULT_POLL_MS = 2000;
/** Most queues inspected in one poll (mailboxes beyond it are not shown). */
const MAX_QUEUES = 200;
/** Rows of each kind a poll reads (pages show more through the paged list API). */
const POLL_LIMIT = 1000;

export interface CollectorOptions {
  readonly transport: Transport;
  /** Shown in the header (credentials hidden). */
  readonly address: string;
  readonly clock?: Clock;
  readonly intervalMs?: number;
  /** Refusals of the dashboard's own connection, by reason. */
  readonly refusals?: () => Record<string, number>;
  /** Longest wait for broadcast answers (ms). */
  readonly maxWaitMs?: number;
}

/** An actor's page: its row, its latest calls, the tail of its worker's log. */
export interface ActorDetail {
  readonly actor: ActorItem | null;
  readonly calls: TaskItem[];
  readonly log?: { out: string; err: string; error?: string };
}

export class DashboardCollector {
  readonly client: StateClient;
  private readonly clock: Clock;
  private readonly intervalMs: number;
  private latest?: DashboardSnapshot;
  private inflight?: Promise<DashboardSnapshot>;
  private scraped?: DashboardSnapshot;
  private scraping?: Promise<DashboardSnapshot>;
  private readonly listeners = new Set<(s: DashboardSnapshot) => void>();
  private timer?: Timer;
  private stopped = false;

  constructor(private readonly options: CollectorOptions) {
    this.clock = options.clock ?? systemClock;
    this.intervalMs = options.intervalMs ?? DEFAULT_POLL_MS;
    this.client = new StateClient(options.transport, { clock: this.clock, ...(options.maxWaitMs ? { maxWaitMs: options.maxWaitMs } : {}) });
  }

  /** Open the state session. */
  async start(): Promise<void> {
    await this.client.keepSession();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.clock.clear(this.timer);
    this.listeners.clear();
    await this.inflight?.catch(() => undefined);
    await this.client.close();
  }

  /** Be told every snapshot; polling runs while anyone listens. Returns the unsubscribe. */
  subscribe(listener: (s: DashboardSnapshot) => void): () => void {
    this.listeners.add(listener);
    if (this.latest) listener(this.latest);
    if (this.listeners.size === 1) this.schedule(0);
    return () => {
      this.listeners.delete(listener);
      if (this.listeners.size === 0) this.clock.clear(this.timer);
    };
  }

  /** A snapshot at most `maxAgeMs` old (polls when the last one is older; joins a poll under way). */
  snapshot(maxAgeMs = 0): Promise<DashboardSnapshot> {
    if (this.latest && this.clock.now() - this.latest.at <= maxAgeMs) return Promise.resolve(this.latest);
    return this.poll();
  }

  /**
   * What a scrape of /metrics needs, and no more: the counts (task summary, actor summary),
   * the cluster state, the processes' counters and the queues the cluster state names — not
   * the task and worker lists of the pages. Scrapes under way are joined.
   */
  forMetrics(maxAgeMs = 0): Promise<DashboardSnapshot> {
    if (this.scraped && this.clock.now() - this.scraped.at <= maxAgeMs) return Promise.resolve(this.scraped);
    this.scraping ??= this.collectForMetrics().finally(() => {
      this.scraping = undefined;
    });
    return this.scraping;
  }

  private async collectForMetrics(): Promise<DashboardSnapshot> {
    const errors: string[] = [];
    const part = <T>(what: string, p: Promise<T>): Promise<T | undefined> =>
      p.catch((err: unknown) => {
        errors.push(`${what}: ${(err as Error).message}`);
        return undefined;
      });
    const c = this.client;
    const [state, actorSummary, summary, metrics] = await Promise.all([part('cluster state', c.clusterState()), part('actor summary', c.summarizeActors()), part('task summary', c.summarizeTasks()), part('metrics', c.metrics())]);
    const inspectable = typeof this.options.transport.inspectQueue === 'function';
    const actors = (state?.actors ?? []).map((a) => ({ actorId: a.actorId, state: a.state }));
    const nodes = (state?.nodes ?? []).map((n) => ({ nodeId: n.nodeId, state: n.alive ? 'ALIVE' : 'DEAD' }));
    const queues = inspectable && state ? await part('queues', this.inspectQueues(actors, nodes, [])) : undefined;
    const results: PollResults = {
      ...(state ? { state } : {}),
      ...(actorSummary ? { actorSummary } : {}),
      ...(summary ? { summary } : {}),
      ...(metrics ? { metrics } : {}),
      ...(queues ? { queues } : {}),
      ...(this.options.refusals ? { ownRefusals: this.options.refusals() } : {}),
    };
    const snap = buildSnapshot(results, { at: this.clock.now(), address: this.options.address, transportKind: this.options.transport.kind, errors, ...(inspectable ? {} : { uninspectable: true }) }, this.scraped);
    this.scraped = snap;
    return snap;
  }

  private schedule(delayMs: number): void {
    this.clock.clear(this.timer);
    if (this.stopped || this.listeners.size === 0) return;
    this.timer = this.clock.setTimeout(() => {
      void this.poll()
        .catch(() => undefined)
        .finally(() => this.schedule(this.intervalMs));
    }, delayMs);
  }

  private poll(): Promise<DashboardSnapshot> {
    this.inflight ??= this.collect().finally(() => {
      this.inflight = undefined;
    });
    return this.inflight;
  }

  private async collect(): Promise<DashboardSnapshot> {
    const errors: string[] = [];
    const c = this.client;
    const part = <T>(what: string, p: Promise<T>): Promise<T | undefined> =>
      p.catch((err: unknown) => {
        errors.push(`${what}: ${(err as Error).message}`);
        return undefined;
      });
    const list: ResolvedListOptions = { filters: [], limit: POLL_LIMIT, detail: true };
    const [state, actors, actorSummary, nodes, workers, placementGroups, summary, liveTasks, failedTasks, metrics] = await Promise.all([
      part('cluster state', c.clusterState()),
      part('actors', c.list('actors', list)),
      part('actor summary', c.summarizeActors()),
      part('nodes', c.list('nodes', list)),
      part('workers', c.list('workers', list)),
      part('placement groups', c.list('placement-groups', list)),
      part('task summary', c.summarizeTasks()),
      part(
        'live tasks',
        c.list('tasks', {
          filters: [
            ['state', '!=', 'FINISHED'],
            ['state', '!=', 'FAILED'],
          ],
          limit: POLL_LIMIT,
          detail: true,
        }),
      ),
      part('failed tasks', c.list('tasks', { filters: [['state', '=', 'FAILED']], limit: POLL_LIMIT, detail: true })),
      part('metrics', c.metrics()),
    ]);
    const inspectable = typeof this.options.transport.inspectQueue === 'function';
    const queues = inspectable ? await part('queues', this.inspectQueues(actors?.items ?? [], nodes?.items ?? [], workers?.items ?? [])) : [];
    const results: PollResults = {
      ...(state ? { state } : {}),
      ...(actors ? { actors: actors.items } : {}),
      ...(actorSummary ? { actorSummary } : {}),
      ...(nodes ? { nodes: nodes.items } : {}),
      ...(workers ? { workers: workers.items } : {}),
      ...(placementGroups ? { placementGroups: placementGroups.items } : {}),
      ...(summary ? { summary } : {}),
      ...(liveTasks ? { liveTasks: liveTasks.items } : {}),
      ...(failedTasks ? { failedTasks: failedTasks.items } : {}),
      ...(metrics ? { metrics } : {}),
      ...(queues ? { queues } : {}),
      ...(this.options.refusals ? { ownRefusals: this.options.refusals() } : {}),
    };
    const snap = buildSnapshot(results, { at: this.clock.now(), address: this.options.address, transportKind: this.options.transport.kind, errors, ...(inspectable ? {} : { uninspectable: true }) }, this.latest);
    this.latest = snap;
    for (const l of [...this.listeners]) l(snap);
    return snap;
  }

  /** The queues the state API knows of: the broker's, the nodes', the workers', the actors' mailboxes. */
  private async inspectQueues(actors: ReadonlyArray<{ actorId: string; state: string }>, nodes: ReadonlyArray<{ nodeId: string; state: string }>, workers: ReadonlyArray<{ workerId: string; isAlive: boolean; workerType: string }>): Promise<QueueRow[]> {
    const wanted: Array<{ name: string; kind: string; owner?: string }> = [{ name: BROKER_QUEUE, kind: 'broker' }];
    for (const n of nodes) if (n.state !== 'DEAD') wanted.push({ name: nodeQueue(n.nodeId as NodeId), kind: 'node', owner: n.nodeId });
    for (const a of actors) if (a.state !== 'DEAD') wanted.push({ name: actorQueue(a.actorId as ActorId), kind: 'mailbox', owner: a.actorId });
    for (const w of workers) if (w.isAlive && w.workerType === 'WORKER') wanted.push({ name: workerQueue(w.workerId as WorkerId), kind: 'worker', owner: w.workerId });
    const inspect = this.options.transport.inspectQueue!.bind(this.options.transport);
    const rows = await Promise.all(
      wanted.slice(0, MAX_QUEUES).map(async (q) => {
        const info = await inspect(q.name).catch(() => undefined);
        return info ? { ...q, ...info } : undefined;
      }),
    );
    return rows.filter((r): r is QueueRow => r !== undefined);
  }

  /** An actor's page: its row, its latest calls (newest first), and the tail of its log. */
  async actor(actorId: string, logBytes = 16 * 1024): Promise<ActorDetail> {
    const [actors, calls] = await Promise.all([
      this.client.list('actors', { filters: [['actorId', '=', actorId]], limit: 1, detail: true }),
      this.client.list('tasks', { filters: [['actorId', '=', actorId]], limit: MAX_LIMIT, detail: true }),
    ]);
    const actor = actors.items[0] ?? null;
    const recent = calls.items.sort((a, b) => (b.creationTimeMs ?? 0) - (a.creationTimeMs ?? 0)).slice(0, 50);
    if (!actor?.nodeId || !actor.workerId) return { actor, calls: recent };
    const node = actor.nodeId as NodeId;
    const worker = actor.workerId as WorkerId;
    const tail = async (stream: 'out' | 'err'): Promise<string> => {
      const head = await this.client.readLog(node, worker, stream, 0, 1);
      if (head.err) throw new Error(head.err);
      if (head.size <= 1) return '';
      const from = Math.max(0, head.size - logBytes);
      const chunk = await this.client.readLog(node, worker, stream, from, logBytes);
      // Start at a line boundary when the tail cut one; the files' task markers are not output.
      const text = from > 0 ? chunk.data.slice(chunk.data.indexOf('\n') + 1) : chunk.data;
      return text
        .split('\n')
        .filter((line) => parseTaskMarker(line) === undefined)
        .join('\n');
    };
    try {
      const [out, err] = await Promise.all([tail('out'), tail('err')]);
      return { actor, calls: recent, log: { out, err } };
    } catch (e) {
      return { actor, calls: recent, log: { out: '', err: '', error: (e as Error).message } };
    }
  }
}
