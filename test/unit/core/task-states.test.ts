/**
 * The owner's view of its tasks for the state API (Ray's task states, as
 * python/ray/tests/test_state_api.py checks them through `list_tasks`): each transition of the
 * submitter lands in the owner's task table, and the core answers state queries from it.
 */
import { FakeWorker, settle, startCore, submit, type Harness } from './core-harness';
import { encodeError, encodeTaskError } from '../../../src/serialization/error-codec';
import { WorkerCrashedError } from '../../../src/errors/ray-errors';
import { taskOfObject, type ActorId, type ObjectId, type RequestId, type ReplyQueue } from '../../../src/protocol/ids';
import { slot } from '../../../src/core/runtime-state';
import { createHandle } from '../../../src/api/actor-handle';
import type { ObjectRef } from '../../../src/refs/object-ref';
import type { StateQueryMsg } from '../../../src/protocol/messages/state';
import type { TaskItem } from '../../../src/protocol/state';

let h: Harness;
const savedCore = slot.core;
afterEach(async () => {
  slot.core = savedCore;
  await h?.stop();
});

const stateOf = (id: string): string | undefined => h.core.taskTable.get(id)?.state;

function query(what: StateQueryMsg['what'], extra: Partial<StateQueryMsg> = {}): StateQueryMsg {
  return { t: 'state-query', req: 'q1' as RequestId, reply: 'raybus.reply.q' as ReplyQueue, what, filters: [], limit: 100, detail: true, ...extra };
}

test('waiting for its arguments, queued, running, finished', async () => {
  h = await startCore();
  const w = await FakeWorker.start(h.bus, 'w1');
  const a = submit(h.core);
  const b = submit(h.core, {}, [a.ref]);
  expect(stateOf(a.task.taskId)).toBe('PENDING_NODE_ASSIGNMENT');
  expect(stateOf(b.task.taskId)).toBe('PENDING_ARGS_AVAIL');
  await settle();
  h.broker.grant(h.broker.requests[0]!.req, w);
  await settle();
  expect(h.core.taskTable.get(a.task.taskId)).toMatchObject({ state: 'RUNNING', nodeId: 'node-1', workerId: 'w1' });
  w.reply(w.tasks.received[0]!, 5, 100);
  await settle();
  expect(stateOf(a.task.taskId)).toBe('FINISHED');
  // Its argument is ready: b was queued and pushed to the worker the lease still holds.
  expect(stateOf(b.task.taskId)).toBe('RUNNING');
});

test('pipelined behind another: submitted to the worker, then running when the one before it is done', async () => {
  h = await startCore();
  const w = await FakeWorker.start(h.bus, 'w1');
  const subs = Array.from({ length: 3 }, () => submit(h.core));
  await settle();
  h.broker.grant(h.broker.requests[0]!.req, w);
  await settle();
  w.reply(w.tasks.received[0]!, 0, 100);
  await settle();
  expect(subs.map((s) => stateOf(s.task.taskId))).toEqual(['FINISHED', 'RUNNING', 'SUBMITTED_TO_WORKER']);
  w.reply(w.tasks.received[1]!, 0, 100);
  await settle();
  expect(subs.map((s) => stateOf(s.task.taskId))).toEqual(['FINISHED', 'FINISHED', 'RUNNING']);
});

test('a failure is FAILED with its error; a lost worker sends the task back to the queue as its next attempt', async () => {
  h = await startCore();
  const w = await FakeWorker.start(h.bus, 'w1');
  const bad = submit(h.core, { maxRetries: 0 });
  const retried = submit(h.core, { maxRetries: 2, key: 'other' });
  await settle();
  const [r1, r2] = h.broker.requests;
  h.broker.grant(r1!.req, w);
  const w2 = await FakeWorker.start(h.bus, 'w2');
  const lease2 = h.broker.grant(r2!.req, w2);
  await settle();
  w.reply(w.tasks.received[0]!, { e: encodeTaskError('f', bad.task.taskId, new RangeError('out of range')) });
  h.broker.lose(lease2);
  await settle();
  expect(h.core.taskTable.get(bad.task.taskId)).toMatchObject({ state: 'FAILED', errorType: 'RayTaskError', errorMessage: 'RangeError: out of range' });
  expect(h.core.taskTable.get(retried.task.taskId)).toMatchObject({ state: 'PENDING_NODE_ASSIGNMENT', attempt: 1 });
  h.core.failTask(retried.task.taskId, encodeError(new WorkerCrashedError('gone for good')));
  expect(h.core.taskTable.get(retried.task.taskId)).toMatchObject({ state: 'FAILED', errorType: 'WorkerCrashedError' });
  await expect(h.core.get(bad.ref)).rejects.toThrow('out of range');
  await expect(h.core.get(retried.ref)).rejects.toThrow('gone for good');
});

test('a cancelled task is FAILED with TaskCancelledError', async () => {
  h = await startCore();
  const s = submit(h.core);
  h.core.cancelTask(s.task.taskId, false);
  expect(h.core.taskTable.get(s.task.taskId)).toMatchObject({ state: 'FAILED', errorType: 'TaskCancelledError' });
  await expect(h.core.get(s.ref)).rejects.toThrow(/cancel/i);
});

test('an actor call: waiting for arguments, then sent to the mailbox, then finished; a creation is recorded', async () => {
  h = await startCore();
  await h.core.ensureQueue('raybus.actor.a1');
  // A call as a handle makes it: the call is its own record (actor-handle.ts).
  slot.core = h.core;
  const meta = { actorId: 'a1' as ActorId, className: 'Counter', methods: { inc: {} }, isAsync: false, maxTaskRetries: 0, maxPendingCalls: -1, namespace: 'test' };
  const handle = createHandle(meta, Promise.resolve(), h.core.address) as { inc: { remote(): ObjectRef<unknown> } };
  const ref = handle.inc.remote();
  const taskId = taskOfObject(ref.hex() as ObjectId);
  expect(h.core.taskTable.get(taskId)).toMatchObject({ state: 'PENDING_ARGS_AVAIL', type: 'ACTOR_TASK', actorId: 'a1', name: 'Counter.inc', jobId: 'job1' });
  await settle();
  expect(stateOf(taskId)).toBe('SUBMITTED_TO_WORKER');
  h.broker.inbox.sendTo(h.core.address, { t: 'result', task: taskId, rets: [] });
  await settle();
  expect(stateOf(taskId)).toBe('FINISHED');
  const answer = h.core.state.answer(query('tasks', { filters: [['type', '=', 'ACTOR_TASK']] }))!;
  expect((answer.items as TaskItem[]).map((t) => [t.taskId, t.state])).toEqual([[taskId, 'FINISHED']]);
  // The constructor's task: the broker knows how it goes; the owner records that it asked.
  const spec = { actorId: 'a2', meta: { className: 'Counter' }, strategy: { kind: 'DEFAULT' }, ctx: { jobId: 'job1' }, placement: { CPU: 1 } };
  h.core.sendToBroker({ t: 'create-actor', req: 'r' as RequestId, spec } as never);
  expect(h.core.taskTable.get('a2')).toMatchObject({ type: 'ACTOR_CREATION_TASK', name: 'Counter.__init__', state: 'PENDING_NODE_ASSIGNMENT', actorId: 'a2', resources: { CPU: 1 } });
});

test('the core answers task, summary, object and driver queries from its tables', async () => {
  h = await startCore();
  const s = submit(h.core);
  const put = h.core.put({ big: 'x'.repeat(100) });
  const tasks = h.core.state.answer(query('tasks', { detail: false }))!;
  expect(tasks).toMatchObject({ t: 'state-answer', req: 'q1', from: { kind: 'driver', id: h.core.options.procId, pid: process.pid }, total: 1, more: false });
  expect(tasks.items).toEqual([expect.objectContaining({ taskId: s.task.taskId, state: 'PENDING_NODE_ASSIGNMENT', type: 'NORMAL_TASK', jobId: 'job1' })]);
  expect(tasks.items[0]).not.toHaveProperty('creationTimeMs');
  const summary = h.core.state.answer(query('task-summary'))!;
  expect(summary.summary).toEqual({ [s.task.fn.name]: { funcOrClassName: s.task.fn.name, type: 'NORMAL_TASK', stateCounts: { PENDING_NODE_ASSIGNMENT: 1 } } });
  const objects = h.core.state.answer(query('objects'))!;
  expect(objects.items).toContainEqual(expect.objectContaining({ objectId: put.id, taskStatus: 'FINISHED', owned: true, type: 'DRIVER', referenceType: 'LOCAL_REFERENCE', localRefCount: 1 }));
  expect((objects.items as Array<{ objectSize: number; objectId: string }>).find((o) => o.objectId === put.id)!.objectSize).toBeGreaterThan(100);
  expect(objects.items).toContainEqual(expect.objectContaining({ objectId: s.task.returnIds[0], taskStatus: 'PENDING' }));
  const workers = h.core.state.answer(query('workers'))!;
  expect(workers.items).toEqual([expect.objectContaining({ workerId: h.core.options.procId, workerType: 'DRIVER', isAlive: true, pid: process.pid })]);
  void s.ref;
});
