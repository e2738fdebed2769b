/**
 * The hosts of shared actors (`isolation: 'shared'`) on one node: a worker process per runtime
 * env takes them until it holds `perWorker` (then the next one starts). The worker table
 * (worker-table.ts) gives each host its process and machine; this part chooses the host, sends
 * it each actor once it is ready, and stops one actor without stopping its host.
 */
import type { LeaseId, WorkerId } from '../protocol/ids';
import { actorQueue, workerQueue } from '../protocol/queues';
import { canonicalRuntimeEnv, runtimeEnvKey, type RuntimeEnv } from '../protocol/runtime-env';
import type { NodeOutbox } from './node-outbox';
import type { NodeWorker } from './node-worker';
import type { ActorAssignment } from './worker-process.machine';

/** Default shared actors per worker process (RAYBUS_SHARED_ACTORS_PER_WORKER). */
const DEFAULT_PER_WORKER = 5000;

/** What the shared hosts need of their worker table. */
export interface SharedHostsDeps {
  readonly outbox: NodeOutbox;
  /** The worker table's lease index. */
  readonly byLease: Map<LeaseId, NodeWorker>;
  /** A worker of `env` (idle or new) for the actor `make` describes; it becomes a host. */
  readonly newHost: (env: RuntimeEnv | undefined, make: (worker: WorkerId) => ActorAssignment) => NodeWorker;
  /**
   * Consumers one bus connection takes (`capabilities.maxConsumers`; undefined: no limit). Each
   * worker has a connection of its own on the node, and each shared actor's mailbox is a consumer.
   */
  readonly consumerLimit?: () => number | undefined;
}

/** Consumers of a worker's connection other than its shared actors' mailboxes (its own queue, topics…). */
const OTHER_CONSUMERS = 64;

export class SharedHosts {
  /** The host taking new shared actors, by runtime env key. */
  private readonly current = new Map<string, NodeWorker>();
  /** Shared actors one process hosts before the next one starts (their calls then use more cores). */
  private readonly perWorker: number;

  constructor(private readonly deps: SharedHostsDeps) {
    const fromEnv = Number(process.env.RAYBUS_SHARED_ACTORS_PER_WORKER);
    this.perWorker = Number.isInteger(fromEnv) && fromEnv > 0 ? fromEnv : DEFAULT_PER_WORKER;
  }

  /** Host the actor on the current host of its env (unless `draining`), or on a new one. */
  place(env: RuntimeEnv | undefined, make: (worker: WorkerId) => ActorAssignment, draining: boolean): void {
    const key = runtimeEnvKey(canonicalRuntimeEnv(env));
    const host = this.current.get(key);
    if (host && !host.dead && !draining && (host.state === 'starting' || host.state === 'hostingActor') && host.shared!.size < this.capacity()) {
      const a = make(host.id);
      host.shared!.set(a.lease, a);
      this.deps.byLease.set(a.lease, host);
      if (host.state === 'hostingActor') this.deps.outbox.send(workerQueue(host.id), a.host);
      else host.sharedBacklog!.push(a);
      return;
    }
    // A new host (an idle worker of the env, or a new process), taken for this actor first.
    const w = this.deps.newHost(env, make);
    const a = w.assignment as ActorAssignment;
    w.shared = new Map([[a.lease, a]]);
    // A pooled worker was ready and hosts it already; a new one hosts it once ready.
    w.sharedBacklog = w.state === 'hostingActor' ? [] : [a];
    this.current.set(key, w);
  }

  /** Shared actors one host takes: `perWorker`, within what one bus connection can consume. */
  private capacity(): number {
    const consumers = this.deps.consumerLimit?.();
    return consumers === undefined ? this.perWorker : Math.max(1, Math.min(this.perWorker, consumers - OTHER_CONSUMERS));
  }

  /** Host `w` is ready: the actors given to it meanwhile (and still there) go to it now. */
  ready(w: NodeWorker): void {
    for (const a of w.sharedBacklog!.splice(0)) this.deps.outbox.send(workerQueue(w.id), a.host);
  }

  /**
   * Stop one shared actor (kill-worker, or its lease released): the node ends the worker's
   * consumer of its mailbox at once, so the calls it held go back to the mailbox whatever the
   * process is doing, and tells the worker to let the actor go. The last one stops the process.
   */
  stop(w: NodeWorker, lease: LeaseId): Promise<void> {
    const a = w.shared!.get(lease)!;
    w.shared!.delete(lease);
    this.deps.byLease.delete(lease);
    const backlog = w.sharedBacklog!.indexOf(a);
    if (backlog >= 0) w.sharedBacklog!.splice(backlog, 1);
    if (w.shared!.size === 0) {
      this.forget(w);
      w.send({ type: 'KILL' });
      return w.gone;
    }
    if (backlog >= 0) return Promise.resolve();
    this.deps.outbox.send(workerQueue(w.id), { t: 'stop-actor', actor: a.actor });
    return w.handle.dropConsumers(actorQueue(a.actor));
  }

  /** Host `w` is gone (or going): it takes no more actors, and its leases leave the index. */
  forget(w: NodeWorker): void {
    for (const lease of w.shared?.keys() ?? []) if (this.deps.byLease.get(lease) === w) this.deps.byLease.delete(lease);
    if (this.current.get(w.envKey) === w) this.current.delete(w.envKey);
  }
}
