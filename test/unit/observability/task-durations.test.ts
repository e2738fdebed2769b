/**
 * Task durations counted by their owner into the fixed buckets of
 * `raybus_task_duration_seconds` as tasks finish (Prometheus's `le`: a duration on a bound
 * counts in that bucket), with the run time the worker measured when it sent one.
 */
import { TaskTable } from '../../../src/observability/task-table';
import { TASK_DURATION_BUCKETS_S } from '../../../src/protocol/state';

test('durations go into the bucket of their upper bound; the last bucket takes the longest', () => {
  let now = 0;
  const table = new TaskTable(() => now, undefined, 10);
  const run = (ms: number, us?: number): void => {
    const rec = table.add({ taskId: `t${now}`, name: 'f', type: 'NORMAL_TASK', jobId: 'j' });
    table.running(rec);
    now += ms;
    table.finish(rec, undefined, us);
  };
  run(1); // 0.001 s: on the first bound
  run(3); // 0.003 s
  run(0, 20_000); // the worker says it ran 20 ms
  run(400_000); // 400 s: beyond the last bound
  const d = table.durations();
  expect(d.counts).toHaveLength(TASK_DURATION_BUCKETS_S.length + 1);
  expect(d.counts[0]).toBe(1);
  expect(d.counts[TASK_DURATION_BUCKETS_S.indexOf(0.005)]).toBe(1);
  expect(d.counts[TASK_DURATION_BUCKETS_S.indexOf(0.025)]).toBe(1);
  expect(d.counts[TASK_DURATION_BUCKETS_S.length]).toBe(1);
  expect(d.count).toBe(4);
  expect(d.sum).toBeCloseTo(0.001 + 0.003 + 0.02 + 400, 6);
  // Failures count too; a copy is handed out.
  const rec = table.add({ taskId: 'x', name: 'f', type: 'NORMAL_TASK', jobId: 'j' });
  table.finish(rec, { name: 'Error', message: 'boom' });
  expect(table.durations().count).toBe(5);
  expect(d.count).toBe(4);
});
