/**
 * A node's worker processes and the work on them: one worker-process machine per process
 * (worker-process.machine.ts; the process and its machine in node-worker.ts) whose effects
 * are supplied here, the idle pool by runtime env (worker-pool.ts), the lease table (which
 * worker holds which lease or actor) and the hosts of shared actors (shared-hosts.ts). The
 * node manager turns its queue's messages into calls here; processes come from a WorkerSpawner.
 */
import { createActor } from 'xstate';
import { newWorkerId, type LeaseId, type NodeId, type WorkerId } from '../protocol/ids';
import { OWNER_DIED_TOPIC, replyQueue, workerQueue } from '../protocol/queues';
import type { StartActorMsg, StartLeaseMsg } from '../protocol/messages/node';
import type { NodeLeaseReport } from '../protocol/wire';
import { DEFAULT_ENV_KEY, canonicalRuntimeEnv, runtimeEnvKey, type RuntimeEnv } from '../protocol/runtime-env';
import { RuntimeEnvSetupError } from '../errors/ray-errors';
import { encodeError } from '../serialization/error-codec';
import type { Clock, Timer } from '../util/clock';
import { WorkerPool, type PoolUse } from './worker-pool';
import type { WorkerItem } from '../protocol/state';
import { DeadWorkers, workerItem } from './worker-items';
import type { NodeOutbox } from './node-outbox';
import type { WorkerSpawner } from './worker-spawner';
import {
  machineClock,
  workerProcessMachine,
  type ActorAssignment,
  type StartFailure,
  type TaskAssignment,
  type WorkerAssignment,
  type WorkerDeath,
  type WorkerProcessState,
} from './worker-process.machine';
import { logger } from '../util/logger';
import { NodeWorker, processEvents } from './node-worker';
import { SharedHosts } from './shared-hosts';

/** What the table needs of its node. */
export interface WorkerTableOptions {
  readonly nodeId: NodeId;
  readonly spawner: WorkerSpawner;
  readonly outbox: NodeOutbox;
  /** Runs idle reaping and start timeouts. */
  readonly clock: Clock;
  /** How long an idle worker is kept (ms; the default env's warm ones stay). */
  readonly idleTimeoutMs: number;
  /** Idle workers of the default runtime env kept started ahead of demand (Ray's prestart). */
  readonly prestart?: number;
  /** How long a worker may take to start and set up its runtime env (ms). */
  readonly startTimeoutMs: number;
  /** Keep the ids of every worker started (a cluster node deletes their queues when it stops). */
  readonly rememberSpawned?: boolean;
  /** Consumers one bus connection takes (the bus's `maxConsumers`): bounds the shared actors of a host. */
  readonly consumerLimit?: () => number | undefined;
  /** A worker died before it was ready (not a runtime env failure): the node says why it can. */
  readonly crashedAtStart?: (workerId: WorkerId, error: Error) => void;
}

/** How long the warm pool waits after work last took a worker before it starts replacements (ms). */
const REFILL_DELAY_MS = 200;

/** States in which a worker runs work it was given (a drain waits for them to go idle). */
const SERVING: ReadonlySet<WorkerProcessState> = new Set(['leased', 'retiring', 'hostingActor']);

/** The workers of one node, the idle pool and the lease table. */
export class WorkerTable {
  private readonly workers = new Map<WorkerId, NodeWorker>();
  private readonly byLease = new Map<LeaseId, NodeWorker>();
  private readonly pool: WorkerPool<NodeWorker>;
  private readonly listeners = new Set<() => void>();
  /** Task leases whose running task waits in get/wait (its CPU is lent out). */
  private readonly blocked = new Set<LeaseId>();
  private seq = 0;
  private draining = false;
  private stopping = false;
  /** The refill that waits for a burst of work to end. */
  private refillTimer?: Timer;
  /** Ids of every worker started (with `rememberSpawned`). */
  readonly spawned: WorkerId[] = [];
  private readonly dead = new DeadWorkers();
  /** The hosts of shared actors (shared-hosts.ts). */
  private readonly sharedHosts: SharedHosts;

  constructor(private readonly options: WorkerTableOptions) {
    this.pool = new WorkerPool<NodeWorker>({
      idleTimeoutMs: options.idleTimeoutMs,
      keepIdle: options.prestart ?? 0,
      clock: options.clock,
      reap: (w) => w.send({ type: 'STOP' }),
    });
    this.sharedHosts = new SharedHosts({
      outbox: options.outbox,
      byLease: this.byLease,
      newHost: (env, make) => this.assign(env, [], 'actor', make),
      ...(options.consumerLimit ? { consumerLimit: options.consumerLimit } : {}),
    });
  }

  /** Every worker, live and recently dead, as the state API lists them. */
  *items(): IterableIterator<WorkerItem> {
    for (const w of this.workers.values()) yield workerItem(w, this.options.nodeId);
    yield* this.dead.items();
  }

  /**
   * Keep `prestart` workers of the default runtime env that have run nothing started ahead of
   * demand (pooled while they start): called when the node starts and, through `refillSoon`,
   * after work took one, so that the next burst of actors or leases finds warm workers (an
   * actor takes only such a worker: worker-pool.ts). A worker that dies idle is
   * not replaced until work comes (a crash at start never loops).
   */
  refill(): void {
    const target = this.options.prestart ?? 0;
    if (this.draining || this.stopping) return;
    while (this.pool.fresh(DEFAULT_ENV_KEY) < target) this.pool.put(DEFAULT_ENV_KEY, this.spawn(undefined, []));
  }

  /**
   * Refill once work stops taking workers for REFILL_DELAY_MS: starting processes takes the
   * CPU the burst itself needs (a burst of actors on warm workers ran 20-40x slower with the
   * replacements starting beside it on 2 cores).
   */
  private refillSoon(): void {
    if (this.draining || this.stopping) return;
    const { clock } = this.options;
    if (this.refillTimer !== undefined) clock.clear(this.refillTimer);
    this.refillTimer = clock.setTimeout(() => {
      this.refillTimer = undefined;
      this.refill();
    }, REFILL_DELAY_MS);
  }

  private cancelRefill(): void {
    if (this.refillTimer === undefined) return;
    this.options.clock.clear(this.refillTimer);
    this.refillTimer = undefined;
  }

  /** start-lease: a worker of the lease's env (idle or new) is granted to the owner once ready. */
  startLease(msg: StartLeaseMsg): void {
    this.assign(msg.env, msg.gpuIds, 'lease', (worker) => ({
      kind: 'lease',
      lease: msg.lease,
      owner: msg.owner,
      req: msg.req,
      report: { lease: msg.lease, worker, demand: msg.demand, gpuIds: msg.gpuIds, owner: msg.owner, req: msg.req },
    }));
  }

  /** start-actor: a worker of the actor's env hosts it once ready (with other shared actors, for `isolation: 'shared'`). */
  startActor(msg: StartActorMsg): void {
    const { spec } = msg;
    const make = (worker: WorkerId): ActorAssignment => ({
      kind: 'actor',
      lease: msg.lease,
      actor: spec.actorId,
      host: { t: 'host-actor', spec, restart: msg.restart, nodeId: this.options.nodeId },
      report: { lease: msg.lease, worker, demand: spec.lifetime, gpuIds: msg.gpuIds, actor: spec },
    });
    if (spec.iso !== 'shared' || msg.gpuIds.length > 0) {
      this.assign(spec.ctx.env, msg.gpuIds, 'actor', make);
      return;
    }
    this.sharedHosts.place(spec.ctx.env, make, this.draining);
  }

  /** The task on `lease` waits in get/wait (or runs again); false for a lease not held here. */
  setBlocked(lease: LeaseId, blocked: boolean): boolean {
    if (this.holder(lease)?.assignment?.kind !== 'lease') return false;
    if (blocked === this.blocked.has(lease)) return false;
    if (blocked) this.blocked.add(lease);
    else this.blocked.delete(lease);
    return true;
  }

  /** release-lease: the lease's worker goes back to the pool (or is stopped). */
  release(lease: LeaseId): void {
    const w = this.holder(lease);
    if (w?.shared) return void this.sharedHosts.stop(w, lease);
    this.byLease.delete(lease);
    this.blocked.delete(lease);
    w?.send({ type: 'RELEASE' });
  }

  /** kill-worker: resolves once the lease's worker is gone and its messages requeued. */
  kill(lease: LeaseId): Promise<void> {
    const w = this.holder(lease);
    if (!w) return Promise.resolve();
    if (w.shared) return this.sharedHosts.stop(w, lease);
    w.send({ type: 'KILL' });
    return w.gone;
  }

  /** The node drains: idle workers stop, working ones stop taking work once between tasks. */
  drain(): void {
    this.cancelRefill();
    this.draining = true;
    for (const w of [...this.workers.values()]) w.send({ type: 'DRAIN' });
    for (const w of [...this.workers.values()]) this.probeIdle(w);
  }

  /** Stop every worker quietly (the node stops); resolves once all are gone. */
  async stopAll(): Promise<void> {
    this.stopping = true;
    this.cancelRefill();
    this.pool.drain();
    const all = [...this.workers.values()];
    for (const w of all) w.send({ type: 'STOP' });
    await Promise.all(all.map((w) => w.gone));
  }

  /** Workers holding work (a lease or an actor) that is not given back yet. */
  holding(): number {
    let n = 0;
    for (const w of this.workers.values()) if (!w.dead && w.assignment) n++;
    return n;
  }

  /** Of those, the workers still starting or running work (not pausing or stopping). */
  working(): number {
    let n = 0;
    for (const w of this.workers.values()) if (!w.dead && w.assignment && (w.state === 'starting' || SERVING.has(w.state))) n++;
    return n;
  }

  /** Leases and actors running here now (for registration with a broker leader). */
  leaseReports(): NodeLeaseReport[] {
    const out: NodeLeaseReport[] = [];
    for (const w of this.workers.values()) {
      if (w.dead) continue;
      if (w.shared) {
        for (const a of w.shared.values()) out.push(a.report);
        continue;
      }
      const a = w.assignment;
      if (a) out.push(this.blocked.has(a.lease) ? { ...a.report, blocked: true } : a.report);
    }
    return out;
  }

  /** Pids of live workers. */
  pids(): number[] {
    return [...this.workers.values()].filter((w) => !w.dead && w.handle.pid !== undefined).map((w) => w.handle.pid!);
  }

  /** Call `listener` after any worker changes; returns its removal. */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The worker holding `lease` now. */
  private holder(lease: LeaseId): NodeWorker | undefined {
    const w = this.byLease.get(lease);
    if (!w || w.dead) return undefined;
    if (w.shared) return w.shared.has(lease) ? w : undefined;
    return w.assignment?.lease === lease ? w : undefined;
  }

  /** Give work to an idle worker of its env (a fresh one for an actor), or to a new one. */
  private assign(env: RuntimeEnv | undefined, gpuIds: readonly number[], use: PoolUse, make: (worker: WorkerId) => WorkerAssignment): NodeWorker {
    const canonical = canonicalRuntimeEnv(env);
    // A worker with GPUs gets its own process (its CUDA_VISIBLE_DEVICES is fixed at start).
    const idle = gpuIds.length === 0 ? this.pool.take(runtimeEnvKey(canonical), use) : undefined;
    let w = idle;
    if (idle) {
      const a = make(idle.id);
      this.track(idle, a.lease);
      idle.send(a.kind === 'lease' ? { type: 'LEASE', assignment: a } : { type: 'HOST_ACTOR', assignment: a });
    } else {
      w = this.spawn(canonical, gpuIds, make);
    }
    w!.used = true;
    if (w!.envKey === DEFAULT_ENV_KEY) this.refillSoon();
    // Work that reached a draining node (sent before the broker heard of the drain) goes back too.
    if (this.draining) w!.send({ type: 'DRAIN' });
    return w!;
  }

  private track(w: NodeWorker, lease: LeaseId): void {
    w.leaseKey = lease;
    this.byLease.set(lease, w);
  }

  private spawn(
    runtimeEnv: RuntimeEnv | undefined,
    gpuIds: readonly number[],
    make?: (id: WorkerId) => WorkerAssignment,
  ): NodeWorker {
    const o = this.options;
    const id = newWorkerId(o.nodeId, ++this.seq);
    const w = new NodeWorker(id, runtimeEnvKey(runtimeEnv));
    w.startedAt = o.clock.now();
    w.handle = o.spawner.spawn({ workerId: id, ...(runtimeEnv ? { runtimeEnv } : {}), gpuIds }, processEvents(w, () => this.draining));
    const work = make?.(id);
    w.actor = createActor(this.machineFor(w), {
      input: {
        workerId: id,
        nodeId: o.nodeId,
        defaultEnv: w.envKey === DEFAULT_ENV_KEY,
        dedicated: gpuIds.length > 0,
        startTimeoutMs: o.startTimeoutMs,
        ...(work ? { assignment: work } : {}),
      },
      clock: machineClock(o.clock),
    });
    w.actor.subscribe({
      next: () => this.changed(w),
      error: (err) => logger.error(`raybus node: worker ${id}'s lifecycle failed: ${(err as Error).stack}`),
    });
    this.workers.set(id, w);
    if (o.rememberSpawned) this.spawned.push(id);
    if (work) this.track(w, work.lease);
    w.actor.start();
    return w;
  }

  /** The machine of worker `w`, with the node's effects. */
  private machineFor(w: NodeWorker) {
    const { outbox, nodeId } = this.options;
    return workerProcessMachine.provide({
      actions: {
        grantLease: (_, a: TaskAssignment) => outbox.send(a.owner, { t: 'lease-granted', req: a.req, lease: a.lease, worker: w.id, node: nodeId }),
        hostActor: (_, a: ActorAssignment) => {
          // A host of shared actors is ready: those given to it meanwhile (still there) go now.
          if (w.shared) this.sharedHosts.ready(w);
          else outbox.send(workerQueue(w.id), a.host);
        },
        returnToPool: () => this.pool.put(w.envKey, w),
        leavePool: () => this.pool.remove(w.envKey, w),
        pauseIntake: () => {
          void w.handle
            .pause()
            .catch(() => undefined)
            .then(() => w.send({ type: 'PAUSED' }));
        },
        revokeLease: (_, a: TaskAssignment) => outbox.toBroker({ t: 'lease-revoked', node: nodeId, lease: a.lease, reason: `its node ${nodeId} is draining` }),
        kill: () => w.handle.kill(),
        reportStartFailed: (_, f: StartFailure) => this.reportStartFailed(f),
        reportDied: (_, d: WorkerDeath) => this.reportDied(d),
        released: () => this.released(w),
      },
    });
  }

  /**
   * A worker could not start: answer the work it was started for and release that work's
   * resources. An actor whose runtime env failed is dead without restarts (initFailed: every
   * call fails with the cause). A task lease's owner hears first (lease-failed fails its queued
   * tasks of this key); it never saw the lease, so it ignores the lease-lost the broker answers
   * the worker-died with; worker-died is what releases the lease's resources.
   */
  private reportStartFailed({ workerId, assignment, error }: StartFailure): void {
    if (!(error instanceof RuntimeEnvSetupError)) this.options.crashedAtStart?.(workerId, error);
    // A host of shared actors: each actor it was to host fails the same way.
    const shared = this.workers.get(workerId)?.shared;
    for (const a of shared ? [...shared.values()] : assignment ? [assignment] : []) this.reportStartFailedOf(workerId, a, error);
  }

  private reportStartFailedOf(workerId: WorkerId, a: WorkerAssignment, error: Error): void {
    const { outbox, nodeId: node } = this.options;
    if (a.kind === 'actor') {
      if (error instanceof RuntimeEnvSetupError) outbox.toBroker({ t: 'actor-failed', actor: a.actor, err: encodeError(error), intentional: false, initFailed: true });
      else outbox.toBroker({ t: 'worker-died', node, worker: workerId, lease: a.lease, actor: a.actor, reason: error.message });
      return;
    }
    outbox.send(a.owner, { t: 'lease-failed', req: a.req, err: encodeError(error) });
    outbox.toBroker({ t: 'worker-died', node, worker: workerId, lease: a.lease, reason: error.message });
  }

  private reportDied({ workerId, assignment, reason }: WorkerDeath): void {
    // A host of shared actors: the death of the process is the failure of each actor on it.
    const shared = this.workers.get(workerId)?.shared;
    if (shared) {
      for (const a of shared.values()) this.reportDiedOf(workerId, a, reason);
      return;
    }
    this.reportDiedOf(workerId, assignment, reason);
  }

  private reportDiedOf(workerId: WorkerId, a: WorkerAssignment | undefined, reason: string): void {
    this.options.outbox.toBroker({
      t: 'worker-died',
      node: this.options.nodeId,
      worker: workerId,
      reason,
      ...(a ? { lease: a.lease } : {}),
      ...(a?.kind === 'actor' ? { actor: a.actor } : {}),
    });
  }

  /**
   * The process is gone, and the objects it owned with it: borrowers waiting for one fail
   * with OwnerDiedError instead of waiting forever; its queues go too.
   */
  private released(w: NodeWorker): void {
    this.workers.delete(w.id);
    if (w.leaseKey) this.blocked.delete(w.leaseKey);
    if (w.shared) this.sharedHosts.forget(w);
    this.dead.add(w, this.options.nodeId, this.options.clock.now());
    if (w.leaseKey && this.byLease.get(w.leaseKey) === w) this.byLease.delete(w.leaseKey);
    void w.handle.close().then(w.markGone, w.markGone);
    const { outbox } = this.options;
    const owner = replyQueue(w.id);
    outbox.broadcast(OWNER_DIED_TOPIC, { owner });
    outbox.deleteQueue(owner);
    outbox.deleteQueue(workerQueue(w.id));
  }

  /** After every transition: keep the lease table current, nudge a drain, tell listeners. */
  private changed(w: NodeWorker): void {
    const key = w.leaseKey;
    if (key && w.assignment?.lease !== key && !w.dead) {
      this.blocked.delete(key);
      if (this.byLease.get(key) === w) this.byLease.delete(key);
      w.leaseKey = undefined;
    }
    if (this.draining) this.probeIdle(w);
    for (const l of [...this.listeners]) l();
  }

  /** Draining: a worker between tasks stops taking work. */
  private probeIdle(w: NodeWorker): void {
    if (!w.dead && SERVING.has(w.state) && w.handle.unacked() === 0) w.send({ type: 'IDLE' });
  }
}
