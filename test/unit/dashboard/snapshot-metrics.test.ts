/**
 * What the dashboard makes of one poll: overview numbers (nodes, resources used of total,
 * tasks and actors by state, waiting work, the oldest waiting task), functions with their
 * latest failures, mailbox depths, refusals; and the Prometheus series made from it — names,
 * states and reasons as labels, never ids.
 */
import { buildSnapshot, oldestWaiting, type PollResults } from '../../../src/dashboard/snapshot';
import { DashboardMetrics } from '../../../src/dashboard/metrics';
import type { ClusterState } from '../../../src/protocol/wire';
import type { TaskItem } from '../../../src/protocol/state';

const state = {
  leader: { epoch: 'e1', electedAt: 1, malformed: 1 },
  nodes: [
    { nodeId: 'n1', alive: true, draining: false, resources: { CPU: 4, GPU: 1 }, available: { CPU: 1, GPU: 1 }, labels: {}, refused: { 'bad seal (another cluster key, or altered)': 3 } },
    { nodeId: 'n2', alive: true, draining: true, resources: { CPU: 2 }, available: { CPU: 2 }, labels: {} },
    { nodeId: 'n3', alive: false, draining: false, resources: { CPU: 8 }, available: {}, labels: {}, malformed: 2 },
  ],
  actors: [],
  leases: [
    { lease: 'l1', nodeId: 'n1', demand: { CPU: 1 } },
    { lease: 'l2', nodeId: 'n1', demand: { CPU: 1 }, actorId: 'a1' },
  ],
  pending: [
    { id: 'p1', kind: 'task', description: 'f', demand: { CPU: 1 }, infeasible: false },
    { id: 'p2', kind: 'actor', description: 'Big', demand: { GPU: 8 }, infeasible: true },
  ],
  placementGroups: {},
} as unknown as ClusterState;

const task = (id: string, extra: Partial<TaskItem>): TaskItem => ({ taskId: id, attemptNumber: 0, name: 'f', state: 'FINISHED', jobId: 'j', type: 'NORMAL_TASK', funcOrClassName: 'f', ...extra });

const results: PollResults = {
  state,
  actors: [
    { actorId: 'a1', className: 'Counter', state: 'ALIVE', jobId: 'j', rayNamespace: 'ns', numRestarts: 0 },
    { actorId: 'a2', className: 'Counter', state: 'DEAD', jobId: 'j', rayNamespace: 'ns', numRestarts: 1, deathCause: { reason: 'RAY_KILL', message: 'killed by ray.kill' } },
  ],
  actorSummary: { summary: { Counter: { className: 'Counter', stateCounts: { ALIVE: 1, DEAD: 1 } } }, totalActors: 2, summaryBy: 'class' },
  summary: {
    summary: {
      f: { funcOrClassName: 'f', type: 'NORMAL_TASK', stateCounts: { FINISHED: 5, FAILED: 2, RUNNING: 1 } },
      'Counter.add': { funcOrClassName: 'Counter.add', type: 'ACTOR_TASK', stateCounts: { FINISHED: 1 } },
    },
    totalTasks: 8,
    totalActorTasks: 1,
    totalActorScheduled: 2,
    summaryBy: 'func_name',
    dropped: 4,
  },
  liveTasks: [task('t1', { state: 'RUNNING', creationTimeMs: 100 }), task('t2', { state: 'PENDING_NODE_ASSIGNMENT', creationTimeMs: 400 }), task('t3', { state: 'PENDING_ARGS_AVAIL', creationTimeMs: 700 })],
  failedTasks: [task('t4', { state: 'FAILED', errorType: 'RayTaskError', errorMessage: 'TypeError: old', endTimeMs: 10 }), task('t5', { state: 'FAILED', errorType: 'RayTaskError', errorMessage: 'TypeError: new', endTimeMs: 20 })],
  metrics: { processes: 3, durations: { counts: [4, 1], sum: 0.02, count: 5 }, transport: { sent: 10, sentBytes: 1000, received: 9, receivedBytes: 900 } },
  queues: [
    { name: 'raybus.broker', kind: 'broker', messages: 2, consumers: 1, unacked: 1 },
    { name: 'raybus.actor.a1', kind: 'mailbox', owner: 'a1', messages: 7, consumers: 1, unacked: 3 },
  ],
  ownRefusals: { 'not sealed with a cluster key': 1 },
};

test('the overview and the tables of one poll', () => {
  const s = buildSnapshot(results, { at: 1000, address: 'amqp://h', transportKind: 'amqp', errors: [] });
  expect(s.overview.nodes).toEqual({ alive: 1, draining: 1, dead: 1 });
  // Alive, not draining, nodes only.
  expect(s.overview.resources).toEqual([
    { name: 'CPU', total: 4, used: 3 },
    { name: 'GPU', total: 1, used: 0 },
  ]);
  expect(s.overview.tasksByState).toEqual({ FINISHED: 6, FAILED: 2, RUNNING: 1 });
  expect(s.overview.actorsByState).toEqual({ ALIVE: 1, DEAD: 1 });
  expect(s.overview.runningLeases).toBe(1);
  expect(s.overview.pending.filter((p) => p.infeasible).map((p) => p.description)).toEqual(['Big']);
  expect(s.overview.oldestWaiting).toEqual({ taskId: 't2', name: 'f', state: 'PENDING_NODE_ASSIGNMENT', sinceMs: 600 });
  expect(s.overview.dropped).toBe(4);
  expect(s.functions.map((f) => f.name)).toEqual(['f', 'Counter.add']);
  expect(s.functions[0]!.recentErrors.map((e) => e.errorMessage)).toEqual(['TypeError: new', 'TypeError: old']);
  expect(s.actors.find((a) => a.actorId === 'a1')!.mailbox).toBe(7);
  expect(s.actors.find((a) => a.actorId === 'a2')!.mailbox).toBeUndefined();
  expect(s.transport.refused).toEqual({ 'not sealed with a cluster key': 1, 'bad seal (another cluster key, or altered)': 3, malformed: 3 });
});

test('a part that failed keeps what the previous poll saw', () => {
  const first = buildSnapshot(results, { at: 1000, address: 'a', transportKind: 'amqp', errors: [] });
  const second = buildSnapshot({ state }, { at: 2000, address: 'a', transportKind: 'amqp', errors: ['task summary: timed out'] }, first);
  expect(second.functions).toBe(first.functions);
  expect(second.actors).toBe(first.actors);
  expect(second.errors).toEqual(['task summary: timed out']);
  expect(oldestWaiting([], 0)).toBeUndefined();
});

test('/metrics: the series of a snapshot, with names and states as labels only', async () => {
  const m = new DashboardMetrics();
  m.update(buildSnapshot(results, { at: 1000, address: 'a', transportKind: 'amqp', errors: [] }));
  const text = await m.text();
  for (const line of [
    'raybus_tasks{name="f",state="FINISHED"} 5',
    'raybus_tasks{name="Counter.add",state="FINISHED"} 1',
    'raybus_actors{class="Counter",state="DEAD"} 1',
    'raybus_resources{name="CPU",state="used"} 3',
    'raybus_resources{name="CPU",state="available"} 1',
    'raybus_pending{kind="actor",infeasible="true"} 1',
    'raybus_queue_messages{kind="mailbox"} 7',
    'raybus_queue_unacked{kind="broker"} 1',
    'raybus_transport_messages_total{direction="sent"} 10',
    'raybus_transport_bytes_total{direction="received"} 900',
    'raybus_messages_refused_total{reason="malformed"} 3',
    'raybus_task_duration_seconds_bucket{le="0.001"} 4',
    'raybus_task_duration_seconds_bucket{le="0.005"} 5',
    'raybus_task_duration_seconds_bucket{le="+Inf"} 5',
    'raybus_task_duration_seconds_count 5',
    '# TYPE raybus_transport_messages_total counter',
    '# TYPE raybus_task_duration_seconds histogram',
  ]) {
    expect(text.split('\n')).toContain(line);
  }
  expect(text).toMatch(/^process_resident_memory_bytes \d+/m);
  expect(text).not.toMatch(/a1|a2|t1|t4/);
  // A later scrape replaces the series (gone states do not linger).
  m.update(buildSnapshot({ ...results, summary: { ...results.summary!, summary: {} } }, { at: 2000, address: 'a', transportKind: 'amqp', errors: [] }));
  expect(await m.text()).not.toMatch(/^raybus_tasks\{/m);
});
