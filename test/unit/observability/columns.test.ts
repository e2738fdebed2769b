/** The ring columns behind the finished-task buffer and the timeline: rows written into typed arrays, ids kept as (prefix, counter). */
import { ColumnRing, IdColumn, NumberColumn } from '../../../src/observability/columns';
import { idCounter, joinId, newIdSource, type TaskId } from '../../../src/protocol/ids';
import { TaskTable } from '../../../src/observability/task-table';

test('unique ids round-trip through their prefix and counter; other strings are kept whole', () => {
  const a = newIdSource('aaaaaaaaaaaa');
  const b = newIdSource('bbbbbbbbbbbb');
  const ids = [a.next<TaskId>(), b.next<TaskId>(), a.next<TaskId>(), 'not-an-id', `${a.next<TaskId>()}0001`, 'cccccccccccc00000000ff'];
  const col = new IdColumn();
  col.grow(16);
  ids.forEach((id, row) => col.set(row, id));
  expect(ids.map((_, row) => col.get(row))).toEqual(ids);
  expect(idCounter('aaaaaaaaaaaa000000001f', 'aaaaaaaaaaaa')).toBe(31);
  expect(idCounter('aaaaaaaaaaaa00000000zz', 'aaaaaaaaaaaa')).toBe(-1);
  expect(joinId('aaaaaaaaaaaa', 31)).toBe('aaaaaaaaaaaa000000001f');
});

test('a ring of columns grows to its capacity, then overwrites the oldest rows and counts them', () => {
  const values = new NumberColumn();
  const ring = new ColumnRing(3000, [values]);
  for (let i = 0; i < 3500; i++) values.values[ring.next()] = i;
  expect(ring.size).toBe(3000);
  expect(ring.dropped).toBe(500);
  const rows = [...ring.rows()].map((r) => values.values[r]);
  expect(rows[0]).toBe(500);
  expect(rows[rows.length - 1]).toBe(3499);
  expect(() => new ColumnRing(0, [])).toThrow(/capacity must be an integer >= 1/);
});

test('finished tasks come back from the columns with every field', () => {
  let now = 10;
  const table = new TaskTable(() => now, undefined, 2);
  const ids = newIdSource('0123456789ab');
  const recs = [1, 2, 3].map((i) => table.add({ taskId: ids.next<TaskId>(), name: `f${i}`, type: i === 3 ? 'ACTOR_TASK' : 'NORMAL_TASK', jobId: 'j', actorId: i === 3 ? 'actor' : undefined, resources: { CPU: i } }));
  table.pushed(recs[0], 'node', 'worker', true);
  now = 20;
  table.finish(recs[0], undefined, 4000);
  table.finish(recs[1], { name: 'WorkerCrashedError', message: 'died', rayClass: 'WorkerCrashedError' });
  table.finish(recs[2]);
  const back = [...table.records()];
  expect(table.dropped).toBe(1);
  expect(back).toEqual([
    { taskId: recs[1]!.taskId, name: 'f2', type: 'NORMAL_TASK', jobId: 'j', state: 'FAILED', attempt: 0, created: 10, started: 20, ended: 20, errorType: 'WorkerCrashedError', errorMessage: 'died', resources: { CPU: 2 } },
    { taskId: recs[2]!.taskId, name: 'f3', type: 'ACTOR_TASK', jobId: 'j', state: 'FINISHED', attempt: 0, created: 10, started: 20, ended: 20, actorId: 'actor', resources: { CPU: 3 } },
  ]);
  expect(table.get(recs[2]!.taskId)).toMatchObject({ name: 'f3', state: 'FINISHED' });
  expect(table.get(recs[0]!.taskId)).toBeUndefined();
});
