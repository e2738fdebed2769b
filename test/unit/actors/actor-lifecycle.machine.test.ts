import { createActor } from 'xstate';
import { actorLifecycleMachine } from '../../../src/actors/actor-lifecycle.machine';

function start(maxRestarts: number) {
  const calls: string[] = [];
  const actor = createActor(
    actorLifecycleMachine.provide({
      actions: {
        scheduleCreation: () => calls.push('create'),
        scheduleRestart: () => calls.push('restart'),
        onAlive: () => calls.push('alive'),
        onDead: () => calls.push('dead'),
      },
    }),
    { input: { actorId: 'a1', maxRestarts } },
  );
  actor.start();
  return { actor, calls, state: () => actor.getSnapshot().value, ctx: () => actor.getSnapshot().context };
}

describe('actor lifecycle machine', () => {
  it('starts in PENDING_CREATION and schedules creation', () => {
    const m = start(0);
    expect(m.state()).toBe('PENDING_CREATION');
    expect(m.calls).toEqual(['create']);
  });

  it('PENDING_CREATION -> ALIVE on CREATED', () => {
    const m = start(0);
    m.actor.send({ type: 'CREATED' });
    expect(m.state()).toBe('ALIVE');
    expect(m.calls).toEqual(['create', 'alive']);
  });

  it('constructor failure is DEAD with cause init_failed, never restarted', () => {
    const m = start(5);
    m.actor.send({ type: 'INIT_FAILED', message: 'boom' });
    expect(m.state()).toBe('DEAD');
    expect(m.ctx().deathCause).toBe('init_failed');
    expect(m.calls).toEqual(['create', 'dead']);
  });

  // Ray: test_actor_failures.py::test_actor_restart (restart count bounded by max_restarts)
  it('a crash restarts while maxRestarts allows, then dies', () => {
    const m = start(2);
    m.actor.send({ type: 'CREATED' });
    m.actor.send({ type: 'CRASHED', message: 'sigkill' });
    expect(m.state()).toBe('RESTARTING');
    m.actor.send({ type: 'CREATED' });
    m.actor.send({ type: 'CRASHED', message: 'sigkill' });
    expect(m.state()).toBe('RESTARTING');
    m.actor.send({ type: 'CREATED' });
    m.actor.send({ type: 'CRASHED', message: 'sigkill' });
    expect(m.state()).toBe('DEAD');
    expect(m.ctx().numRestarts).toBe(2);
    expect(m.ctx().deathCause).toBe('crashed');
    expect(m.calls).toEqual(['create', 'alive', 'restart', 'alive', 'restart', 'alive', 'dead']);
  });

  it('maxRestarts -1 restarts forever', () => {
    const m = start(-1);
    m.actor.send({ type: 'CREATED' });
    for (let i = 0; i < 50; i++) {
      m.actor.send({ type: 'CRASHED', message: 'x' });
      expect(m.state()).toBe('RESTARTING');
      m.actor.send({ type: 'CREATED' });
    }
    expect(m.state()).toBe('ALIVE');
    expect(m.ctx().numRestarts).toBe(50);
  });

  it('a crash while RESTARTING counts another restart', () => {
    const m = start(1);
    m.actor.send({ type: 'CREATED' });
    m.actor.send({ type: 'CRASHED', message: 'x' });
    m.actor.send({ type: 'CRASHED', message: 'again' });
    expect(m.state()).toBe('DEAD');
  });

  it('kill with noRestart is final even with restarts left', () => {
    const m = start(3);
    m.actor.send({ type: 'CREATED' });
    m.actor.send({ type: 'KILLED', noRestart: true, message: 'killed' });
    expect(m.state()).toBe('DEAD');
    expect(m.ctx().deathCause).toBe('killed');
  });

  it('kill with noRestart: false restarts when allowed', () => {
    const m = start(1);
    m.actor.send({ type: 'CREATED' });
    m.actor.send({ type: 'KILLED', noRestart: false, message: 'killed' });
    expect(m.state()).toBe('RESTARTING');
    m.actor.send({ type: 'CREATED' });
    m.actor.send({ type: 'KILLED', noRestart: false, message: 'killed' });
    expect(m.state()).toBe('DEAD');
  });

  it('intentional exit and owner death are never restarted', () => {
    const a = start(5);
    a.actor.send({ type: 'CREATED' });
    a.actor.send({ type: 'EXITED', message: 'exitActor' });
    expect(a.state()).toBe('DEAD');
    expect(a.ctx().deathCause).toBe('exited');
    const b = start(5);
    b.actor.send({ type: 'CREATED' });
    b.actor.send({ type: 'OWNER_DIED', message: 'owner gone' });
    expect(b.state()).toBe('DEAD');
    expect(b.ctx().deathCause).toBe('owner_died');
  });

  it('a name clash or unschedulable placement kills a pending actor', () => {
    const a = start(5);
    a.actor.send({ type: 'NAME_TAKEN', message: 'taken' });
    expect(a.ctx().deathCause).toBe('name_taken');
    const b = start(5);
    b.actor.send({ type: 'UNSCHEDULABLE', message: 'no node' });
    expect(b.ctx().deathCause).toBe('unschedulable');
    expect(b.ctx().deathMessage).toBe('no node');
  });

  it('DEAD is final: later events change nothing', () => {
    const m = start(5);
    m.actor.send({ type: 'INIT_FAILED', message: 'x' });
    m.actor.send({ type: 'CREATED' });
    expect(m.state()).toBe('DEAD');
    expect(m.actor.getSnapshot().status).toBe('done');
  });
});
