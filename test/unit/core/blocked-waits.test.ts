/**
 * The worker's side of a blocked task (Ray's CoreWorkerMemoryStore::GetImpl notifying the
 * raylet with NotifyWorkerBlocked / NotifyWorkerUnblocked, only when
 * WorkerContext::ShouldReleaseResourcesOnBlockingCalls: a normal task, not a driver or an
 * actor): a wait longer than BLOCKED_NOTICE_AFTER_MS says "blocked" once per task, however
 * many waits overlap, and "unblocked" when the last ends (or the task does). Simulated time.
 */
import type { ActorId, LeaseId, TaskId } from '../../../src/protocol/ids';
import { BLOCKED_NOTICE_AFTER_MS, BlockedWaits, type WaitingTask } from '../../../src/core/blocked-waits';
import { SimulatedClock } from '../../../src/util/simulated-clock';

const ON_LEASE: WaitingTask = { taskId: 't1' as TaskId, actorId: null, lease: 'g1@n' as LeaseId };

/** `task`: what runs now (null: nothing, as on a driver). */
function setup(task: WaitingTask | null = ON_LEASE) {
  const clock = new SimulatedClock();
  const notices: string[] = [];
  const current: WaitingTask | undefined = task ?? undefined;
  const running = new Set<string>(task ? [task.taskId] : []);
  const waits = new BlockedWaits(
    clock,
    { blocked: (lease, t) => notices.push(`blocked ${lease} ${t}`), unblocked: (lease, t) => notices.push(`unblocked ${lease} ${t}`) },
    () => current,
    (t) => running.has(t),
  );
  return { clock, notices, waits, running };
}

test('a short wait costs nothing; a long one says blocked once and unblocked at its end', async () => {
  const { clock, notices, waits } = setup();
  const end = waits.enter()!;
  await clock.advance(BLOCKED_NOTICE_AFTER_MS - 1);
  end();
  await clock.advance(100);
  expect(notices).toEqual([]);

  const end2 = waits.enter()!;
  await clock.advance(BLOCKED_NOTICE_AFTER_MS);
  expect(notices).toEqual(['blocked g1@n t1']);
  end2();
  end2();
  expect(notices).toEqual(['blocked g1@n t1', 'unblocked g1@n t1']);
});

test('overlapping waits of one task: blocked once, unblocked when the last one ends', async () => {
  const { clock, notices, waits } = setup();
  const a = waits.enter()!;
  await clock.advance(5);
  const b = waits.enter()!;
  await clock.advance(BLOCKED_NOTICE_AFTER_MS);
  a();
  expect(notices).toEqual(['blocked g1@n t1']);
  const c = waits.enter()!;
  b();
  c();
  expect(notices).toEqual(['blocked g1@n t1', 'unblocked g1@n t1']);
});

test('a task that ends while it waits is unblocked; waits it left behind count for nothing', async () => {
  const { clock, notices, waits, running } = setup();
  const left = waits.enter()!;
  await clock.advance(BLOCKED_NOTICE_AFTER_MS);
  running.delete('t1');
  waits.taskEnded('t1' as TaskId);
  expect(notices).toEqual(['blocked g1@n t1', 'unblocked g1@n t1']);
  left();
  expect(waits.enter()).toBeUndefined();
  await clock.advance(100);
  expect(notices).toHaveLength(2);
});

test('drivers (no task), actor calls and calls without a lease release nothing', async () => {
  const cases: Array<WaitingTask | null> = [null, { taskId: 't1' as TaskId, actorId: 'a1' as ActorId, lease: 'g1@n' as LeaseId }, { taskId: 't1' as TaskId, actorId: null }];
  for (const task of cases) {
    const { clock, notices, waits } = setup(task);
    expect(waits.enter()).toBeUndefined();
    await clock.advance(100);
    expect(notices).toEqual([]);
  }
});
