/**
 * The owner's task table: Ray's task states as a task moves, and the bounded buffer of
 * finished tasks (Ray keeps `task_events_max_num_task_in_gcs` per cluster and reports the
 * number dropped; raybus keeps a ring per owner).
 */
import { TaskTable, taskItem, type TaskRecord } from '../../../src/observability/task-table';
import { encodeError, encodeTaskError } from '../../../src/serialization/error-codec';
import { WorkerCrashedError } from '../../../src/errors/ray-errors';

let now = 1000;
const table = (capacity?: number): TaskTable => new TaskTable(() => now, undefined, capacity);
const add = (t: TaskTable, id: string): TaskRecord => t.add({ taskId: id, name: 'f', type: 'NORMAL_TASK', jobId: 'j1' });

describe('TaskTable', () => {
  test('a task moves through the states an owner sees', () => {
    const t = table();
    const rec = add(t, 't1');
    expect(rec).toMatchObject({ state: 'PENDING_ARGS_AVAIL', attempt: 0, created: 1000 });
    t.queued(rec);
    expect(rec.state).toBe('PENDING_NODE_ASSIGNMENT');
    t.pushed(rec, 'n1', 'w1', false);
    expect(rec).toMatchObject({ state: 'SUBMITTED_TO_WORKER', nodeId: 'n1', workerId: 'w1' });
    now = 1500;
    t.running(rec);
    expect(rec).toMatchObject({ state: 'RUNNING', started: 1500 });
    now = 2000;
    t.finish(rec, undefined, 250_000);
    expect(rec).toMatchObject({ state: 'FINISHED', ended: 2000, started: 1750 });
    // Finished stays finished.
    t.queued(rec);
    t.running(rec);
    expect(rec.state).toBe('FINISHED');
  });

  test('pushed first in line is running; a retry counts its attempt', () => {
    const t = table();
    const rec = add(t, 't1');
    t.pushed(rec, 'n1', 'w1', true);
    expect(rec.state).toBe('RUNNING');
    t.queued(rec, 1);
    expect(rec).toMatchObject({ state: 'PENDING_NODE_ASSIGNMENT', attempt: 1 });
  });

  test('a failure keeps the error class and message (the cause of a task error)', () => {
    const t = table();
    const a = add(t, 't1');
    t.finish(a, encodeTaskError('f', 't1', new TypeError('bad input')));
    expect(taskItem(a)).toMatchObject({ state: 'FAILED', errorType: 'RayTaskError', errorMessage: 'TypeError: bad input' });
    const b = add(t, 't2');
    t.finish(b, encodeError(new WorkerCrashedError('the worker died')));
    expect(taskItem(b)).toMatchObject({ state: 'FAILED', errorType: 'WorkerCrashedError', errorMessage: 'the worker died' });
  });

  test('finished tasks are kept in a bounded ring whose evictions are counted', () => {
    const t = table(3);
    const recs = [1, 2, 3, 4, 5].map((i) => add(t, `t${i}`));
    for (const r of recs.slice(0, 4)) t.finish(r);
    expect([...t.records()].map((r) => r.taskId)).toEqual(['t5', 't2', 't3', 't4']);
    expect(t.dropped).toBe(1);
    expect(t.get('t1')).toBeUndefined();
    expect(t.get('t3')?.state).toBe('FINISHED');
    expect(t.get('t5')?.state).toBe('PENDING_ARGS_AVAIL');
  });

  test('summary counts by function and state, leaving creation tasks to the broker', () => {
    const t = table();
    const a = add(t, 't1');
    add(t, 't2');
    t.finish(a);
    t.add({ taskId: 'c1', name: 'A.m', type: 'ACTOR_TASK', jobId: 'j1', actorId: 'a1' });
    t.addUntracked({ taskId: 'a1', name: 'A.__init__', type: 'ACTOR_CREATION_TASK', jobId: 'j1', actorId: 'a1' });
    expect(t.summary()).toEqual({
      f: { funcOrClassName: 'f', type: 'NORMAL_TASK', stateCounts: { FINISHED: 1, PENDING_ARGS_AVAIL: 1 } },
      'A.m': { funcOrClassName: 'A.m', type: 'ACTOR_TASK', stateCounts: { PENDING_ARGS_AVAIL: 1 } },
    });
  });

  test('rows carry Ray\'s columns', () => {
    const t = table();
    now = 5000;
    const rec = t.add({ taskId: 't1', name: 'f', type: 'NORMAL_TASK', jobId: 'j1', parentTaskId: 'p1', resources: { CPU: 1 }, placementGroupId: 'pg1' });
    expect(taskItem(rec)).toEqual({
      taskId: 't1',
      attemptNumber: 0,
      name: 'f',
      state: 'PENDING_ARGS_AVAIL',
      jobId: 'j1',
      type: 'NORMAL_TASK',
      funcOrClassName: 'f',
      parentTaskId: 'p1',
      creationTimeMs: 5000,
      requiredResources: { CPU: 1 },
      placementGroupId: 'pg1',
    });
  });
});
