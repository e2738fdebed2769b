/**
 * The worker process lifecycle (src/node/worker-process.machine.ts), transition by
 * transition, without processes: effects are recorded, the start timeout runs on a
 * SimulatedClock. Ray's counterpart is the raylet's WorkerPool (worker_pool_test.cc: start
 * timeouts, idle workers, runtime env setup failures).
 */
import { createActor } from 'xstate';
import {
  machineClock,
  workerProcessMachine,
  type ActorAssignment,
  type TaskAssignment,
  type WorkerProcessEvent,
  type WorkerProcessInput,
} from '../../../src/node/worker-process.machine';
import { SimulatedClock } from '../../../src/util/simulated-clock';
import { RuntimeEnvSetupError, WorkerCrashedError } from '../../../src/errors/ray-errors';
import type { ActorId, LeaseId, NodeId, ReplyQueue, RequestId, WorkerId } from '../../../src/protocol/ids';
import type { ActorSpec } from '../../../src/protocol/wire';

const LEASE = 'g1@n1' as LeaseId;

const lease = (id: LeaseId = LEASE): TaskAssignment => ({
  kind: 'lease',
  lease: id,
  owner: 'raybus.reply.driver-x' as ReplyQueue,
  req: 'r1' as RequestId,
  report: { lease: id, worker: 'w1' as WorkerId, demand: { CPU: 1 }, gpuIds: [] },
});

const actor = (): ActorAssignment => {
  const spec = { actorId: 'a1' as ActorId } as ActorSpec;
  return {
    kind: 'actor',
    lease: 'g2@n1' as LeaseId,
    actor: spec.actorId,
    host: { t: 'host-actor', spec, restart: false, nodeId: 'n1' as NodeId },
    report: { lease: 'g2@n1' as LeaseId, worker: 'w1' as WorkerId, demand: {}, gpuIds: [], actor: spec },
  };
};

type Call = [string, unknown?];

function start(input: Partial<WorkerProcessInput> = {}) {
  const clock = new SimulatedClock();
  const calls: Call[] = [];
  const m = createActor(
    workerProcessMachine.provide({
      actions: {
        grantLease: (_, a: TaskAssignment) => calls.push(['grantLease', a.lease]),
        hostActor: (_, a: ActorAssignment) => calls.push(['hostActor', a.actor]),
        returnToPool: () => calls.push(['returnToPool']),
        leavePool: () => calls.push(['leavePool']),
        pauseIntake: () => calls.push(['pauseIntake']),
        revokeLease: (_, a: TaskAssignment) => calls.push(['revokeLease', a.lease]),
        kill: () => calls.push(['kill']),
        reportStartFailed: (_, f) => calls.push(['reportStartFailed', { lease: f.assignment?.lease, error: f.error }]),
        reportDied: (_, d) => calls.push(['reportDied', { lease: d.assignment?.lease, actor: d.assignment?.kind === 'actor' ? d.assignment.actor : undefined, reason: d.reason }]),
        released: () => calls.push(['released']),
      },
    }),
    {
      input: { workerId: 'w1' as WorkerId, nodeId: 'n1' as NodeId, defaultEnv: true, dedicated: false, startTimeoutMs: 1000, ...input },
      clock: machineClock(clock),
    },
  );
  m.start();
  const names = (): string[] => calls.map(([n]) => n);
  const send = (...events: WorkerProcessEvent[]): void => events.forEach((e) => m.send(e));
  const state = (): unknown => m.getSnapshot().value;
  const reset = (): void => void calls.splice(0);
  const find = (name: string): unknown[] => calls.filter(([n]) => n === name).map(([, a]) => a);
  return { m, clock, calls, names, send, state, reset, find };
}

describe('worker process machine', () => {
  it('a prestarted worker becomes idle (pooled) once ready', () => {
    const w = start();
    expect(w.state()).toBe('starting');
    w.send({ type: 'READY' });
    expect(w.state()).toBe('idle');
    expect(w.names()).toEqual(['leavePool', 'returnToPool']);
  });

  it('work assigned while it starts is granted once it is ready (lease-granted, host-actor)', () => {
    const w = start({ assignment: lease() });
    expect(w.names()).toEqual([]);
    w.send({ type: 'READY' });
    expect(w.state()).toBe('leased');
    expect(w.find('grantLease')).toEqual([LEASE]);

    const a = start();
    a.send({ type: 'HOST_ACTOR', assignment: actor() }, { type: 'READY' });
    expect(a.state()).toBe('hostingActor');
    expect(a.find('hostActor')).toEqual(['a1']);
    expect(a.names()).not.toContain('returnToPool');
  });

  it('an idle worker takes a lease, and goes back to the pool when it is released', () => {
    const w = start();
    w.send({ type: 'READY' });
    w.reset();
    w.send({ type: 'LEASE', assignment: lease() });
    expect(w.state()).toBe('leased');
    expect(w.names()).toEqual(['leavePool', 'grantLease']);
    w.reset();
    w.send({ type: 'RELEASE' });
    expect(w.state()).toBe('idle');
    expect(w.names()).toEqual(['returnToPool']);
    expect(w.m.getSnapshot().context.assignment).toBeUndefined();
  });

  it('a worker dedicated to GPUs is stopped, not pooled, when its lease is released', () => {
    const w = start({ dedicated: true, assignment: lease() });
    w.send({ type: 'READY' }, { type: 'RELEASE' });
    expect(w.state()).toEqual({ stopping: 'quiet' });
    expect(w.names()).toEqual(['leavePool', 'grantLease', 'kill']);
    w.send({ type: 'EXITED', reason: 'killed by SIGKILL' });
    expect(w.state()).toBe('dead');
    expect(w.names()).not.toContain('reportDied');
    expect(w.names().at(-1)).toBe('released');
  });

  it('runtime env setup failure: the work fails with RuntimeEnvSetupError and the worker is stopped unreported', () => {
    const w = start({ defaultEnv: false, assignment: lease() });
    const err = new RuntimeEnvSetupError('no such module');
    w.send({ type: 'START_FAILED', error: err });
    expect(w.state()).toEqual({ stopping: 'quiet' });
    expect(w.find('reportStartFailed')).toEqual([{ lease: LEASE, error: err }]);
    expect(w.names()).toContain('kill');
    w.send({ type: 'EXITED', reason: 'exited with code 0' });
    expect(w.state()).toBe('dead');
    expect(w.find('reportStartFailed')).toHaveLength(1);
    expect(w.names()).not.toContain('reportDied');
    expect(w.names()).not.toContain('grantLease');
  });

  it('start timeout on the clock: a crash for the default env, RuntimeEnvSetupError for another', async () => {
    const d = start({ assignment: lease() });
    await d.clock.advance(999);
    expect(d.state()).toBe('starting');
    await d.clock.advance(1);
    expect(d.state()).toEqual({ stopping: 'quiet' });
    const [failed] = d.find('reportStartFailed') as Array<{ error: Error }>;
    expect(failed!.error).toBeInstanceOf(WorkerCrashedError);
    expect(failed!.error.message).toBe('The worker process did not start within 1000 ms.');

    const e = start({ defaultEnv: false, assignment: lease() });
    await e.clock.advance(1000);
    const [envFailed] = e.find('reportStartFailed') as Array<{ error: Error }>;
    expect(envFailed!.error).toBeInstanceOf(RuntimeEnvSetupError);
    expect(envFailed!.error.message).toMatch(/did not set up its runtime env within 1000 ms/);
  });

  it('getting ready cancels the start timeout', async () => {
    const w = start({ assignment: lease() });
    w.send({ type: 'READY' });
    await w.clock.advance(5000);
    expect(w.state()).toBe('leased');
    expect(w.names()).not.toContain('reportStartFailed');
    expect(w.clock.pending).toBe(0);
  });

  it('dying before ready fails the work: a crash for the default env, an env setup failure otherwise', () => {
    const d = start({ assignment: lease() });
    d.send({ type: 'EXITED', reason: 'worker process 7 exited with code 1' });
    expect(d.state()).toBe('dead');
    const [crash] = d.find('reportStartFailed') as Array<{ error: Error }>;
    expect(crash!.error).toBeInstanceOf(WorkerCrashedError);
    expect(crash!.error.message).toBe('The worker process died before it was ready: worker process 7 exited with code 1');

    const e = start({ defaultEnv: false, assignment: lease() });
    e.send({ type: 'EXITED', reason: 'worker process 8 exited with code 1' });
    const [envFailure] = e.find('reportStartFailed') as Array<{ error: Error }>;
    expect(envFailure!.error).toBeInstanceOf(RuntimeEnvSetupError);
  });

  it('killed by the broker while starting: the work fails as a crash (not an env failure) once it exited', () => {
    const w = start({ defaultEnv: false, assignment: lease() });
    w.send({ type: 'KILL' });
    expect(w.state()).toEqual({ stopping: 'failStart' });
    expect(w.names()).toEqual(['leavePool', 'kill']);
    w.send({ type: 'EXITED', reason: 'killed by SIGKILL' });
    const [crash] = w.find('reportStartFailed') as Array<{ error: Error }>;
    expect(crash!.error).toBeInstanceOf(WorkerCrashedError);
    expect(w.state()).toBe('dead');
  });

  it('a crash reports worker-died with its lease exactly once', () => {
    const w = start({ assignment: lease() });
    w.send({ type: 'READY' }, { type: 'EXITED', reason: 'worker process 9 was killed by SIGSEGV' });
    expect(w.state()).toBe('dead');
    expect(w.find('reportDied')).toEqual([{ lease: LEASE, actor: undefined, reason: 'worker process 9 was killed by SIGSEGV' }]);
    w.send({ type: 'EXITED', reason: 'again' });
    expect(w.find('reportDied')).toHaveLength(1);
    expect(w.find('released')).toHaveLength(1);
  });

  it('kill-worker: the death is reported with the actor once the process exited', () => {
    const w = start({ assignment: actor() });
    w.send({ type: 'READY' }, { type: 'KILL' });
    expect(w.state()).toEqual({ stopping: 'reportDeath' });
    expect(w.find('reportDied')).toEqual([]);
    w.send({ type: 'EXITED', reason: 'killed by SIGKILL' });
    expect(w.find('reportDied')).toEqual([{ lease: 'g2@n1', actor: 'a1', reason: 'killed by SIGKILL' }]);
  });

  it('maxCalls: a retiring worker is stopped when its lease is released, never pooled', () => {
    const w = start({ assignment: lease() });
    w.send({ type: 'READY' }, { type: 'RETIRING' });
    expect(w.state()).toBe('retiring');
    w.send({ type: 'RELEASE' });
    expect(w.state()).toEqual({ stopping: 'quiet' });
    w.send({ type: 'EXITED', reason: 'exited with code 0' });
    expect(w.names()).not.toContain('returnToPool');
    expect(w.names()).not.toContain('reportDied');
  });

  it('maxCalls: a retiring worker that exits holding its lease reports it (its queued tasks are retried)', () => {
    const w = start({ assignment: lease() });
    w.send({ type: 'READY' }, { type: 'RETIRING' }, { type: 'EXITED', reason: 'exited with code 0' });
    expect(w.find('reportDied')).toEqual([{ lease: LEASE, actor: undefined, reason: 'exited with code 0' }]);
  });

  it('drain: an idle worker stops; a leased one pauses once between tasks, then its lease is revoked', () => {
    const idle = start();
    idle.send({ type: 'READY' }, { type: 'DRAIN' });
    expect(idle.state()).toEqual({ stopping: 'quiet' });

    const w = start({ assignment: lease() });
    w.send({ type: 'READY' }, { type: 'IDLE' });
    // Not draining: being between tasks means nothing.
    expect(w.state()).toBe('leased');
    w.send({ type: 'DRAIN' });
    expect(w.state()).toBe('leased');
    w.send({ type: 'IDLE' });
    expect(w.state()).toBe('pausing');
    expect(w.names()).toContain('pauseIntake');
    w.send({ type: 'PAUSED' });
    expect(w.find('revokeLease')).toEqual([LEASE]);
    expect(w.state()).toEqual({ stopping: 'quiet' });
    expect(w.m.getSnapshot().context.assignment).toBeUndefined();
    w.send({ type: 'EXITED', reason: 'killed by SIGKILL' });
    expect(w.names()).not.toContain('reportDied');
  });

  it('drain: an actor is stopped and its death reported as drained (it restarts elsewhere)', () => {
    const w = start({ assignment: actor() });
    w.send({ type: 'READY' }, { type: 'DRAIN' }, { type: 'IDLE' }, { type: 'PAUSED' });
    expect(w.state()).toEqual({ stopping: 'reportDeath' });
    w.send({ type: 'EXITED', reason: 'killed by SIGKILL' });
    expect(w.find('reportDied')).toEqual([{ lease: 'g2@n1', actor: 'a1', reason: 'its node n1 was drained' }]);
  });

  it('drain: a lease released while draining stops the worker instead of pooling it', () => {
    const w = start({ assignment: lease() });
    w.send({ type: 'DRAIN' }, { type: 'READY' }, { type: 'RELEASE' });
    expect(w.state()).toEqual({ stopping: 'quiet' });
    expect(w.names()).not.toContain('returnToPool');
  });

  it('a lease released before the worker is ready leaves it in the pool, starting', () => {
    const w = start({ assignment: lease() });
    w.send({ type: 'RELEASE' });
    expect(w.state()).toBe('starting');
    expect(w.names()).toEqual(['returnToPool']);
    w.send({ type: 'READY' });
    expect(w.state()).toBe('idle');
    expect(w.names()).not.toContain('grantLease');
  });

  it('the node stopping silences a death that would have been reported', () => {
    const w = start({ assignment: lease() });
    w.send({ type: 'READY' }, { type: 'KILL' }, { type: 'STOP' });
    expect(w.state()).toEqual({ stopping: 'quiet' });
    w.send({ type: 'EXITED', reason: 'killed by SIGKILL' });
    expect(w.names()).not.toContain('reportDied');
    expect(w.find('kill')).toHaveLength(1);
  });
});
