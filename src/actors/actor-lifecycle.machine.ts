/**
 * The actor lifecycle as an XState machine: PENDING_CREATION → ALIVE → RESTARTING → ALIVE …
 * → DEAD. Effects are named actions supplied by the registry with `machine.provide()`, so
 * the machine is tested without processes or a bus.
 */
import { assign, setup } from 'xstate';

/** Why an actor is dead. */
export type DeathCause = 'init_failed' | 'killed' | 'exited' | 'crashed' | 'owner_died' | 'name_taken' | 'unschedulable';

export interface ActorLifecycleContext {
  readonly actorId: string;
  /** -1 = infinite. */
  readonly maxRestarts: number;
  numRestarts: number;
  deathCause?: DeathCause;
  deathMessage?: string;
}

export type ActorLifecycleEvent =
  | { type: 'CREATED' }
  | { type: 'INIT_FAILED'; message: string }
  | { type: 'CRASHED'; message: string }
  | { type: 'KILLED'; noRestart: boolean; message: string }
  | { type: 'EXITED'; message: string }
  | { type: 'OWNER_DIED'; message: string }
  | { type: 'UNSCHEDULABLE'; message: string }
  | { type: 'NAME_TAKEN'; message: string };

export interface ActorLifecycleInput {
  actorId: string;
  maxRestarts: number;
}

const canRestart = ({ context }: { context: ActorLifecycleContext }): boolean =>
  context.maxRestarts === -1 || context.numRestarts < context.maxRestarts;

/** The lifecycle machine. Provide `scheduleCreation`, `scheduleRestart`, `onAlive`, `onDead`. */
export const actorLifecycleMachine = setup({
  types: {
    context: {} as ActorLifecycleContext,
    events: {} as ActorLifecycleEvent,
    input: {} as ActorLifecycleInput,
  },
  actions: {
    scheduleCreation: () => undefined,
    scheduleRestart: () => undefined,
    onAlive: () => undefined,
    onDead: () => undefined,
    countRestart: assign({ numRestarts: ({ context }) => context.numRestarts + 1 }),
    recordDeath: assign(({ event }) => {
      const cause: Record<ActorLifecycleEvent['type'], DeathCause> = {
        CREATED: 'crashed',
        INIT_FAILED: 'init_failed',
        CRASHED: 'crashed',
        KILLED: 'killed',
        EXITED: 'exited',
        OWNER_DIED: 'owner_died',
        UNSCHEDULABLE: 'unschedulable',
        NAME_TAKEN: 'name_taken',
      };
      return { deathCause: cause[event.type], deathMessage: 'message' in event ? event.message : undefined };
    }),
  },
  guards: {
    canRestart,
    killCanRestart: ({ context, event }) => event.type === 'KILLED' && !event.noRestart && canRestart({ context }),
  },
}).createMachine({
  id: 'actorLifecycle',
  initial: 'PENDING_CREATION',
  context: ({ input }) => ({ actorId: input.actorId, maxRestarts: input.maxRestarts, numRestarts: 0 }),
  states: {
    PENDING_CREATION: {
      entry: 'scheduleCreation',
      on: {
        CREATED: 'ALIVE',
        INIT_FAILED: { target: 'DEAD', actions: 'recordDeath' },
        // A crash before the constructor finished is a crash like any other.
        CRASHED: [{ guard: 'canRestart', target: 'RESTARTING', actions: 'countRestart' }, { target: 'DEAD', actions: 'recordDeath' }],
        KILLED: [{ guard: 'killCanRestart', target: 'RESTARTING', actions: 'countRestart' }, { target: 'DEAD', actions: 'recordDeath' }],
        OWNER_DIED: { target: 'DEAD', actions: 'recordDeath' },
        UNSCHEDULABLE: { target: 'DEAD', actions: 'recordDeath' },
        NAME_TAKEN: { target: 'DEAD', actions: 'recordDeath' },
      },
    },
    ALIVE: {
      entry: 'onAlive',
      on: {
        CRASHED: [{ guard: 'canRestart', target: 'RESTARTING', actions: 'countRestart' }, { target: 'DEAD', actions: 'recordDeath' }],
        KILLED: [{ guard: 'killCanRestart', target: 'RESTARTING', actions: 'countRestart' }, { target: 'DEAD', actions: 'recordDeath' }],
        EXITED: { target: 'DEAD', actions: 'recordDeath' },
        OWNER_DIED: { target: 'DEAD', actions: 'recordDeath' },
      },
    },
    RESTARTING: {
      entry: 'scheduleRestart',
      on: {
        CREATED: 'ALIVE',
        // The constructor failing on a restart ends the actor: restarts never retry init errors.
        INIT_FAILED: { target: 'DEAD', actions: 'recordDeath' },
        CRASHED: [{ guard: 'canRestart', target: 'RESTARTING', reenter: true, actions: 'countRestart' }, { target: 'DEAD', actions: 'recordDeath' }],
        KILLED: [{ guard: 'killCanRestart', target: 'RESTARTING', reenter: true, actions: 'countRestart' }, { target: 'DEAD', actions: 'recordDeath' }],
        OWNER_DIED: { target: 'DEAD', actions: 'recordDeath' },
        UNSCHEDULABLE: { target: 'DEAD', actions: 'recordDeath' },
      },
    },
    DEAD: { type: 'final', entry: 'onDead' },
  },
});
