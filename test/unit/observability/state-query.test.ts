/**
 * Options of the state API (Ray's `ray.util.state` list functions: `filters`, `limit`,
 * `detail`) checked where they are given, and each holder's slice: filtered, after the
 * cursor, sorted by key, cut to the limit.
 */
import { DEFAULT_LIMIT, MAX_LIMIT, resolveListOptions, selectSlice, withoutDetail, matches } from '../../../src/observability/state-query';
import type { TaskItem } from '../../../src/protocol/state';

const task = (id: string, state: TaskItem['state'] = 'FINISHED', extra: Partial<TaskItem> = {}): TaskItem => ({
  taskId: id,
  attemptNumber: 0,
  name: 'f',
  state,
  jobId: 'j1',
  type: 'NORMAL_TASK',
  funcOrClassName: 'f',
  creationTimeMs: 1,
  ...extra,
});

describe('resolveListOptions', () => {
  test('defaults: no filters, limit 100, no detail', () => {
    expect(resolveListOptions('tasks', undefined, 'listTasks')).toEqual({ filters: [], limit: DEFAULT_LIMIT, detail: false });
    expect(resolveListOptions('tasks', {}, 'listTasks')).toEqual({ filters: [], limit: 100, detail: false });
  });

  test('accepts filters by camelCase or Ray snake_case column', () => {
    const q = resolveListOptions('tasks', { filters: [['state', '=', 'RUNNING'], ['task_id', '!=', 'x']], limit: 5, detail: true, cursor: 'abc', timeout: 2 }, 'listTasks');
    expect(q).toEqual({ filters: [['state', '=', 'RUNNING'], ['taskId', '!=', 'x']], limit: 5, detail: true, cursor: 'abc', timeoutMs: 2000 });
  });

  test('every misuse throws synchronously, naming the argument', () => {
    const bad = (o: unknown): (() => unknown) => () => resolveListOptions('tasks', o, 'listTasks');
    expect(bad(5)).toThrow(/listTasks: options must be an object/);
    expect(bad({ limits: 5 })).toThrow(/unknown option 'limits'. Valid options: filters, limit, detail, cursor/);
    expect(bad({ limit: 0 })).toThrow(/'limit' must be an integer from 1 to 10000/);
    expect(bad({ limit: MAX_LIMIT + 1 })).toThrow(RangeError);
    expect(bad({ limit: 2.5 })).toThrow(/'limit'/);
    expect(bad({ detail: 'yes' })).toThrow(/'detail' must be a boolean/);
    expect(bad({ cursor: 5 })).toThrow(/'cursor'/);
    expect(bad({ timeoutMs: -1 })).toThrow(/'timeoutMs' must be a number > 0/);
    expect(bad({ timeoutMs: 1, timeout: 1 })).toThrow(/either 'timeoutMs' or 'timeout'/);
    expect(bad({ filters: 'state=RUNNING' })).toThrow(/'filters' must be an array/);
    expect(bad({ filters: [['state', 'RUNNING']] })).toThrow(/filters\[0\] must be \[column, '=' \| '!=', value\]/);
    expect(bad({ filters: [['state', '>', 'RUNNING']] })).toThrow(/filters\[0\]\[1\] must be '=' or '!='/);
    expect(bad({ filters: [['state', '=', {}]] })).toThrow(/filters\[0\]\[2\] must be a string, number or boolean/);
    expect(bad({ filters: [[1, '=', 'x']] })).toThrow(/filters\[0\]\[0\] must be a column name/);
  });

  test('unknown filter columns are listed with the valid ones', () => {
    expect(() => resolveListOptions('actors', { filters: [['colour', '=', 'red'], ['size', '=', 1], ['state', '=', 'ALIVE']] }, 'listActors')).toThrow(
      /listActors: unknown filter columns 'colour', 'size'. Columns of actors: actorId, className, state,/,
    );
  });
});

describe('filters', () => {
  test('compare as strings; states regardless of case; a missing value is empty', () => {
    expect(matches(task('t1', 'RUNNING') as never, [['state', '=', 'running']])).toBe(true);
    expect(matches(task('t1', 'RUNNING') as never, [['state', '!=', 'RUNNING']])).toBe(false);
    expect(matches(task('t1', 'RUNNING', { workerPid: 42 }) as never, [['workerPid', '=', '42']])).toBe(true);
    expect(matches(task('t1') as never, [['actorId', '=', '']])).toBe(true);
    expect(matches(task('t1', 'RUNNING', { name: 'Fn' }) as never, [['name', '=', 'fn']])).toBe(false);
  });
});

describe('selectSlice', () => {
  const rows = ['t5', 't1', 't4', 't2', 't3'].map((id, i) => task(id, i % 2 ? 'RUNNING' : 'FINISHED', { errorMessage: 'detail only' }));

  test('sorted by key, after the cursor, at most limit, with the total that matched', () => {
    const first = selectSlice('tasks', rows, { filters: [], limit: 2, detail: false });
    expect(first.items.map((r) => r.taskId)).toEqual(['t1', 't2']);
    expect(first).toMatchObject({ total: 5, more: true });
    const next = selectSlice('tasks', rows, { filters: [], limit: 2, detail: false, cursor: 't2' });
    expect(next.items.map((r) => r.taskId)).toEqual(['t3', 't4']);
    const last = selectSlice('tasks', rows, { filters: [], limit: 2, detail: false, cursor: 't4' });
    expect(last).toMatchObject({ more: false });
    expect(last.items.map((r) => r.taskId)).toEqual(['t5']);
  });

  test('filters, and detail columns only when asked for', () => {
    const running = selectSlice('tasks', rows, { filters: [['state', '=', 'RUNNING']], limit: 10, detail: false });
    expect(running.items.map((r) => r.taskId)).toEqual(['t1', 't2']);
    expect(running.items[0]).not.toHaveProperty('errorMessage');
    expect(running.items[0]).not.toHaveProperty('creationTimeMs');
    const detailed = selectSlice('tasks', rows, { filters: [['state', '=', 'RUNNING']], limit: 10, detail: true });
    expect(detailed.items[0]).toHaveProperty('errorMessage', 'detail only');
  });

  test('a holder may leave filters it cannot judge to the querier', () => {
    const s = selectSlice('tasks', rows, { filters: [['workerPid', '=', 7]], limit: 10, detail: false }, (_r, c) => c === 'workerPid');
    expect(s.total).toBe(5);
  });

  test('withoutDetail keeps the base columns', () => {
    expect(withoutDetail('tasks', task('t1', 'FAILED', { errorType: 'E', errorMessage: 'm', endTimeMs: 3 }))).toEqual({
      taskId: 't1',
      attemptNumber: 0,
      name: 'f',
      state: 'FAILED',
      jobId: 'j1',
      type: 'NORMAL_TASK',
      funcOrClassName: 'f',
      errorType: 'E',
    });
  });
});
