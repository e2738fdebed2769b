/**
 * A node (Ray's raylet, worker-pool part): owns worker processes, pooled by runtime env, hands
 * them out on leases granted by the resource broker, dedicates them to actors, and reports
 * their deaths. A worker sets up its runtime env when it starts; if that fails, the work it was
 * started for fails with RuntimeEnvSetupError and the worker is stopped, never reused.
 */
import { newWorkerId, type ActorId, type JobId, type LeaseId, type NodeId, type ReplyQueue, type RequestId, type WorkerId } from '../protocol/ids';
import { fork, type ChildProcess } from 'node:child_process';
import type { Transport } from '../transport/transport';
import { decodeEnvelope, encodeEnvelope } from '../serialization/serializer';
import { encodeError } from '../serialization/error-codec';
import { RuntimeEnvSetupError, WorkerCrashedError } from '../errors/ray-errors';
import type { RuntimeEnv } from '../protocol/runtime-env';
import { OWNER_DIED_TOPIC, replyQueue, BROKER_ELECTED_TOPIC, BROKER_QUEUE, nodePresenceId, nodeQueue, presenceQueue, workerQueue } from '../protocol/queues';
import type { BrokerMsg } from '../protocol/messages/broker';
import type { HostActorMsg } from '../protocol/messages/worker';
import type { NodeLeaseReport, Resources } from '../protocol/wire';
import type { NodeMsg } from '../protocol/messages/node';
import type { Subscription as RxSubscription } from 'rxjs';
import { NODE_IMPORTS_VAR, isEnvSetupFailedReport, workerIdentityEnv } from '../protocol/worker-process';
import { IpcBridge } from './ipc-bridge';
import { ChannelLink, IPC_FD_VAR, IPC_PIPE_FD, PipeLink } from '../transport/ipc-link';
import type { Duplex } from 'node:stream';

/** Frames between node and workers travel on a pipe of their own, except on Windows. */
const PIPE_LINK = process.platform !== 'win32';
import { WorkerPool } from './worker-pool';
import { buildWorkerEnv } from './worker-env';
import { DEFAULT_ENV_KEY, canonicalRuntimeEnv, runtimeEnvKey } from '../protocol/runtime-env';

/** Default for {@link NodeOptions.idleWorkerTimeoutMs}. */
export const DEFAULT_IDLE_WORKER_TIMEOUT_MS = 60_000;
/** Default for {@link NodeOptions.workerStartTimeoutMs} (Ray's runtime_env setup_timeout_seconds). */
export const DEFAULT_WORKER_START_TIMEOUT_MS = 600_000;

/** How a node is set up. */
export interface NodeOptions {
  readonly nodeId: NodeId;
  readonly resources: Resources;
  readonly labels?: Record<string, string>;
  readonly jobId: JobId;
  readonly namespace: string;
  /** Opens a transport connection (one for the node, one per worker). */
  readonly connect: () => Promise<Transport>;
  /** Workers of the default runtime env started ahead of demand. */
  readonly prestart?: number;
  /** How long an idle worker of a non-default runtime env is kept (ms; default 60 000). */
  readonly idleWorkerTimeoutMs?: number;
  /** How long a worker may take to start and set up its runtime env (ms; default 600 000). */
  readonly workerStartTimeoutMs?: number;
  /**
   * Cluster mode (a node of `raybus start`): keep a presence queue the broker probes, and
   * register again, with a report of what runs here, after a broker election or a reconnect.
   */
  readonly cluster?: boolean;
  /** Extra environment of every worker (e.g. the cluster key). */
  readonly workerEnv?: Readonly<Record<string, string>>;
  /** Modules every worker imports before user code (`raybus start --import`). */
  readonly imports?: readonly string[];
  /** The script a worker process runs (the composition root supplies `src/bin/worker`). */
  readonly workerEntry: string;
}

interface WorkerProc {
  readonly id: WorkerId;
  readonly child: ChildProcess;
  readonly bridge: IpcBridge;
  /** Pool key of the worker's runtime env. */
  readonly envKey: string;
  /** Dedicated to one GPU lease or actor: never pooled. */
  readonly gpu: boolean;
  /** Settles once: undefined when the worker is ready for work, else why its start failed. */
  readonly started: Promise<Error | undefined>;
  readonly settle: (outcome: Error | undefined) => void;
  ready: boolean;
  lease?: LeaseId;
  actor?: ActorId;
  /** The owner to answer once a task lease's worker is ready (or failed to start). */
  grantTo?: { readonly req: RequestId; readonly owner: ReplyQueue };
  dead: boolean;
  /** Stopped by the node on purpose (reaped, GPU lease over, start failed): not reported. */
  retired: boolean;
  /** The worker said it exits after its current task (maxCalls reached). */
  retiring?: boolean;
  /** The broker asked for this worker to be killed. */
  killRequested?: boolean;
  /** What this worker's lease holds, for reports to a new broker leader. */
  report?: NodeLeaseReport;
  /** Draining: the worker takes no more messages. */
  paused?: boolean;
  /** Why the node stopped the worker (reported as its death). */
  stopReason?: string;
}

let seq = 0;

export class NodeManager {
  private transport?: Transport;
  private readonly workers = new Map<WorkerId, WorkerProc>();
  private readonly pool: WorkerPool<WorkerProc>;
  private readonly byLease = new Map<string, WorkerProc>();
  private readonly warnedEnvKeys = new Set<string>();
  private stopping = false;
  private draining = false;
  private readonly clusterSubs: Array<{ cancel(): Promise<void> }> = [];
  private statusSub?: RxSubscription;
  private brokerEpoch?: string;

  constructor(private readonly options: NodeOptions) {
    this.pool = new WorkerPool<WorkerProc>({
      idleTimeoutMs: options.idleWorkerTimeoutMs ?? DEFAULT_IDLE_WORKER_TIMEOUT_MS,
      reap: (w) => this.retire(w),
    });
  }

  get nodeId(): string {
    return this.options.nodeId;
  }

  /** Pids of live workers (tests use them to crash workers). */
  workerPids(): number[] {
    return [...this.workers.values()].filter((w) => !w.dead).map((w) => w.child.pid!);
  }

  async start(): Promise<void> {
    const t = await this.options.connect();
    this.transport = t;
    const q = nodeQueue(this.options.nodeId);
    await t.assertQueue(q);
    await t.consume(
      q,
      (d) => {
        let msg: NodeMsg;
        try {
          msg = decodeEnvelope(d.body) as NodeMsg;
          if (typeof msg !== 'object' || msg === null || typeof msg.t !== 'string') throw new Error('no message tag');
        } catch (err) {
          d.nack(false, `malformed envelope: ${(err as Error).message}`);
          process.emitWarning(`raybus node: dropped a malformed message: ${(err as Error).message}`);
          return;
        }
        d.ack();
        try {
          this.onMessage(msg);
        } catch (err) {
          process.emitWarning(`raybus node: failed to handle '${msg.t}': ${(err as Error).stack}`);
        }
      },
      { prefetch: 0 },
    );
    if (this.options.cluster) await this.joinCluster(t);
    this.register();
    for (let i = 0; i < (this.options.prestart ?? 0); i++) this.pool.put(DEFAULT_ENV_KEY, this.spawn(undefined, []));
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.statusSub?.unsubscribe();
    for (const s of this.clusterSubs.splice(0)) await s.cancel().catch(() => undefined);
    this.pool.drain();
    const stopped = [...this.workers.values()];
    const exits = stopped.map((w) => this.killWorker(w));
    await Promise.all(exits);
    if (this.options.cluster && this.transport) {
      // Durable queues of this node and its workers would otherwise wait for their expiry.
      const t = this.transport;
      const queues = [nodeQueue(this.options.nodeId), ...this.spawnedWorkers.map(workerQueue)];
      await Promise.all(queues.map((q) => t.deleteQueue(q).catch(() => undefined)));
    }
    await this.transport?.close();
  }

  /** Ids of every worker this node started (their queues are deleted when it stops). */
  private readonly spawnedWorkers: WorkerId[] = [];

  /** Presence queue (probed by the broker) and the triggers to register again. */
  private async joinCluster(t: Transport): Promise<void> {
    const presence = presenceQueue(nodePresenceId(this.options.nodeId));
    await t.assertQueue(presence, { autoDelete: true });
    const onNotice = (body: Uint8Array): void => {
      let msg: { t?: unknown; epoch?: unknown };
      try {
        msg = decodeEnvelope(body) as typeof msg;
      } catch {
        return;
      }
      if (msg?.t !== 'broker-elected' || typeof msg.epoch !== 'string' || msg.epoch === this.brokerEpoch) return;
      this.brokerEpoch = msg.epoch;
      this.register();
    };
    this.clusterSubs.push(
      await t.consume(
        presence,
        (d) => {
          d.ack();
          onNotice(d.body);
        },
        { prefetch: 0 },
      ),
    );
    this.clusterSubs.push(await t.subscribe(BROKER_ELECTED_TOPIC, onNotice));
    let previous: string | undefined;
    this.statusSub = t.status$.subscribe((s) => {
      if (s === 'connected' && previous === 'reconnecting') this.register();
      previous = s;
    });
  }

  /** Register with the broker, reporting the leases (tasks and actors) running here. */
  private register(): void {
    if (this.stopping) return;
    const leases: NodeLeaseReport[] = [];
    for (const w of this.workers.values()) if (!w.dead && w.lease && w.report) leases.push(w.report);
    this.toBroker({
      t: 'node-register',
      node: this.options.nodeId,
      resources: this.options.resources,
      labels: this.options.labels ?? {},
      ...(this.options.cluster ? { leases } : {}),
      ...(this.draining ? { draining: true } : {}),
    });
  }

  /** Leases and actors running here now (for status displays and tests). */
  leaseReports(): NodeLeaseReport[] {
    return [...this.workers.values()].filter((w) => !w.dead && w.lease && w.report).map((w) => w.report!);
  }

  /**
   * Drain (SIGTERM): take no new work, let running tasks finish, give their leases back (their
   * owners move queued work elsewhere), stop actors (they restart elsewhere if allowed), then
   * leave the cluster. Work still running after `timeoutMs` is stopped and fails over.
   */
  async drain(timeoutMs = 30_000, progress?: (line: string) => void): Promise<void> {
    if (this.draining || this.stopping) return;
    this.draining = true;
    this.toBroker({ t: 'node-draining', node: this.options.nodeId });
    for (const w of this.pool.drain()) this.retire(w);
    const deadline = Date.now() + timeoutMs;
    let reported = -1;
    for (;;) {
      const busy = [...this.workers.values()].filter((w) => !w.dead && !w.retired && w.lease);
      for (const w of busy) if (!w.paused && w.ready && w.bridge.unacked() === 0) await this.releaseDrained(w);
      const left = busy.filter((w) => !w.dead && !w.retired && w.lease).length;
      if (left === 0) break;
      if (left !== reported) progress?.(`waiting for ${left} worker${left === 1 ? '' : 's'} to finish ${left === 1 ? 'its' : 'their'} current work`);
      reported = left;
      if (Date.now() >= deadline) {
        progress?.(`drain timeout (${timeoutMs} ms): stopping ${left} busy worker${left === 1 ? '' : 's'}; their work fails over`);
        break;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    this.toBroker({ t: 'node-gone', node: this.options.nodeId });
    await this.stop();
  }

  /** A draining node's worker went idle: it takes no more messages and its lease goes back. */
  private async releaseDrained(w: WorkerProc): Promise<void> {
    w.paused = true;
    await w.bridge.pause();
    const lease = w.lease;
    if (!lease || w.dead) return;
    if (w.actor) {
      w.stopReason = `its node ${this.options.nodeId} was drained`;
      void this.killWorker(w);
      return;
    }
    this.byLease.delete(lease);
    w.lease = undefined;
    w.report = undefined;
    this.toBroker({ t: 'lease-revoked', node: this.options.nodeId, lease, reason: `its node ${this.options.nodeId} is draining` });
    this.retire(w);
  }

  private toBroker(msg: BrokerMsg): void {
    this.transport?.publish(BROKER_QUEUE, encodeEnvelope(msg)).catch(() => undefined);
  }

  /**
   * A worker process is gone, and the objects it owned with it: borrowers waiting for one
   * fail with OwnerDiedError instead of waiting forever; its reply queue goes too.
   */
  private announceOwnerGone(workerId: WorkerId): void {
    const t = this.transport;
    if (!t) return;
    const owner = replyQueue(workerId);
    t.broadcast(OWNER_DIED_TOPIC, encodeEnvelope({ owner })).catch(() => undefined);
    t.deleteQueue(owner).catch(() => undefined);
    t.deleteQueue(workerQueue(workerId)).catch(() => undefined);
  }

  private send(queue: string, msg: object): void {
    this.transport?.publish(queue, encodeEnvelope(msg)).catch(() => undefined);
  }

  private onMessage(msg: NodeMsg): void {
    switch (msg.t) {
      case 'start-lease': {
        const w = this.acquire(msg.env, msg.gpuIds);
        w.lease = msg.lease;
        w.grantTo = { req: msg.req, owner: msg.owner };
        w.report = { lease: msg.lease, worker: w.id, demand: msg.demand, gpuIds: msg.gpuIds, owner: msg.owner, req: msg.req };
        this.byLease.set(msg.lease, w);
        void w.started.then((failed) => {
          if (failed || w.dead || w.lease !== msg.lease) return;
          w.grantTo = undefined;
          this.send(msg.owner, { t: 'lease-granted', req: msg.req, lease: msg.lease, worker: w.id, node: this.options.nodeId });
        });
        return;
      }
      case 'start-actor': {
        const w = this.acquire(msg.spec.ctx.env, msg.gpuIds);
        w.lease = msg.lease;
        w.actor = msg.spec.actorId;
        w.report = { lease: msg.lease, worker: w.id, demand: msg.spec.lifetime, gpuIds: msg.gpuIds, actor: msg.spec };
        this.byLease.set(msg.lease, w);
        const host: HostActorMsg = { t: 'host-actor', spec: msg.spec, restart: msg.restart, nodeId: this.options.nodeId };
        void w.started.then((failed) => {
          if (!failed && !w.dead && w.lease === msg.lease) this.send(workerQueue(w.id), host);
        });
        return;
      }
      case 'release-lease': {
        const w = this.byLease.get(msg.lease);
        this.byLease.delete(msg.lease);
        if (!w || w.dead) return;
        w.lease = undefined;
        w.grantTo = undefined;
        w.report = undefined;
        if (w.actor) return;
        if (this.draining) return this.retire(w);
        if (w.gpu || w.retiring) return this.retire(w);
        this.pool.put(w.envKey, w);
        return;
      }
      case 'kill-worker': {
        const w = this.byLease.get(msg.lease);
        const ack = (): void => {
          if (msg.reply && msg.req) this.send(msg.reply, { t: 'ack', req: msg.req });
        };
        if (!w) return ack();
        w.killRequested = true;
        void this.killWorker(w).then(ack);
        return;
      }
    }
  }

  /** A worker for work with runtime env `env`: an idle one of that env, or a new one. */
  private acquire(env: RuntimeEnv | undefined, gpuIds: readonly number[]): WorkerProc {
    const canonical = canonicalRuntimeEnv(env);
    // A worker with GPUs gets its own process (its CUDA_VISIBLE_DEVICES is fixed at start).
    if (gpuIds.length > 0) return this.spawn(canonical, gpuIds);
    return this.pool.take(runtimeEnvKey(canonical)) ?? this.spawn(canonical, []);
  }

  private spawn(runtimeEnv: RuntimeEnv | undefined, gpuIds: readonly number[]): WorkerProc {
    seq += 1;
    const id = newWorkerId(this.options.nodeId, seq);
    const envKey = runtimeEnvKey(runtimeEnv);
    const { env, warning } = buildWorkerEnv({
      base: process.env,
      identity: {
        ...workerIdentityEnv({ workerId: id, nodeId: this.options.nodeId, jobId: this.options.jobId, namespace: this.options.namespace }),
        ...(PIPE_LINK ? { [IPC_FD_VAR]: String(IPC_PIPE_FD) } : {}),
        ...this.options.workerEnv,
        ...(this.options.imports?.length ? { [NODE_IMPORTS_VAR]: JSON.stringify(this.options.imports) } : {}),
      },
      ...(runtimeEnv ? { runtimeEnv } : {}),
      gpuIds,
      nodeHasGpus: (this.options.resources.GPU ?? 0) > 0,
    });
    if (warning && !this.warnedEnvKeys.has(envKey)) {
      this.warnedEnvKeys.add(envKey);
      process.emitWarning(warning);
    }
    const entry = this.options.workerEntry;
    const child = fork(entry, [], {
      env,
      serialization: 'advanced',
      // fd 4: the frame pipe (ipc-link.ts); Windows keeps frames on the IPC channel.
      stdio: PIPE_LINK ? ['ignore', 'inherit', 'inherit', 'ipc', 'pipe'] : ['ignore', 'inherit', 'inherit', 'ipc'],
      execArgv: [
        ...process.execArgv.filter((a) => !a.startsWith('--inspect') && !a.startsWith('--cpu-prof')),
        // Profiling the workers (benchmarks/README.md): RAYBUS_WORKER_CPU_PROF=<dir>.
        ...(process.env.RAYBUS_WORKER_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.RAYBUS_WORKER_CPU_PROF}`] : []),
      ],
    });
    let settled = false;
    let resolveStarted!: (outcome: Error | undefined) => void;
    const started = new Promise<Error | undefined>((r) => (resolveStarted = r));
    const timeoutMs = this.options.workerStartTimeoutMs ?? DEFAULT_WORKER_START_TIMEOUT_MS;
    // A module whose import never settles must not hang the work: give up after a while.
    const startTimer = setTimeout(() => {
      const what = envKey === DEFAULT_ENV_KEY ? 'start' : 'set up its runtime env';
      const message = `The worker process did not ${what} within ${timeoutMs} ms.`;
      w.settle(envKey === DEFAULT_ENV_KEY ? new WorkerCrashedError(message) : new RuntimeEnvSetupError(`Failed to set up the runtime env: ${message}`));
    }, timeoutMs).unref();
    // The bridge needs a connection of its own so that its close requeues exactly its deliveries.
    const proxy = createDeferredTransport(this.options.connect());
    const w: WorkerProc = {
      id,
      child,
      bridge: new IpcBridge(
        child,
        PIPE_LINK && child.stdio[IPC_PIPE_FD] ? new PipeLink(child.stdio[IPC_PIPE_FD] as Duplex) : new ChannelLink(child),
        proxy,
        () => w.settle(undefined),
        () => {
          w.retiring = true;
        },
      ),
      envKey,
      gpu: gpuIds.length > 0,
      started,
      settle: (outcome) => {
        if (settled) return;
        settled = true;
        clearTimeout(startTimer);
        w.ready = outcome === undefined;
        resolveStarted(outcome);
      },
      ready: false,
      dead: false,
      retired: false,
    };
    this.workers.set(id, w);
    if (this.options.cluster) this.spawnedWorkers.push(id);
    // Failure handling is attached first, so it runs before any lease or actor continuation.
    void started.then((failed) => failed && this.onStartFailed(w, failed));
    child.on('message', (m: unknown) => {
      if (isEnvSetupFailedReport(m)) w.settle(new RuntimeEnvSetupError(m.message));
    });
    child.on('exit', (code, signal) => {
      // Let frames the worker sent before dying be handled first.
      setImmediate(() => this.onWorkerExit(w, code, signal));
    });
    child.on('error', (err) => {
      // e.g. the fork itself failed (there may be no 'exit' then).
      if (!w.ready) w.settle(new WorkerCrashedError(`The worker process could not be started: ${err.message}`));
      else process.emitWarning(`raybus node: worker ${id}: ${err.message}`);
    });
    return w;
  }

  /**
   * A worker could not start (its runtime env failed to set up, or it died first): answer
   * the work it was started for, release that work's resources, and stop the worker.
   */
  private onStartFailed(w: WorkerProc, err: Error): void {
    this.pool.remove(w.envKey, w);
    const { lease, actor, grantTo } = w;
    w.lease = undefined;
    w.actor = undefined;
    w.grantTo = undefined;
    if (lease) this.byLease.delete(lease);
    if (!this.stopping && lease) {
      const node = this.options.nodeId;
      if (actor) {
        if (err instanceof RuntimeEnvSetupError) {
          // initFailed: the actor is dead without restarts, and every call fails with the cause.
          this.toBroker({ t: 'actor-failed', actor, err: encodeError(err), intentional: false, initFailed: true });
        } else {
          this.toBroker({ t: 'worker-died', node, worker: w.id, lease, actor, reason: err.message });
        }
      } else {
        // The owner hears first (lease-failed fails its queued tasks of this key with `err`). The
        // owner never saw this lease, so it ignores the lease-lost the broker answers the
        // worker-died with; worker-died is what releases the lease's resources.
        if (grantTo) this.send(grantTo.owner, { t: 'lease-failed', req: grantTo.req, err: encodeError(err) });
        this.toBroker({ t: 'worker-died', node, worker: w.id, lease, reason: err.message });
      }
    }
    this.retire(w);
  }

  /** Stop a worker on purpose (its exit is not reported to the broker). */
  private retire(w: WorkerProc): void {
    w.retired = true;
    this.pool.remove(w.envKey, w);
    void this.killWorker(w);
  }

  private onWorkerExit(w: WorkerProc, code: number | null, signal: NodeJS.Signals | null): void {
    if (w.dead) return;
    w.dead = true;
    this.workers.delete(w.id);
    this.pool.remove(w.envKey, w);
    void w.bridge.close();
    this.announceOwnerGone(w.id);
    const reason = signal ? `worker process ${w.child.pid} was killed by ${signal}` : `worker process ${w.child.pid} exited with code ${code}`;
    if (!w.ready) {
      // Died before it was ready: onStartFailed answers the work it was started for.
      w.settle(
        w.envKey === DEFAULT_ENV_KEY || w.killRequested
          ? new WorkerCrashedError(`The worker process died before it was ready: ${reason}`)
          : new RuntimeEnvSetupError(`Failed to set up the runtime env: the worker process died while setting it up (${reason}).`),
      );
      return;
    }
    if (this.stopping || w.retired) return;
    if (w.lease) this.byLease.delete(w.lease);
    this.toBroker({ t: 'worker-died', node: this.options.nodeId, worker: w.id, reason: w.stopReason ?? reason, ...(w.lease ? { lease: w.lease } : {}), ...(w.actor ? { actor: w.actor } : {}) });
  }

  private killWorker(w: WorkerProc): Promise<void> {
    if (w.dead || w.child.exitCode !== null || w.child.signalCode !== null) {
      return w.bridge.close();
    }
    return new Promise<void>((resolve) => {
      // Close the worker's bus connection before resolving, so its unacknowledged messages
      // are back in their queues (redelivered) by the time the caller goes on.
      w.child.once('exit', () => void w.bridge.close().then(resolve, resolve));
      if (process.env.RAYBUS_WORKER_CPU_PROF && w.child.connected) {
        // A profiled worker must exit by itself to write its profile (it exits on disconnect).
        w.child.disconnect();
        setTimeout(() => w.child.kill('SIGKILL'), 5000).unref();
        return;
      }
      w.child.kill('SIGKILL');
    });
  }
}

/** A Transport that waits for its connection to open before every operation. */
function createDeferredTransport(p: Promise<Transport>): Transport {
  let t: Transport | undefined;
  void p.then((x) => (t = x));
  const wrap =
    <K extends keyof Transport>(k: K) =>
    (...args: unknown[]): unknown =>
      t ? (t[k] as (...a: unknown[]) => unknown)(...args) : p.then((x) => (x[k] as (...a: unknown[]) => unknown)(...args));
  return {
    kind: 'deferred',
    get status$() {
      return t!.status$;
    },
    connect: wrap('connect'),
    close: wrap('close'),
    assertQueue: wrap('assertQueue'),
    deleteQueue: wrap('deleteQueue'),
    publish: wrap('publish'),
    consume: wrap('consume'),
    broadcast: wrap('broadcast'),
    subscribe: wrap('subscribe'),
  } as unknown as Transport;
}
