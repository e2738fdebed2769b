/**
 * The querier's merge: slices of several holders paged by key as one list (no row skipped
 * or shown twice across pages), and what owners could not know filled in from the processes
 * that run the work and from the broker's actors.
 */
import { actorsToResolve, candidates, completeTasks, creationCounts, mergePage, mergeTaskSummary } from '../../../src/observability/state-merge';
import { selectSlice, type SliceQuery } from '../../../src/observability/state-query';
import type { StateAnswerMsg, StateSource } from '../../../src/protocol/messages/state';
import type { ActorItem, StateFilter, TaskItem } from '../../../src/protocol/state';
import type { RequestId, TaskId } from '../../../src/protocol/ids';

const task = (id: string, extra: Partial<TaskItem> = {}): TaskItem => ({
  taskId: id,
  attemptNumber: 0,
  name: 'f',
  state: 'FINISHED',
  jobId: 'j1',
  type: 'NORMAL_TASK',
  funcOrClassName: 'f',
  ...extra,
});

const owner = (id: string): StateSource => ({ kind: 'driver', id, pid: 1 });

function answer(from: StateSource, slice: { items: object[]; total: number; more: boolean }, extra: Partial<StateAnswerMsg> = {}): StateAnswerMsg {
  return { t: 'state-answer', req: 'r' as RequestId, from, ...slice, ...extra };
}

/** Every holder answers `q` from its rows; the querier merges one page. */
function page(holders: TaskItem[][], q: SliceQuery) {
  const answers = holders.map((rows, i) => answer(owner(`o${i}`), selectSlice('tasks', rows, q)));
  return mergePage('tasks', candidates('tasks', answers), answers, q);
}

describe('paging across holders', () => {
  test('pages of several owners together list every row once, in key order', () => {
    const a = Array.from({ length: 7 }, (_, i) => task(`a${i}`));
    const b = Array.from({ length: 5 }, (_, i) => task(`b${i}`));
    const c = [task('a3x'), task('b9')];
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const p = page([a, b, c], { filters: [], limit: 4, detail: false, ...(cursor ? { cursor } : {}) });
      expect(p.items.length).toBeLessThanOrEqual(4);
      seen.push(...p.items.map((r) => r.taskId));
      cursor = p.nextCursor ?? undefined;
      pages += 1;
    } while (cursor && pages < 20);
    expect(seen).toEqual([...a, ...b, ...c].map((r) => r.taskId).sort());
    expect(pages).toBe(4);
  });

  test('the last page has no cursor; totals and dropped add up', () => {
    const answers = [
      answer(owner('o1'), selectSlice('tasks', [task('a1'), task('a2')], { filters: [], limit: 10, detail: false }), { dropped: 3 }),
      answer(owner('o2'), selectSlice('tasks', [task('b1')], { filters: [], limit: 10, detail: false }), { dropped: 2 }),
    ];
    const p = mergePage('tasks', candidates('tasks', answers), answers, { filters: [], limit: 10, detail: false });
    expect(p).toMatchObject({ nextCursor: null, dropped: 5, total: 3 });
  });

  test('rows filtered out after the merge never let a page skip rows a holder did not send', () => {
    // Owner A sends 2 rows that fail the filter the querier applies (it could not judge them) and has more.
    const q: SliceQuery & { filters: StateFilter[] } = { filters: [['workerPid', '=', 7]], limit: 2, detail: false };
    const a = [task('a1', { workerId: 'w1' }), task('a2', { workerId: 'w1' }), task('a3', { workerId: 'w7' })];
    const b = [task('b1', { workerId: 'w7' })];
    const pids = [answer({ kind: 'worker', id: 'w1', pid: 1 }, { items: [], total: 0, more: false }), answer({ kind: 'worker', id: 'w7', pid: 7 }, { items: [], total: 0, more: false })];
    const collected: string[] = [];
    let cursor: string | undefined;
    for (let i = 0; i < 10; i++) {
      const answers = [
        ...[a, b].map((rows, j) => answer(owner(`o${j}`), selectSlice('tasks', rows, { ...q, ...(cursor ? { cursor } : {}) }, (_r, c) => c === 'workerPid'))),
        ...pids,
      ];
      const rows = candidates('tasks', answers);
      completeTasks(rows, answers);
      const p = mergePage('tasks', rows, answers, q);
      collected.push(...p.items.map((r) => r.taskId));
      if (!p.nextCursor) break;
      cursor = p.nextCursor;
    }
    expect(collected).toEqual(['a3', 'b1']);
  });
});

describe('what owners cannot know', () => {
  test('an actor call a worker runs is RUNNING there; pids come from the workers', () => {
    const rows = [
      task('c1', { type: 'ACTOR_TASK', state: 'SUBMITTED_TO_WORKER', actorId: 'a1', name: 'A.m' }),
      task('c2', { type: 'ACTOR_TASK', state: 'SUBMITTED_TO_WORKER', actorId: 'a1', name: 'A.m' }),
      task('t1', { state: 'RUNNING', nodeId: 'n1', workerId: 'w2' }),
    ];
    const answers = [
      answer({ kind: 'worker', id: 'w1', nodeId: 'n1' as never, pid: 11 }, { items: [], total: 0, more: false }, { running: [['c1' as TaskId, 'A.m']] }),
      answer({ kind: 'worker', id: 'w2', nodeId: 'n1' as never, pid: 22 }, { items: [], total: 0, more: false }),
    ];
    completeTasks(rows, answers);
    expect(rows[0]).toMatchObject({ state: 'RUNNING', workerId: 'w1', nodeId: 'n1', workerPid: 11 });
    expect(rows[1]).toMatchObject({ state: 'SUBMITTED_TO_WORKER' });
    expect(rows[2]).toMatchObject({ state: 'RUNNING', workerPid: 22 });
    expect(actorsToResolve(rows, answers)).toEqual(['a1']);
  });

  test('an actor creation goes as its actor did; calls without a worker take the actor\'s', () => {
    const actors = new Map<string, ActorItem>([
      ['a1', { actorId: 'a1', className: 'A', state: 'ALIVE', jobId: 'j1', rayNamespace: 'ns', numRestarts: 0, nodeId: 'n1', workerId: 'w1', pid: 11 }],
      ['a2', { actorId: 'a2', className: 'B', state: 'DEAD', jobId: 'j1', rayNamespace: 'ns', numRestarts: 0, deathCause: { reason: 'CREATION_TASK_FAILED', message: 'ctor threw' } }],
      ['a3', { actorId: 'a3', className: 'C', state: 'PENDING_CREATION', jobId: 'j1', rayNamespace: 'ns', numRestarts: 0 }],
    ]);
    const rows = [
      task('a1', { type: 'ACTOR_CREATION_TASK', state: 'PENDING_NODE_ASSIGNMENT', actorId: 'a1' }),
      task('a2', { type: 'ACTOR_CREATION_TASK', state: 'PENDING_NODE_ASSIGNMENT', actorId: 'a2' }),
      task('a3', { type: 'ACTOR_CREATION_TASK', state: 'PENDING_NODE_ASSIGNMENT', actorId: 'a3' }),
      task('c1', { type: 'ACTOR_TASK', actorId: 'a1' }),
    ];
    expect(actorsToResolve(rows, [])).toEqual(['a1', 'a2', 'a3']);
    completeTasks(rows, [], actors);
    expect(rows[0]).toMatchObject({ state: 'FINISHED', workerId: 'w1', workerPid: 11 });
    expect(rows[1]).toMatchObject({ state: 'FAILED', errorType: 'RayActorError', errorMessage: 'ctor threw' });
    expect(rows[2]).toMatchObject({ state: 'PENDING_NODE_ASSIGNMENT' });
    expect(rows[3]).toMatchObject({ state: 'FINISHED', workerId: 'w1', nodeId: 'n1', workerPid: 11 });
  });
});

describe('summaries', () => {
  test('owners\' counts add up; running actor calls move to RUNNING; creations come from actors', () => {
    const answers = [
      answer(owner('o1'), { items: [], total: 0, more: false }, {
        dropped: 4,
        summary: {
          f: { funcOrClassName: 'f', type: 'NORMAL_TASK', stateCounts: { FINISHED: 2, RUNNING: 1 } },
          'A.m': { funcOrClassName: 'A.m', type: 'ACTOR_TASK', stateCounts: { SUBMITTED_TO_WORKER: 2 } },
        },
      }),
      answer(owner('o2'), { items: [], total: 0, more: false }, { summary: { f: { funcOrClassName: 'f', type: 'NORMAL_TASK', stateCounts: { FAILED: 1 } } } }),
      answer({ kind: 'worker', id: 'w1', pid: 3 }, { items: [], total: 0, more: false }, { running: [['c1' as TaskId, 'A.m']] }),
    ];
    const creations = creationCounts({ A: { ALIVE: 2, DEAD: 1, creationFailed: 1 }, B: { PENDING_CREATION: 1 } });
    const s = mergeTaskSummary(answers, creations);
    expect(s.summary.f!.stateCounts).toEqual({ FINISHED: 2, RUNNING: 1, FAILED: 1 });
    expect(s.summary['A.m']!.stateCounts).toEqual({ SUBMITTED_TO_WORKER: 1, RUNNING: 1 });
    expect(s.summary['A.__init__']).toEqual({ funcOrClassName: 'A.__init__', type: 'ACTOR_CREATION_TASK', stateCounts: { FINISHED: 2, FAILED: 1 } });
    expect(s.summary['B.__init__']!.stateCounts).toEqual({ PENDING_NODE_ASSIGNMENT: 1 });
    expect(s).toMatchObject({ totalTasks: 4, totalActorTasks: 2, totalActorScheduled: 4, summaryBy: 'func_name', dropped: 4 });
  });
});
