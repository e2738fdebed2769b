/**
 * A normal task is one object from `.remote()` to its result: the submitter's task, the owner's
 * pending entry and the state API's record (core/normal-task.ts). What the tasks of one call site
 * share is one TaskKind. Submitted through the real `.remote()` into a CoreWorker on the
 * in-memory bus (simulated clock).
 */
import { settle, startCore, type Harness } from './core-harness';
import { slot } from '../../../src/core/runtime-state';
import { remote } from '../../../src/api/remote';
import { NormalTask } from '../../../src/core/normal-task';
import { taskItem } from '../../../src/observability/task-table';
import type { ObjectRef } from '../../../src/refs/object-ref';
import { taskOfObject, type ObjectId, type TaskId } from '../../../src/protocol/ids';

let h: Harness;
const saved = slot.core;
beforeEach(async () => {
  h = await startCore();
  slot.core = h.core;
});
afterEach(async () => {
  slot.core = saved;
  await h.stop();
});

/** The pending task behind a ref `.remote()` returned. */
function taskOf(ref: unknown): NormalTask {
  const id = taskOfObject((ref as ObjectRef<unknown>).hex() as ObjectId);
  const t = h.core.tasks.get(id);
  if (!(t instanceof NormalTask)) throw new Error(`no normal task pending for ${id}`);
  return t;
}

test('the task is its own pending entry and its own record, as the state API lists it', async () => {
  await h.clock.advance(1234);
  const f = remote(function addOne(x: number) {
    return x + 1;
  });
  const ref = f.remote(1);
  const task = taskOf(ref);
  expect(task.submitted).toBe(task);
  expect(h.core.taskTable.get(task.taskId)).toBe(task);
  expect(task.functionName).toBe('addOne');
  expect(task.dynamic).toBe(false);
  await settle();
  expect(taskItem(task)).toEqual({
    taskId: task.taskId,
    attemptNumber: 0,
    name: 'addOne',
    state: 'PENDING_NODE_ASSIGNMENT',
    jobId: 'job1',
    type: 'NORMAL_TASK',
    funcOrClassName: 'addOne',
    creationTimeMs: h.clock.now(),
    requiredResources: { CPU: 1 },
  });
  expect(task.created).toBe(1234);
});

test('tasks submitted alike share one kind; other options make another', () => {
  const f = remote(function g() {
    return 1;
  });
  const ref = f.remote();
  const a = taskOf(ref);
  const b = taskOf(f.remote());
  const c = taskOf(f.options({ numCpus: 2 }).remote());
  expect(a.kind).toBe(b.kind);
  expect(c.kind).not.toBe(a.kind);
  expect(c.demand).toEqual({ CPU: 2 });
  expect(a.demand).toEqual({ CPU: 1 });
  // What is the task's own: its ids, and what changes while it waits.
  expect(Object.keys(a).sort()).toEqual(['args', 'attempt', 'cancelled', 'kind', 'lease', 'ownReturnIds', 'sinceBase', 'state', 'taskId']);
  // The single return's id is made again, the same as the ref's.
  expect(a.returnIds).toEqual([(ref as ObjectRef<unknown>).hex()]);
  const two = taskOf((f.options({ numReturns: 2 }).remote() as unknown[])[0]);
  expect(two.returnIds).toHaveLength(2);
});

test('creation times come back exactly, near the start and far from it', () => {
  const kind = taskOf(
    remote(function k() {
      return 1;
    }).remote(),
  ).kind;
  const t = new NormalTask('t1' as TaskId, [], kind);
  for (const ms of [Date.now(), Date.now() + 30 * 86_400_000, Date.now() - 1.5, 0, 1_700_000_000_000.25]) {
    t.created = ms;
    expect(t.created).toBe(ms);
  }
});

test('a driver that prints no worker output asks it of each task through one silent twin of the kind', async () => {
  await h.stop();
  h = await startCore({ logToDriver: false });
  slot.core = h.core;
  const f = remote(function quiet() {
    return 1;
  });
  const a = taskOf(f.remote());
  const b = taskOf(f.remote());
  expect(a.ctx).toEqual({ jobId: 'job1', namespace: 'test', nolog: true });
  expect(b.kind).toBe(a.kind);
});
