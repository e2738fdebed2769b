/**
 * A node (Ray's raylet, worker-pool part): owns worker processes, pooled by runtime env, hands
 * them out on leases granted by the resource broker, dedicates them to actors, and reports
 * their deaths. A worker sets up its runtime env when it starts; if that fails, the work it was
 * started for fails with RuntimeEnvSetupError and the worker is stopped, never reused.
 *
 * The roles live in files of their own: each process's lifecycle in worker-process.machine.ts,
 * the workers and the lease table in worker-table.ts, forking in process-spawner.ts (behind
 * WorkerSpawner), the drain's wait in node-drain.ts, cluster presence in cluster-presence.ts.
 * This class reads the node's queue and ties them together.
 */
import type { JobId, NodeId, WorkerId } from '../protocol/ids';
import { capabilitiesOf, type Transport } from '../transport/transport';
import { decodeMessage, RejectionCounter } from '../serialization/message-codec';
import { nodeQueue, workerQueue } from '../protocol/queues';
import type { NodeLeaseReport, Resources } from '../protocol/wire';
import type { NodeMsg } from '../protocol/messages/node';
import { systemClock, type Clock, type Timer } from '../util/clock';
import { NodeOutbox } from './node-outbox';
import { WorkerTable } from './worker-table';
import { ProcessSpawner } from './process-spawner';
import type { WorkerSpawner } from './worker-spawner';
import { awaitWorkDrained } from './node-drain';
import { joinCluster, type ClusterPresence } from './cluster-presence';
import { WorkerLogs, nodeLogDir } from './worker-logs';
import { answerWorkerQueries } from './worker-queries';
import type { ReadLogMsg } from '../protocol/messages/state';
import { isReplyQueue, type StateResponder } from '../observability/state-responder';
import { logger } from '../util/logger';

/** Default for {@link NodeOptions.idleWorkerTimeoutMs}. */
const DEFAULT_IDLE_WORKER_TIMEOUT_MS = 60_000;
/** Default for {@link NodeOptions.workerStartTimeoutMs} (Ray's runtime_env setup_timeout_seconds). */
const DEFAULT_WORKER_START_TIMEOUT_MS = 600_000;
/** Default drain timeout (ms). */
const DEFAULT_DRAIN_TIMEOUT_MS = 30_000;
/** Default for {@link NodeOptions.leaseReportMs}. */
const DEFAULT_LEASE_REPORT_MS = 10_000;

/** How a node is set up. */
export interface NodeOptions {
  readonly nodeId: NodeId;
  readonly resources: Resources;
  readonly labels?: Record<string, string>;
  readonly jobId: JobId;
  readonly namespace: string;
  /** Opens a transport connection (one for the node, one per worker). */
  readonly connect: () => Promise<Transport>;
  /**
   * Idle workers of the default runtime env kept started ahead of demand (Ray's worker pool
   * prestart): the node starts them, starts another whenever work takes one, and never reaps
   * them (default 0).
   */
  readonly prestart?: number;
  /** How long an idle worker beyond the prestarted ones is kept (ms; default 60 000). */
  readonly idleWorkerTimeoutMs?: number;
  /** How long a worker may take to start and set up its runtime env (ms; default 600 000). */
  readonly workerStartTimeoutMs?: number;
  /**
   * Cluster mode (a node of `raybus start`): keep a presence queue the broker probes, and
   * register again, with a report of what runs here, after a broker election or a reconnect.
   * Its worker processes keep the process alive; those of a node inside a driver do not.
   */
  readonly cluster?: boolean;
  /** Extra environment of every worker (e.g. the cluster key). */
  readonly workerEnv?: Readonly<Record<string, string>>;
  /** Modules every worker imports before user code (`raybus start --import`). */
  readonly imports?: readonly string[];
  /** The script a worker process runs (the composition root supplies `src/bin/worker`). */
  readonly workerEntry: string;
  /** Starts worker processes (default: forks `workerEntry`; tests pass a fake). */
  readonly spawner?: WorkerSpawner;
  /** The clock of idle reaping, start timeouts and drains (default: real time). */
  readonly clock?: Clock;
  /**
   * Cluster mode: how often the node reports its leases to the broker, which answers those it
   * does not know with `kill-worker` (ms; default 10 000).
   */
  readonly leaseReportMs?: number;
  /** Unauthenticated messages this node process refused so far, by reason (sent with the lease report). */
  readonly refusals?: () => Record<string, number>;
  /** Where the workers' log files go (default: RAYBUS_LOG_DIR or the temp directory, then the node id). */
  readonly logDir?: string;
}

/** One node: reads `raybus.node.<id>` and runs the work it is given on its worker processes. */
export class NodeManager {
  private transport?: Transport;
  private readonly outbox = new NodeOutbox();
  private readonly workers: WorkerTable;
  private readonly clock: Clock;
  private presence?: ClusterPresence;
  private state?: StateResponder;
  private stopping = false;
  private draining = false;
  private reportTimer?: Timer;
  private readonly malformed = new RejectionCounter('raybus node');
  /** The workers' stdout and stderr (kept by nodes of `raybus start`, removed by the others when they stop). */
  readonly logs: WorkerLogs;

  constructor(private readonly options: NodeOptions) {
    const positive = (name: string, v: number | undefined): void => {
      if (v !== undefined && !(Number.isFinite(v) && v >= 0)) throw new RangeError(`NodeOptions.${name} must be a number >= 0, got ${String(v)}`);
    };
    positive('prestart', options.prestart);
    positive('idleWorkerTimeoutMs', options.idleWorkerTimeoutMs);
    positive('workerStartTimeoutMs', options.workerStartTimeoutMs);
    positive('leaseReportMs', options.leaseReportMs);
    this.clock = options.clock ?? systemClock;
    this.logs = new WorkerLogs(options.logDir ?? nodeLogDir(options.nodeId), options.cluster === true);
    this.workers = new WorkerTable({
      nodeId: options.nodeId,
      spawner: options.spawner ?? new ProcessSpawner({ ...options, keepProcessAlive: options.cluster === true, clock: this.clock, logs: this.logs }),
      crashedAtStart: (worker, error) => this.crashedAtStart(worker, error),
      outbox: this.outbox,
      clock: this.clock,
      idleTimeoutMs: options.idleWorkerTimeoutMs ?? DEFAULT_IDLE_WORKER_TIMEOUT_MS,
      prestart: options.prestart ?? 0,
      startTimeoutMs: options.workerStartTimeoutMs ?? DEFAULT_WORKER_START_TIMEOUT_MS,
      rememberSpawned: options.cluster === true,
      consumerLimit: () => (this.transport ? capabilitiesOf(this.transport).maxConsumers : undefined),
    });
  }

  get nodeId(): string {
    return this.options.nodeId;
  }

  /** Pids of live workers (tests use them to crash workers). */
  workerPids(): number[] {
    return this.workers.pids();
  }

  async start(): Promise<void> {
    const t = await this.options.connect();
    this.transport = t;
    this.outbox.attach(t);
    const q = nodeQueue(this.options.nodeId);
    await t.assertQueue(q);
    await t.consume(
      q,
      (d) => {
        let msg: NodeMsg;
        try {
          msg = decodeMessage('node', d.body);
        } catch (err) {
          this.malformed.reject(d, err);
          return;
        }
        d.ack();
        try {
          this.onMessage(msg);
        } catch (err) {
          logger.error(`raybus node: failed to handle '${msg.t}': ${(err as Error).stack}`);
        }
      },
      { prefetch: 0 },
    );
    this.state = answerWorkerQueries(t, this.options.nodeId, this.workers);
    await this.state.start();
    if (this.options.cluster) {
      this.presence = await joinCluster(t, this.options.nodeId, () => this.register(), this.malformed);
      this.reportTimer = this.clock.setInterval(() => this.reportLeases(), this.options.leaseReportMs ?? DEFAULT_LEASE_REPORT_MS);
    }
    this.register();
    this.workers.refill();
  }

  /** Messages this node refused as malformed so far. */
  get malformedCount(): number {
    return this.malformed.count;
  }

  /** Tell the broker which leases run here (it kills what it does not know) and what was refused. */
  private reportLeases(): void {
    if (this.stopping) return;
    const refused = this.options.refusals?.();
    this.outbox.toBroker({
      t: 'leases-report',
      node: this.options.nodeId,
      leases: this.workers.leaseReports().map((l) => l.lease),
      ...(refused && Object.keys(refused).length > 0 ? { refused } : {}),
      ...(this.malformed.count > 0 ? { malformed: this.malformed.count } : {}),
    });
  }

  /** Stop every worker (their work fails over) and close the node's connection. */
  stop(): Promise<void> {
    this.stopped ??= this.shutdown();
    return this.stopped;
  }

  private stopped?: Promise<void>;

  private async shutdown(): Promise<void> {
    this.stopping = true;
    this.clock.clear(this.reportTimer);
    this.reportTimer = undefined;
    await this.presence?.leave();
    await this.state?.stop();
    await this.workers.stopAll();
    this.logs.cleanup();
    if (this.options.cluster && this.transport) {
      // Durable queues of this node and its workers would otherwise wait for their expiry.
      const t = this.transport;
      const queues = [nodeQueue(this.options.nodeId), ...this.workers.spawned.map(workerQueue)];
      await Promise.all(queues.map((q) => t.deleteQueue(q).catch(() => undefined)));
    }
    this.outbox.attach(undefined);
    await this.transport?.close();
  }

  /** Leases and actors running here now (for status displays and tests). */
  leaseReports(): NodeLeaseReport[] {
    return this.workers.leaseReports();
  }

  /**
   * Drain (SIGTERM): take no new work, let running tasks finish, give their leases back (their
   * owners move queued work elsewhere), stop actors (they restart elsewhere if allowed), then
   * leave the cluster. Work still running after `timeoutMs` is stopped and fails over.
   */
  async drain(timeoutMs = DEFAULT_DRAIN_TIMEOUT_MS, progress?: (line: string) => void): Promise<void> {
    if (this.draining || this.stopping) return;
    this.draining = true;
    this.outbox.toBroker({ t: 'node-draining', node: this.options.nodeId });
    this.workers.drain();
    await awaitWorkDrained(this.workers, this.clock, timeoutMs, progress);
    this.outbox.toBroker({ t: 'node-gone', node: this.options.nodeId });
    await this.stop();
  }

  /** `raybus logs`: part of a worker's log file, to a reply queue only. */
  private readLog(msg: ReadLogMsg): void {
    if (!isReplyQueue(msg.reply) || typeof msg.offset !== 'number' || typeof msg.max !== 'number') return;
    void this.logs.read(msg).then((chunk) => this.outbox.send(msg.reply, chunk));
  }

  /** A worker died before it was ready: the end of its stderr (or output) says why. */
  private crashedAtStart(worker: WorkerId, error: Error): void {
    const message = this.logs.withTail(worker, error.message);
    if (WorkerLogs.hasTail(message)) logger.warn(`raybus node: worker ${worker} did not start (${message})`);
  }

  /** Register with the broker, reporting the leases (tasks and actors) running here. */
  private register(): void {
    if (this.stopping) return;
    this.outbox.toBroker({
      t: 'node-register',
      node: this.options.nodeId,
      resources: this.options.resources,
      labels: this.options.labels ?? {},
      ...(this.options.cluster ? { leases: this.workers.leaseReports() } : {}),
      ...(this.draining ? { draining: true } : {}),
    });
  }

  private onMessage(msg: NodeMsg): void {
    switch (msg.t) {
      case 'start-lease':
        return this.workers.startLease(msg);
      case 'start-actor':
        return this.workers.startActor(msg);
      case 'release-lease':
        return this.workers.release(msg.lease);
      case 'read-log':
        return this.readLog(msg);
      case 'worker-blocked':
        // Remembered for the reports to a new broker leader; the broker lends the CPU out.
        if (this.workers.setBlocked(msg.lease, msg.blocked === true)) {
          this.outbox.toBroker({ t: 'lease-blocked', node: this.options.nodeId, lease: msg.lease, blocked: msg.blocked === true });
        }
        return;
      case 'kill-worker': {
        const { reply, req } = msg;
        void this.workers.kill(msg.lease).then(() => {
          if (reply && req) this.outbox.send(reply, { t: 'ack', req });
        });
        return;
      }
    }
  }
}
