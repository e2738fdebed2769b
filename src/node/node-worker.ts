/**
 * One worker process of a node: its handle, its lifecycle machine (worker-process.machine.ts)
 * and what the process tells the node, turned into events of that machine. The worker table
 * (worker-table.ts) creates them and supplies the machine's effects.
 */
import type { Actor } from 'xstate';
import type { LeaseId, WorkerId } from '../protocol/ids';
import { RuntimeEnvSetupError, WorkerCrashedError } from '../errors/ray-errors';
import type { WorkerHandle, WorkerProcessEvents } from './worker-spawner';
import type { ActorAssignment, WorkerAssignment, WorkerProcessEvent, WorkerProcessState, workerProcessMachine } from './worker-process.machine';
import { logger } from '../util/logger';

/** One worker process: its handle and its lifecycle machine. */
export class NodeWorker {
  /** Set right after the process is spawned. */
  handle!: WorkerHandle;
  /** Set right after the handle. */
  actor!: Actor<typeof workerProcessMachine>;
  /** It was given work (a lease or an actor): the pool hands it to leases only (worker-pool.ts). */
  used = false;
  /** The lease this worker was last given (its key in the lease table). */
  leaseKey?: LeaseId;
  /** Resolves once the process is gone and its bus connection closed (its messages requeued). */
  readonly gone: Promise<void>;
  /** When it was started (ms since the epoch, the node's clock). */
  startedAt = 0;
  /** How the process ended (its exit status, or the signal that killed it). */
  exitReason?: string;
  /** @internal */
  markGone!: () => void;
  /**
   * A host of shared actors (`isolation: 'shared'`): the actors it hosts, by lease. Its
   * machine's assignment is only the first of them (the one it was started or taken for).
   */
  shared?: Map<LeaseId, ActorAssignment>;
  /** Shared actors given to it before it was ready: sent once it is. */
  sharedBacklog?: ActorAssignment[];

  constructor(
    readonly id: WorkerId,
    /** Pool key of its runtime env. */
    readonly envKey: string,
  ) {
    this.gone = new Promise((resolve) => (this.markGone = resolve));
  }

  get state(): WorkerProcessState {
    const v = this.actor.getSnapshot().value;
    return (typeof v === 'string' ? v : Object.keys(v)[0]) as WorkerProcessState;
  }

  get assignment(): WorkerAssignment | undefined {
    return this.actor.getSnapshot().context.assignment;
  }

  get dead(): boolean {
    return this.actor.getSnapshot().status !== 'active';
  }

  send(event: WorkerProcessEvent): void {
    if (this.actor && !this.dead) this.actor.send(event);
  }
}

/**
 * What the process of `w` tells its node, as events of its machine. `draining`: whether the
 * node drains (then a worker gone idle between tasks stops taking work).
 */
export function processEvents(w: NodeWorker, draining: () => boolean): WorkerProcessEvents {
  return {
    ready: () => w.send({ type: 'READY' }),
    retiring: () => w.send({ type: 'RETIRING' }),
    envSetupFailed: (message) => w.send({ type: 'START_FAILED', error: new RuntimeEnvSetupError(message) }),
    idle: () => {
      if (draining()) w.send({ type: 'IDLE' });
    },
    error: (err) => {
      if (w.state === 'starting') w.send({ type: 'START_FAILED', error: new WorkerCrashedError(`The worker process could not be started: ${err.message}`) });
      else logger.warn(`raybus node: worker ${w.id}: ${err.message}`);
    },
    exited: (reason) => {
      w.exitReason = reason;
      w.send({ type: 'EXITED', reason });
    },
  };
}
