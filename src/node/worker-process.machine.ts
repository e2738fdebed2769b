/**
 * The lifecycle of one worker process of a node, as an XState machine (the shape of
 * actors/actor-lifecycle.machine.ts):
 *
 * ```
 * starting ──READY──▶ idle ⇄ leased ──RETIRING──▶ retiring
 *    │                  └──▶ hostingActor
 *    │        (drain: leased | retiring | hostingActor ──IDLE──▶ pausing)
 *    └──────────────────────────────▶ stopping (quiet | reportDeath | failStart) ──EXITED──▶ dead
 * ```
 *
 * Work may be assigned while the worker starts (a lease or actor that needed a new process,
 * or a prestarted worker taken from the pool); it is granted (or hosted) once the worker is
 * ready. A start that fails (runtime-env setup failed, the fork failed, the start timeout, or
 * the process died first) answers the work it was started for. Effects are named actions the
 * node supplies with `machine.provide()`; the start timeout runs on the clock the actor is
 * created with, so the machine is tested without processes, a bus or real time.
 */
import { assign, setup } from 'xstate';
import type { ActorId, LeaseId, NodeId, ReplyQueue, RequestId, WorkerId } from '../protocol/ids';
import type { HostActorMsg } from '../protocol/messages/worker';
import type { NodeLeaseReport } from '../protocol/wire';
import { RuntimeEnvSetupError, WorkerCrashedError } from '../errors/ray-errors';
import type { Clock, Timer } from '../util/clock';

/** A task lease on the worker: granted to its owner once the worker is ready. */
export interface TaskAssignment {
  readonly kind: 'lease';
  readonly lease: LeaseId;
  readonly owner: ReplyQueue;
  readonly req: RequestId;
  /** What the lease holds, for reports to a new broker leader. */
  readonly report: NodeLeaseReport;
}

/** An actor dedicated to the worker: `host` is sent to it once it is ready. */
export interface ActorAssignment {
  readonly kind: 'actor';
  readonly lease: LeaseId;
  readonly actor: ActorId;
  readonly host: HostActorMsg;
  readonly report: NodeLeaseReport;
}

/** The work a worker holds: a task lease or an actor. */
export type WorkerAssignment = TaskAssignment | ActorAssignment;

/** What the machine is started with. */
export interface WorkerProcessInput {
  readonly workerId: WorkerId;
  readonly nodeId: NodeId;
  /** Started with the default runtime env: dying before ready is a crash, not an env setup failure. */
  readonly defaultEnv: boolean;
  /** Dedicated to one GPU lease or actor: never pooled. */
  readonly dedicated: boolean;
  /** How long the worker may take to start and set up its runtime env. */
  readonly startTimeoutMs: number;
  /** Work assigned at spawn (a lease or actor that needed a new process). */
  readonly assignment?: WorkerAssignment;
}

/** The machine's context: its input, and what changes as it lives. */
export interface WorkerProcessContext extends Omit<WorkerProcessInput, 'assignment'> {
  assignment?: WorkerAssignment;
  /** The node drains: work released or finished here is not taken again. */
  draining: boolean;
  /** Why the node stopped the worker (reported as its death instead of the exit status). */
  stopReason?: string;
}

/** What the node tells a worker's machine (from its queue, the process, or its own decisions). */
export type WorkerProcessEvent =
  /** start-lease: a task lease on this worker. */
  | { type: 'LEASE'; assignment: TaskAssignment }
  /** start-actor: the worker is dedicated to an actor. */
  | { type: 'HOST_ACTOR'; assignment: ActorAssignment }
  /** The worker set up its runtime env and consumes its queue. */
  | { type: 'READY' }
  /** The worker cannot start: its runtime env failed to set up, or the fork failed. */
  | { type: 'START_FAILED'; error: Error }
  /** release-lease: the owner gave the lease back. */
  | { type: 'RELEASE' }
  /** kill-worker: the broker asked for the process to be killed (its death is reported). */
  | { type: 'KILL' }
  /** The worker reached a task's maxCalls: it exits after its current task. */
  | { type: 'RETIRING' }
  /** The node drains: take no more work. */
  | { type: 'DRAIN' }
  /** Every message handed to the worker is acknowledged (it is between tasks). */
  | { type: 'IDLE' }
  /** The worker no longer takes messages (drain). */
  | { type: 'PAUSED' }
  /** The node stops the worker on purpose (reaped, node stopping): its exit is not reported. */
  | { type: 'STOP' }
  /** The process is gone. */
  | { type: 'EXITED'; reason: string };

/** Parameters of `reportStartFailed`: answer the work the worker was started for. */
export interface StartFailure {
  readonly workerId: WorkerId;
  readonly assignment?: WorkerAssignment;
  readonly error: Error;
}

/** Parameters of `reportDied`: the worker died holding `assignment` (maybe none). */
export interface WorkerDeath {
  readonly workerId: WorkerId;
  readonly assignment?: WorkerAssignment;
  readonly reason: string;
}

type Args = { context: WorkerProcessContext; event: WorkerProcessEvent };

const exitReason = (event: WorkerProcessEvent): string => (event.type === 'EXITED' ? event.reason : 'the worker process is gone');

/** The error of a worker that did not get ready within its start timeout. */
function startTimeoutError(context: WorkerProcessContext): Error {
  const ms = context.startTimeoutMs;
  return context.defaultEnv
    ? new WorkerCrashedError(`The worker process did not start within ${ms} ms.`)
    : new RuntimeEnvSetupError(`Failed to set up the runtime env: The worker process did not set up its runtime env within ${ms} ms.`);
}

/** The error of a worker that died before it was ready (while setting up a runtime env, if it had one). */
function diedStartingError(context: WorkerProcessContext, reason: string, killed: boolean): Error {
  return context.defaultEnv || killed
    ? new WorkerCrashedError(`The worker process died before it was ready: ${reason}`)
    : new RuntimeEnvSetupError(`Failed to set up the runtime env: the worker process died while setting it up (${reason}).`);
}

const failure = (context: WorkerProcessContext, error: Error): StartFailure => ({
  workerId: context.workerId,
  ...(context.assignment ? { assignment: context.assignment } : {}),
  error,
});

const death = ({ context, event }: Args): WorkerDeath => ({
  workerId: context.workerId,
  ...(context.assignment ? { assignment: context.assignment } : {}),
  reason: context.stopReason ?? exitReason(event),
});

/**
 * The worker process machine. Provide: `grantLease`, `hostActor`, `returnToPool`, `leavePool`,
 * `pauseIntake` (then send PAUSED), `revokeLease`, `kill`, `reportStartFailed`, `reportDied`,
 * `released` (the process is gone: close its link). Create the actor with the node's clock
 * (the start timeout is a delayed transition).
 */
export const workerProcessMachine = setup({
  types: {
    context: {} as WorkerProcessContext,
    events: {} as WorkerProcessEvent,
    input: {} as WorkerProcessInput,
  },
  actions: {
    grantLease: (_, _lease: TaskAssignment) => undefined,
    hostActor: (_, _actor: ActorAssignment) => undefined,
    returnToPool: () => undefined,
    leavePool: () => undefined,
    pauseIntake: () => undefined,
    revokeLease: (_, _lease: TaskAssignment) => undefined,
    kill: () => undefined,
    reportStartFailed: (_, _failure: StartFailure) => undefined,
    reportDied: (_, _death: WorkerDeath) => undefined,
    released: () => undefined,
    assignWork: assign({
      assignment: ({ event }) => (event.type === 'LEASE' || event.type === 'HOST_ACTOR' ? event.assignment : undefined),
    }),
    clearWork: assign({ assignment: undefined }),
    markDraining: assign({ draining: true }),
    markDrained: assign({ stopReason: ({ context }) => `its node ${context.nodeId} was drained` }),
  },
  guards: {
    hasActor: ({ context }) => context.assignment?.kind === 'actor',
    hasLease: ({ context }) => context.assignment?.kind === 'lease',
    hasWork: ({ context }) => context.assignment !== undefined,
    draining: ({ context }) => context.draining,
    notPooled: ({ context }) => context.dedicated || context.draining,
  },
  delays: {
    startTimeout: ({ context }) => context.startTimeoutMs,
  },
}).createMachine({
  id: 'workerProcess',
  initial: 'starting',
  context: ({ input }) => ({ ...input, draining: false }),
  states: {
    starting: {
      exit: 'leavePool',
      after: {
        // A module whose import never settles must not hang the work: give up after a while.
        startTimeout: {
          target: 'stopping',
          actions: [{ type: 'reportStartFailed', params: ({ context }) => failure(context, startTimeoutError(context)) }, 'clearWork'],
        },
      },
      on: {
        LEASE: { actions: 'assignWork' },
        HOST_ACTOR: { actions: 'assignWork' },
        READY: [{ guard: 'hasActor', target: 'hostingActor' }, { guard: 'hasLease', target: 'leased' }, { target: 'idle' }],
        START_FAILED: {
          target: 'stopping',
          actions: [{ type: 'reportStartFailed', params: ({ context, event }) => failure(context, event.type === 'START_FAILED' ? event.error : startTimeoutError(context)) }, 'clearWork'],
        },
        EXITED: {
          target: 'dead',
          actions: [{ type: 'reportStartFailed', params: ({ context, event }) => failure(context, diedStartingError(context, exitReason(event), false)) }, 'clearWork'],
        },
        KILL: 'stopping.failStart',
        // Released before it was ever granted (its owner went away): pool the worker once ready.
        RELEASE: [{ guard: 'notPooled', target: 'stopping', actions: 'clearWork' }, { guard: 'hasLease', actions: ['clearWork', 'returnToPool'] }],
        DRAIN: [{ guard: 'hasWork', actions: 'markDraining' }, { target: 'stopping' }],
        STOP: { target: 'stopping', actions: 'clearWork' },
      },
    },
    idle: {
      entry: 'returnToPool',
      exit: 'leavePool',
      on: {
        LEASE: { target: 'leased', actions: 'assignWork' },
        HOST_ACTOR: { target: 'hostingActor', actions: 'assignWork' },
        KILL: 'stopping.reportDeath',
        RETIRING: 'stopping',
        DRAIN: { target: 'stopping', actions: 'markDraining' },
        STOP: 'stopping',
        EXITED: { target: 'dead', actions: { type: 'reportDied', params: death } },
      },
    },
    leased: {
      entry: { type: 'grantLease', params: ({ context }) => context.assignment as TaskAssignment },
      on: {
        RELEASE: [{ guard: 'notPooled', target: 'stopping', actions: 'clearWork' }, { target: 'idle', actions: 'clearWork' }],
        RETIRING: 'retiring',
        KILL: 'stopping.reportDeath',
        DRAIN: { actions: 'markDraining' },
        IDLE: { guard: 'draining', target: 'pausing' },
        STOP: { target: 'stopping', actions: 'clearWork' },
        EXITED: { target: 'dead', actions: { type: 'reportDied', params: death } },
      },
    },
    /** maxCalls reached: the worker exits after its current task; it is never pooled again. */
    retiring: {
      on: {
        RELEASE: { target: 'stopping', actions: 'clearWork' },
        KILL: 'stopping.reportDeath',
        DRAIN: { actions: 'markDraining' },
        IDLE: { guard: 'draining', target: 'pausing' },
        STOP: { target: 'stopping', actions: 'clearWork' },
        EXITED: { target: 'dead', actions: { type: 'reportDied', params: death } },
      },
    },
    hostingActor: {
      entry: { type: 'hostActor', params: ({ context }) => context.assignment as ActorAssignment },
      on: {
        KILL: 'stopping.reportDeath',
        DRAIN: { actions: 'markDraining' },
        IDLE: { guard: 'draining', target: 'pausing' },
        STOP: { target: 'stopping', actions: 'clearWork' },
        EXITED: { target: 'dead', actions: { type: 'reportDied', params: death } },
      },
    },
    /** Drain: the worker is between tasks; it stops taking messages, then its work goes back. */
    pausing: {
      entry: 'pauseIntake',
      on: {
        PAUSED: [
          // The actor is stopped; it restarts elsewhere if its restarts allow.
          { guard: 'hasActor', target: 'stopping.reportDeath', actions: 'markDrained' },
          // The owner hears lease-lost and moves its queued work elsewhere.
          { guard: 'hasLease', target: 'stopping', actions: [{ type: 'revokeLease', params: ({ context }) => context.assignment as TaskAssignment }, 'clearWork'] },
          { target: 'stopping' },
        ],
        RELEASE: { target: 'stopping', actions: 'clearWork' },
        KILL: 'stopping.reportDeath',
        STOP: { target: 'stopping', actions: 'clearWork' },
        EXITED: { target: 'dead', actions: { type: 'reportDied', params: death } },
      },
    },
    /** The process is being killed; what its exit reports depends on why. */
    stopping: {
      entry: 'kill',
      initial: 'quiet',
      on: {
        // The node stops: nothing is reported any more.
        STOP: { target: '.quiet', actions: 'clearWork' },
      },
      states: {
        /** Stopped on purpose (reaped, released while draining, start failed): not reported. */
        quiet: { on: { EXITED: '#workerProcess.dead' } },
        /** Killed at the broker's request, or an actor stopped by a drain: reported as a death. */
        reportDeath: { on: { EXITED: { target: '#workerProcess.dead', actions: { type: 'reportDied', params: death } } } },
        /** Killed before it was ready: the work it was started for fails. */
        failStart: {
          on: {
            EXITED: {
              target: '#workerProcess.dead',
              actions: { type: 'reportStartFailed', params: ({ context, event }) => failure(context, diedStartingError(context, exitReason(event), true)) },
            },
          },
        },
      },
    },
    dead: { type: 'final', entry: ['clearWork', 'released'] },
  },
});

/** The states a worker process can be in (top level). */
export type WorkerProcessState = 'starting' | 'idle' | 'leased' | 'retiring' | 'hostingActor' | 'pausing' | 'stopping' | 'dead';

/** XState's clock on raybus's: create the machine's actor with it (`createActor(m, { clock })`). */
export function machineClock(clock: Clock): { setTimeout(fn: () => void, ms: number): Timer; clearTimeout(timer: Timer): void } {
  return { setTimeout: (fn, ms) => clock.setTimeout(fn, ms), clearTimeout: (timer) => clock.clear(timer) };
}
