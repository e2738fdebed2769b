/**
 * A worker's queue of pipelined tasks (src/worker/task-queue.ts) on simulated time: tasks run
 * one at a time in push order; once the running task has waited GIVE_BACK_AFTER_MS, the tasks
 * behind it go back to their owner (`tasks-returned`), so nothing waits behind a blocked task;
 * a task cancelled while it waits never runs.
 */
import { GIVE_BACK_AFTER_MS, WorkerTaskQueue } from '../../../src/worker/task-queue';
import { SimulatedClock } from '../../../src/util/simulated-clock';
import { cancelLocal, setQueuedTaskCanceller } from '../../../src/core/running-tasks';
import type { CoreWorker } from '../../../src/core/core-worker';
import type { TaskMsg } from '../../../src/protocol/messages/worker';
import type { LeaseId, ReplyQueue, TaskId } from '../../../src/protocol/ids';
import type { Delivery } from '../../../src/transport/transport';

const OWNER = 'raybus.reply.driver-q' as ReplyQueue;
const LEASE = 'g1@n' as LeaseId;

function task(id: string): TaskMsg {
  return { t: 'task', task: id as TaskId, fn: { id: 'f', name: 'f', source: 'x' } as TaskMsg['fn'], args: [], nret: 1, owner: OWNER, ctx: { attempt: 0 } as TaskMsg['ctx'], lease: LEASE };
}

function delivery(): Delivery & { acked: number } {
  const d = {
    queue: 'q',
    body: new Uint8Array(),
    headers: {},
    redelivered: false,
    acked: 0,
    ack: () => void (d.acked += 1),
    nack: () => undefined,
  };
  return d;
}

function setup() {
  const clock = new SimulatedClock();
  const sent: Array<{ queue: string; msg: unknown }> = [];
  const core = { flushOutgoing: () => undefined, send: (queue: string, msg: unknown) => sent.push({ queue, msg }) } as unknown as CoreWorker;
  const ran: string[] = [];
  const finish = new Map<string, () => void>();
  const queue = new WorkerTaskQueue(
    core,
    (msg) => {
      ran.push(msg.task);
      return new Promise<void>((resolve) => finish.set(msg.task, resolve));
    },
    clock,
  );
  return { clock, sent, ran, finish, queue };
}

afterEach(() => setQueuedTaskCanceller(undefined));

describe('WorkerTaskQueue', () => {
  it('runs pushed tasks one at a time, in order', async () => {
    const q = setup();
    q.queue.push(task('t1'), delivery());
    q.queue.push(task('t2'), delivery());
    expect(q.ran).toEqual(['t1']);
    q.finish.get('t1')!();
    await q.clock.tick();
    expect(q.ran).toEqual(['t1', 't2']);
    expect(q.sent).toEqual([]);
  });

  it(`gives the queued tasks back once the running one has waited ${GIVE_BACK_AFTER_MS} ms, and what arrives meanwhile too`, async () => {
    const q = setup();
    const [d1, d2, d3] = [delivery(), delivery(), delivery()];
    q.queue.push(task('t1'), d1);
    q.queue.push(task('t2'), d2);
    await q.clock.advance(GIVE_BACK_AFTER_MS - 1);
    expect(q.sent).toEqual([]);
    await q.clock.advance(1);
    expect(q.sent).toEqual([{ queue: OWNER, msg: { t: 'tasks-returned', lease: LEASE, tasks: ['t2'] } }]);
    expect(d2.acked).toBe(1);
    q.queue.push(task('t3'), d3);
    expect(q.sent.at(-1)).toEqual({ queue: OWNER, msg: { t: 'tasks-returned', lease: LEASE, tasks: ['t3'] } });
    q.finish.get('t1')!();
    await q.clock.tick();
    expect(q.ran).toEqual(['t1']);
    expect(d1.acked).toBe(1);
  });

  it(`sets no timer for a task run alone; one that arrives after the running task has waited ${GIVE_BACK_AFTER_MS} ms goes straight back`, async () => {
    const q = setup();
    q.queue.push(task('t1'), delivery());
    expect(q.clock.pending).toBe(0);
    await q.clock.advance(GIVE_BACK_AFTER_MS + 5);
    expect(q.sent).toEqual([]);
    const d2 = delivery();
    q.queue.push(task('t2'), d2);
    expect(q.sent).toEqual([{ queue: OWNER, msg: { t: 'tasks-returned', lease: LEASE, tasks: ['t2'] } }]);
    expect(d2.acked).toBe(1);
    expect(q.clock.pending).toBe(0);
    q.finish.get('t1')!();
    await q.clock.tick();
    expect(q.ran).toEqual(['t1']);
    // Once t1 is done, a task run alone again.
    q.queue.push(task('t3'), delivery());
    expect(q.ran).toEqual(['t1', 't3']);
  });

  it('a task that finishes in time cancels the give-back timer', async () => {
    const q = setup();
    q.queue.push(task('t1'), delivery());
    q.queue.push(task('t2'), delivery());
    await q.clock.advance(GIVE_BACK_AFTER_MS - 5);
    q.finish.get('t1')!();
    // After a long run the next task starts once the worker has read its messages (two turns).
    for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r));
    expect(q.ran).toEqual(['t1', 't2']);
    // t1's timer would have fired by now: t3 still waits behind t2, whose own timer is not due.
    await q.clock.advance(10);
    q.queue.push(task('t3'), delivery());
    expect(q.sent).toEqual([]);
    await q.clock.advance(GIVE_BACK_AFTER_MS - 10);
    expect(q.sent).toEqual([{ queue: OWNER, msg: { t: 'tasks-returned', lease: LEASE, tasks: ['t3'] } }]);
  });

  it('a task cancelled while it waits never runs; its owner gets it back as cancelled', async () => {
    const q = setup();
    const d2 = delivery();
    q.queue.push(task('t1'), delivery());
    q.queue.push(task('t2'), d2);
    expect(cancelLocal('t2' as TaskId, new Error('cancelled'))).toBe(true);
    q.finish.get('t1')!();
    await q.clock.tick();
    expect(q.ran).toEqual(['t1']);
    expect(d2.acked).toBe(1);
    expect(q.sent).toEqual([{ queue: OWNER, msg: { t: 'result', task: 't2', rets: [{ e: expect.objectContaining({ name: 'TaskCancelledError' }) }] } }]);
  });

  // Ray retries a cancel its executor did not know yet (normal_task_submitter.cc, CancelTask's
  // retry): here a task and its cancel travel on different queues, and the cancel may win.
  it('a task whose cancel arrived before it never runs', async () => {
    const q = setup();
    const d1 = delivery();
    expect(cancelLocal('t1' as TaskId, new Error('cancelled'))).toBe(false);
    q.queue.push(task('t1'), d1);
    q.queue.push(task('t2'), delivery());
    expect(q.ran).toEqual(['t2']);
    expect(d1.acked).toBe(1);
    expect(q.sent).toEqual([{ queue: OWNER, msg: { t: 'result', task: 't1', rets: [{ e: expect.objectContaining({ name: 'TaskCancelledError' }) }] } }]);
  });
});
