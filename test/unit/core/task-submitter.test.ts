/**
 * Owner-side submission by leases (Ray's NormalTaskSubmitter; its tests in
 * src/ray/core_worker/transport/tests/normal_task_submitter_test.cc cover the same ground:
 * one lease request per scheduling class, retries on worker death, cancel of queued and
 * running tasks, returning idle workers). A fake broker and fake workers answer on the bus.
 */
import { FakeWorker, settle, startCore, submit, type Harness } from './core-harness';
import { encodeError, encodeTaskError } from '../../../src/serialization/error-codec';
import { RayTaskError, RayValueError, TaskCancelledError, WorkerCrashedError, RaySystemError } from '../../../src/errors/ray-errors';
import { PIPELINE_MAX, PIPELINE_MAX_BYTES, pipelineDepth } from '../../../src/core/task-submitter';
import { BROKER_QUEUE } from '../../../src/protocol/queues';
import { Inbox } from './core-harness';
import type { BrokerMsg } from '../../../src/protocol/messages/broker';
import type { NodeId } from '../../../src/protocol/ids';

let h: Harness;
afterEach(async () => {
  await h?.stop();
});

/** Settles once `p` does; `pending` while it has not. */
async function stateOf(p: Promise<unknown>): Promise<'pending' | 'resolved' | 'rejected'> {
  let s: 'pending' | 'resolved' | 'rejected' = 'pending';
  p.then(
    () => (s = 'resolved'),
    () => (s = 'rejected'),
  );
  await settle();
  return s;
}

function valueError(message: string): Error {
  return Object.assign(new Error(message), { name: 'ValueError' });
}

describe('lease requests', () => {
  test('one request per queued task of a scheduling key, at most 4 outstanding, each with its key', async () => {
    h = await startCore({ nodeId: 'node-1' as NodeId });
    for (let i = 0; i < 6; i++) submit(h.core, { key: 'a' });
    submit(h.core, { key: 'b', demand: { CPU: 2 }, strategy: { kind: 'SPREAD' } });
    await settle();
    const reqs = h.broker.requests;
    expect(reqs.filter((r) => r.demand.CPU === 1)).toHaveLength(4);
    const b = reqs.filter((r) => r.demand.CPU === 2);
    expect(b).toHaveLength(1);
    expect(b[0]).toMatchObject({ owner: h.core.address, strategy: { kind: 'SPREAD' }, pref: 'node-1', desc: 'strategy SPREAD' });
    expect(new Set(reqs.map((r) => r.req)).size).toBe(5);
  });

  test('tasks whose lease requests the broker found infeasible are counted apart until a lease comes', async () => {
    h = await startCore();
    const w = await FakeWorker.start(h.bus, 'w1');
    for (let i = 0; i < 3; i++) submit(h.core, { key: 'never', demand: { CPU: 1, unobtainium: 1 } });
    submit(h.core, { key: 'fine' });
    await settle();
    const never = h.broker.requests.find((r) => r.demand.unobtainium === 1)!;
    h.broker.inbox.sendTo(h.broker.owner, { t: 'lease-infeasible', req: never.req });
    await settle();
    expect(h.core.submitter.infeasibleQueued()).toBe(3);
    // A node that fits joined: the lease comes, and they are ordinary queued work again.
    h.broker.grant(never.req, w);
    await settle();
    expect(h.core.submitter.infeasibleQueued()).toBe(0);
  });

  test('a driver without a node asks for leases on its home node (DEFAULT packs there, as on a local node)', async () => {
    h = await startCore();
    submit(h.core);
    await settle();
    expect(h.broker.requests[0]!.pref).toBeUndefined();
    h.core.submitter.setHomeNode('home-node' as NodeId);
    submit(h.core, { key: 'other' });
    await settle();
    expect(h.broker.requests[1]).toMatchObject({ pref: 'home-node' });
  });

  test('a request that cannot be sent is asked again after 100 ms of clock time', async () => {
    h = await startCore();
    // No broker queue: the publish fails.
    await h.broker.inbox.transport.deleteQueue(BROKER_QUEUE);
    submit(h.core);
    await settle();
    const broker = await Inbox.open<BrokerMsg>(h.bus, BROKER_QUEUE);
    await h.clock.advance(99);
    expect(broker.of('request-lease')).toHaveLength(0);
    await h.clock.advance(1);
    expect(broker.of('request-lease')).toHaveLength(1);
    await broker.transport.close();
  });

  test('lease-failed fails every queued task of the key with the broker’s error', async () => {
    h = await startCore();
    const a = submit(h.core);
    const b = submit(h.core);
    await settle();
    h.broker.fail(h.broker.requests[0]!.req, encodeError(new RayValueError('no node could ever run this')));
    await expect(h.core.get(a.ref)).rejects.toBeInstanceOf(RayValueError);
    await expect(h.core.get(b.ref)).rejects.toThrow('no node could ever run this');
  });
});

describe('pushing on a lease', () => {
  test('one task at a time until the key’s calls are measured fast, then up to PIPELINE_MAX', async () => {
    h = await startCore();
    const w = await FakeWorker.start(h.bus, 'w1');
    const subs = Array.from({ length: 5 }, () => submit(h.core));
    await settle();
    h.broker.grant(h.broker.requests[0]!.req, w);
    await settle();
    expect(w.pushed).toEqual([subs[0]!.task.taskId]);
    w.reply(w.tasks.received[0]!, 'first', 100);
    await settle();
    expect(w.pushed).toEqual(subs.map((s) => s.task.taskId));
    expect(PIPELINE_MAX).toBeGreaterThanOrEqual(4);
    expect(await h.core.get(subs[0]!.ref)).toBe('first');
    // Nothing is queued any more: the other lease requests are withdrawn.
    expect(h.broker.inbox.of('cancel-lease-request').length).toBeGreaterThan(0);
  });

  test('the faster a key’s calls, the more are in flight on one worker: about 20 ms of work, at most PIPELINE_MAX', async () => {
    expect(pipelineDepth(0)).toBe(PIPELINE_MAX);
    expect(pipelineDepth(10)).toBe(PIPELINE_MAX);
    expect(pipelineDepth(100)).toBe(166);
    expect(pipelineDepth(500)).toBe(38);
    expect(pipelineDepth(999)).toBe(19);
    expect(pipelineDepth(1000)).toBe(1);
    expect(pipelineDepth(Number.NaN)).toBe(1);
    // The submitter follows its key's running average: once calls of 500 µs came back, no more
    // than pipelineDepth(500) wait on the worker.
    h = await startCore();
    const w = await FakeWorker.start(h.bus, 'w1');
    const subs = Array.from({ length: 100 }, () => submit(h.core));
    await settle();
    h.broker.grant(h.broker.requests[0]!.req, w);
    await settle();
    w.reply(w.tasks.received[0]!, 0, 500);
    await settle();
    expect(w.pushed).toEqual(subs.slice(0, pipelineDepth(500) + 1).map((x) => x.task.taskId));
  });

  test('tasks with large arguments pipeline only while their arguments add up to PIPELINE_MAX_BYTES', async () => {
    h = await startCore();
    const w = await FakeWorker.start(h.bus, 'w1');
    // Each argument is 6 MiB: after the first, two fit in 16 MiB, a third does not.
    const big = new Uint8Array(6 * 1024 * 1024);
    const subs = Array.from({ length: 6 }, () => submit(h.core, {}, [big]));
    await settle();
    h.broker.grant(h.broker.requests[0]!.req, w);
    await settle();
    expect(w.pushed).toEqual([subs[0]!.task.taskId]);
    w.reply(w.tasks.received[0]!, 0, 10);
    await settle();
    expect(PIPELINE_MAX_BYTES).toBe(16 * 1024 * 1024);
    expect(w.pushed).toEqual(subs.slice(0, 3).map((x) => x.task.taskId));
    // One more goes as one comes back: the bytes in flight follow the tasks.
    w.reply(w.tasks.received[1]!, 1, 10);
    await settle();
    expect(w.pushed).toEqual(subs.slice(0, 4).map((x) => x.task.taskId));
    // The rest follow as answers come back.
    for (let answered = 2; answered < w.tasks.received.length || answered < 6; answered++) {
      w.reply(w.tasks.received[answered]!, answered, 10);
      await settle();
    }
    expect(w.pushed).toEqual(subs.map((x) => x.task.taskId));
    expect(await h.core.get(subs[5]!.ref)).toBe(5);
  });

  test('a key whose calls run long stays at one task per worker', async () => {
    h = await startCore();
    const w = await FakeWorker.start(h.bus, 'w1');
    const subs = Array.from({ length: 3 }, () => submit(h.core));
    await settle();
    h.broker.grant(h.broker.requests[0]!.req, w);
    await settle();
    w.reply(w.tasks.received[0]!, 1, 5000);
    await settle();
    expect(w.pushed).toEqual([subs[0]!.task.taskId, subs[1]!.task.taskId]);
  });

  test('a push that cannot be delivered is queued again and pushed after 100 ms of clock time', async () => {
    h = await startCore();
    const t = submit(h.core);
    await settle();
    // The worker's queue does not exist yet.
    h.broker.grant(h.broker.requests[0]!.req, { id: 'w-late' } as FakeWorker);
    await settle();
    const w = await FakeWorker.start(h.bus, 'w-late');
    await h.clock.advance(99);
    expect(w.pushed).toEqual([]);
    await h.clock.advance(1);
    expect(w.pushed).toEqual([t.task.taskId]);
  });

  test('a worker that gives queued tasks back: they are queued again in order, and pipelining stops', async () => {
    h = await startCore();
    const w1 = await FakeWorker.start(h.bus, 'w1');
    const subs = Array.from({ length: 4 }, () => submit(h.core));
    const ids = subs.map((s) => s.task.taskId);
    await settle();
    const lease = h.broker.grant(h.broker.requests[0]!.req, w1);
    await settle();
    w1.reply(w1.tasks.received[0]!, 0, 100);
    await settle();
    expect(w1.pushed).toEqual(ids);
    h.broker.inbox.clear();
    w1.giveBack(lease, h.core.address, [ids[2]!, ids[3]!]);
    await settle();
    // w1 still runs ids[1]; one task per worker now, so each returned task needs a lease.
    const reqs = h.broker.requests;
    expect(reqs).toHaveLength(2);
    const w2 = await FakeWorker.start(h.bus, 'w2');
    const w3 = await FakeWorker.start(h.bus, 'w3');
    h.broker.grant(reqs[0]!.req, w2);
    await settle();
    h.broker.grant(reqs[1]!.req, w3);
    await settle();
    expect(w2.pushed).toEqual([ids[2]]);
    expect(w3.pushed).toEqual([ids[3]]);
    expect(w1.pushed).toEqual(ids);
  });

  test('a lease whose task waits in get/wait is pushed nothing more until that task ends, however fast the key runs elsewhere', async () => {
    // Ray's owner keeps one task per worker; raybus pipelines fast keys, so a blocked lease
    // (its CPU lent out by the broker) must not collect work behind its waiting task.
    h = await startCore();
    const w1 = await FakeWorker.start(h.bus, 'w1');
    const [t1, t2] = [submit(h.core), submit(h.core)];
    await settle();
    const lease = h.broker.grant(h.broker.requests[0]!.req, w1);
    await settle();
    w1.reply(w1.tasks.received[0]!, 1, 100);
    await settle();
    expect(w1.pushed).toEqual([t1.task.taskId, t2.task.taskId]);
    w1.giveBack(lease, h.core.address, [], true);
    await settle();
    h.broker.inbox.clear();
    const [t3, t4] = [submit(h.core), submit(h.core)];
    await settle();
    const w2 = await FakeWorker.start(h.bus, 'w2');
    h.broker.grant(h.broker.requests[0]!.req, w2);
    await settle();
    expect(w2.pushed).toEqual([t3.task.taskId]);
    // A fast result elsewhere makes the key pipeline again: still nothing for the blocked lease.
    w2.reply(w2.tasks.received[0]!, 3, 100);
    await settle();
    expect(w2.pushed).toEqual([t3.task.taskId, t4.task.taskId]);
    expect(w1.pushed).toEqual([t1.task.taskId, t2.task.taskId]);
    w1.reply(w1.tasks.received[1]!, 2, 100);
    w2.reply(w2.tasks.received[1]!, 4, 100);
    expect(await h.core.get([t2.ref, t4.ref])).toEqual([2, 4]);
  });

  /** One task run on a granted lease of `w`, its result received; the lease is now idle. */
  async function oneTaskDone(w: FakeWorker): Promise<string> {
    const t = submit(h.core);
    await settle();
    const lease = h.broker.grant(h.broker.requests[0]!.req, w);
    await settle();
    w.reply(w.tasks.received[0]!, 7);
    await settle();
    expect(await h.core.get(t.ref)).toBe(7);
    return lease;
  }

  test('an idle lease is kept 50 ms of clock time for the key’s next task, then goes back to the broker', async () => {
    h = await startCore();
    const w = await FakeWorker.start(h.bus, 'w1');
    const lease = await oneTaskDone(w);
    await h.clock.advance(49);
    expect(h.broker.inbox.of('return-lease')).toEqual([]);
    await h.clock.advance(1);
    await settle();
    expect(h.broker.inbox.of('return-lease')).toEqual([{ t: 'return-lease', lease }]);
    expect(h.broker.requests).toHaveLength(1);
  });

  test('a task after an idle gap reuses the kept lease: no lease request, no return in between', async () => {
    h = await startCore();
    const w = await FakeWorker.start(h.bus, 'w1');
    const lease = await oneTaskDone(w);
    await h.clock.advance(40);
    const t2 = submit(h.core);
    await settle();
    expect(w.pushed).toHaveLength(2);
    // The idle time counts again from the second task's end, not the first's.
    await h.clock.advance(40);
    w.reply(w.tasks.received[1]!, 8);
    expect(await h.core.get(t2.ref)).toBe(8);
    await settle();
    await h.clock.advance(49);
    expect(h.broker.inbox.of('return-lease')).toEqual([]);
    expect(h.broker.requests).toHaveLength(1);
    await h.clock.advance(1);
    await settle();
    expect(h.broker.inbox.of('return-lease')).toEqual([{ t: 'return-lease', lease }]);
  });

  test('work waiting elsewhere (leases-wanted) takes the idle leases back at once, not those running tasks', async () => {
    h = await startCore();
    const w1 = await FakeWorker.start(h.bus, 'w1');
    const w2 = await FakeWorker.start(h.bus, 'w2');
    const idle = await oneTaskDone(w1);
    const busy = submit(h.core, { key: 'other' });
    await settle();
    h.broker.grant(h.broker.requests[1]!.req, w2);
    await settle();
    expect(w2.pushed).toEqual([busy.task.taskId]);
    h.broker.wantLeases();
    await settle();
    expect(h.broker.inbox.of('return-lease')).toEqual([{ t: 'return-lease', lease: idle }]);
    // Nothing left idle: no timer returns anything later.
    await h.clock.advance(1000);
    expect(h.broker.inbox.of('return-lease')).toHaveLength(1);
  });

  test('a return that cannot be sent is sent again after 100 ms of clock time', async () => {
    h = await startCore();
    const w = await FakeWorker.start(h.bus, 'w1');
    const lease = await oneTaskDone(w);
    // The bus cannot take the return when the idle time is up.
    await h.broker.inbox.transport.deleteQueue(BROKER_QUEUE);
    await h.clock.advance(50);
    await settle();
    const broker = await Inbox.open<BrokerMsg>(h.bus, BROKER_QUEUE);
    await h.clock.advance(99);
    expect(broker.of('return-lease')).toEqual([]);
    await h.clock.advance(1);
    expect(broker.of('return-lease')).toEqual([{ t: 'return-lease', lease }]);
    await broker.transport.close();
  });

  test('a lease kept idle goes back when the owner shuts down', async () => {
    h = await startCore();
    const w = await FakeWorker.start(h.bus, 'w1');
    const lease = await oneTaskDone(w);
    await h.core.stop();
    await settle();
    expect(h.broker.inbox.of('return-lease')).toEqual([{ t: 'return-lease', lease }]);
  });

  test('a worker that retires (maxCalls) gets its lease returned with the result', async () => {
    h = await startCore();
    const w = await FakeWorker.start(h.bus, 'w1');
    submit(h.core, { maxCalls: 1 });
    submit(h.core, { maxCalls: 1 });
    await settle();
    const lease = h.broker.grant(h.broker.requests[0]!.req, w);
    await settle();
    w.reply(w.tasks.received[0]!, 1, 100, { retire: true });
    await settle();
    expect(h.broker.inbox.of('return-lease')).toContainEqual({ t: 'return-lease', lease });
    expect(w.tasks.received).toHaveLength(1);
  });
});

describe('queue order', () => {
  /** Answer everything `w` was pushed, round after round, until nothing new arrives. */
  async function answerAll(w: FakeWorker): Promise<void> {
    let answered = 0;
    while (answered < w.tasks.received.length) {
      for (const m of w.tasks.received.slice(answered)) w.reply(m, 0, 100);
      answered = w.tasks.received.length;
      await settle();
    }
  }

  test('many more tasks than a lease takes are pushed in submission order; one cancelled while queued is skipped', async () => {
    h = await startCore();
    const w = await FakeWorker.start(h.bus, 'w1');
    const subs = Array.from({ length: 3 * PIPELINE_MAX }, () => submit(h.core));
    const ids = subs.map((x) => x.task.taskId);
    await settle();
    h.broker.grant(h.broker.requests[0]!.req, w);
    await settle();
    expect(w.pushed).toEqual([ids[0]]);
    h.core.cancelTask(ids[2 * PIPELINE_MAX]!, false);
    await expect(h.core.get(subs[2 * PIPELINE_MAX]!.ref)).rejects.toBeInstanceOf(TaskCancelledError);
    await answerAll(w);
    expect(w.pushed).toEqual(ids.filter((_, i) => i !== 2 * PIPELINE_MAX));
  });

  test('cancelling every queued task but the last: only the last is pushed, and the lease goes back after it', async () => {
    h = await startCore();
    const w = await FakeWorker.start(h.bus, 'w1');
    const subs = Array.from({ length: 1000 }, () => submit(h.core));
    await settle();
    for (const x of subs.slice(0, -1)) h.core.cancelTask(x.task.taskId, false);
    await expect(h.core.get(subs[0]!.ref)).rejects.toBeInstanceOf(TaskCancelledError);
    const lease = h.broker.grant(h.broker.requests[0]!.req, w);
    await settle();
    expect(w.pushed).toEqual([subs[999]!.task.taskId]);
    w.reply(w.tasks.received[0]!, 'last', 100);
    expect(await h.core.get(subs[999]!.ref)).toBe('last');
    // Kept idle for the key's next task (50 ms of clock time), then returned.
    await settle();
    await h.clock.advance(50);
    await settle();
    expect(h.broker.inbox.of('return-lease')).toContainEqual({ t: 'return-lease', lease });
  });

  test('tasks back from a lost lease go first, in their order, ahead of those still queued', async () => {
    h = await startCore();
    const w1 = await FakeWorker.start(h.bus, 'w1');
    const subs = Array.from({ length: 2 * PIPELINE_MAX }, () => submit(h.core));
    const ids = subs.map((x) => x.task.taskId);
    await settle();
    const lease = h.broker.grant(h.broker.requests[0]!.req, w1);
    await settle();
    w1.reply(w1.tasks.received[0]!, 0, 100);
    await settle();
    // ids[1..depth] in flight on w1 (ids[1] running), the rest queued.
    expect(w1.pushed).toEqual(ids.slice(0, pipelineDepth(100) + 1));
    h.broker.lose(lease as never);
    await settle();
    // Work is still queued, so the key's other lease requests are still outstanding.
    const w2 = await FakeWorker.start(h.bus, 'w2');
    h.broker.grant(h.broker.requests[1]!.req, w2);
    await settle();
    await answerAll(w2);
    expect(w2.pushed).toEqual(ids.slice(1));
    expect(w2.tasks.received.slice(0, 2).map((m) => m.ctx.attempt)).toEqual([1, 0]);
  });
});

describe('retries', () => {
  /** Four tasks pipelined on one worker (the first has run, measured fast). */
  async function pipelined(maxRetries: number): Promise<{ w: FakeWorker; subs: ReturnType<typeof submit>[]; lease: string }> {
    const w = await FakeWorker.start(h.bus, 'w1');
    const subs = Array.from({ length: 4 }, () => submit(h.core, { maxRetries }));
    await settle();
    const lease = h.broker.grant(h.broker.requests[0]!.req, w);
    await settle();
    w.reply(w.tasks.received[0]!, 0, 100);
    await settle();
    expect(w.pushed).toHaveLength(4);
    return { w, subs, lease };
  }

  test('lease lost: only the running task spends a retry, the ones queued behind it are resubmitted as they were', async () => {
    h = await startCore();
    const { subs, lease } = await pipelined(1);
    h.broker.inbox.clear();
    h.broker.lose(lease as never);
    await settle();
    const w2 = await FakeWorker.start(h.bus, 'w2');
    h.broker.grant(h.broker.requests[0]!.req, w2);
    await settle();
    expect(w2.pushed).toEqual([subs[1]!.task.taskId, subs[2]!.task.taskId, subs[3]!.task.taskId]);
    expect(w2.tasks.received.map((m) => m.ctx.attempt)).toEqual([1, 0, 0]);
  });

  test('lease lost again after maxRetries: the running task fails with WorkerCrashedError, the others go on', async () => {
    h = await startCore();
    const { subs, lease } = await pipelined(1);
    h.broker.lose(lease as never);
    await settle();
    const w2 = await FakeWorker.start(h.bus, 'w2');
    const reqs = h.broker.requests;
    const lease2 = h.broker.grant(reqs[reqs.length - 1]!.req, w2);
    await settle();
    h.broker.inbox.clear();
    h.broker.lose(lease2, 'killed by the OOM killer');
    await expect(h.core.get(subs[1]!.ref)).rejects.toBeInstanceOf(WorkerCrashedError);
    await expect(h.core.get(subs[1]!.ref)).rejects.toThrow('killed by the OOM killer');
    const w3 = await FakeWorker.start(h.bus, 'w3');
    h.broker.grant(h.broker.requests[0]!.req, w3);
    await settle();
    // Neither of them had started on either worker: no retry spent.
    expect(w3.pushed).toEqual([subs[2]!.task.taskId, subs[3]!.task.taskId]);
    expect(w3.tasks.received.map((m) => m.ctx.attempt)).toEqual([0, 0]);
  });

  test('a fatal loss (placement group removed) fails what was in flight without retry', async () => {
    h = await startCore();
    const { subs, lease } = await pipelined(3);
    h.broker.lose(lease as never, 'placement group removed', true);
    for (const s of subs.slice(1)) await expect(h.core.get(s.ref)).rejects.toBeInstanceOf(WorkerCrashedError);
  });

  test.each([
    ['a listed name along the cause chain', ['ValueError'], valueError('bad'), true],
    ['an unlisted name', ['KeyError'], valueError('bad'), false],
    ['true, for an application error', true, valueError('bad'), true],
    ['false', false, valueError('bad'), false],
  ] as const)('retryExceptions: %s', async (_name, setting, thrown, retried) => {
    h = await startCore();
    const w = await FakeWorker.start(h.bus, 'w1');
    const t = submit(h.core, { retryExceptions: setting as boolean | string[], maxRetries: 2 });
    await settle();
    h.broker.grant(h.broker.requests[0]!.req, w);
    await settle();
    w.reply(w.tasks.received[0]!, { e: encodeTaskError('fn', t.task.taskId, thrown) });
    await settle();
    if (!retried) {
      await expect(h.core.get(t.ref)).rejects.toBeInstanceOf(RayTaskError);
      expect(w.pushed).toHaveLength(1);
      return;
    }
    expect(w.pushed).toEqual([t.task.taskId, t.task.taskId]);
    expect(w.tasks.received[1]!.ctx.attempt).toBe(1);
    w.reply(w.tasks.received[1]!, 'ok');
    expect(await h.core.get(t.ref)).toBe('ok');
  });

  test('retryExceptions true does not retry system errors', async () => {
    h = await startCore();
    const w = await FakeWorker.start(h.bus, 'w1');
    const t = submit(h.core, { retryExceptions: true, maxRetries: 5 });
    await settle();
    h.broker.grant(h.broker.requests[0]!.req, w);
    await settle();
    w.reply(w.tasks.received[0]!, { e: encodeError(new RaySystemError('bus gone')) });
    await expect(h.core.get(t.ref)).rejects.toBeInstanceOf(RaySystemError);
    expect(w.pushed).toHaveLength(1);
  });

  test('application errors are retried up to maxRetries, then the last one is the result', async () => {
    h = await startCore();
    const w = await FakeWorker.start(h.bus, 'w1');
    const t = submit(h.core, { retryExceptions: true, maxRetries: 1 });
    await settle();
    h.broker.grant(h.broker.requests[0]!.req, w);
    await settle();
    w.reply(w.tasks.received[0]!, { e: encodeTaskError('fn', t.task.taskId, valueError('first')) });
    await settle();
    w.reply(w.tasks.received[1]!, { e: encodeTaskError('fn', t.task.taskId, valueError('second')) });
    await expect(h.core.get(t.ref)).rejects.toThrow('second');
    expect(w.tasks.received.map((m) => m.ctx.attempt)).toEqual([0, 1]);
  });
});

describe('cancel', () => {
  test('a queued task is dropped: it fails at once and is never pushed', async () => {
    h = await startCore();
    const w = await FakeWorker.start(h.bus, 'w1');
    const t = submit(h.core);
    await settle();
    h.core.cancelTask(t.task.taskId, false);
    await expect(h.core.get(t.ref)).rejects.toBeInstanceOf(TaskCancelledError);
    const lease = h.broker.grant(h.broker.requests[0]!.req, w);
    await settle();
    expect(w.pushed).toEqual([]);
    // The lease, with nothing to run, goes back once its idle time is up.
    await h.clock.advance(50);
    expect(h.broker.inbox.of('return-lease')).toEqual([{ t: 'return-lease', lease }]);
  });

  test('a running task is told to abort on its worker; force kills the worker only for the running one', async () => {
    h = await startCore();
    const w = await FakeWorker.start(h.bus, 'w1');
    const subs = Array.from({ length: 3 }, () => submit(h.core, { maxRetries: 3 }));
    await settle();
    const lease = h.broker.grant(h.broker.requests[0]!.req, w);
    await settle();
    w.reply(w.tasks.received[0]!, 0, 100);
    await settle();
    // subs[1] runs, subs[2] waits behind it on the worker.
    h.core.cancelTask(subs[2]!.task.taskId, true);
    await settle();
    expect(h.node.of('kill-worker')).toEqual([]);
    h.core.cancelTask(subs[1]!.task.taskId, true);
    await settle();
    expect(w.replies.of('cancel-task')).toEqual([
      { t: 'cancel-task', task: subs[2]!.task.taskId, recursive: true },
      { t: 'cancel-task', task: subs[1]!.task.taskId, recursive: true },
    ]);
    expect(h.node.of('kill-worker')).toEqual([{ t: 'kill-worker', lease }]);
    await expect(h.core.get(subs[1]!.ref)).rejects.toBeInstanceOf(TaskCancelledError);
    // A cancelled task is never retried, even when its worker dies.
    h.broker.inbox.clear();
    h.broker.lose(lease);
    await settle();
    expect(h.broker.requests).toEqual([]);
    expect(await stateOf(h.core.get(subs[2]!.ref))).toBe('rejected');
  });
});

describe('broker failover', () => {
  test('resync returns the leases kept idle instead of reporting them; a later task asks for a fresh lease', async () => {
    h = await startCore();
    const w1 = await FakeWorker.start(h.bus, 'w1');
    const t = submit(h.core);
    await settle();
    const lease = h.broker.grant(h.broker.requests[0]!.req, w1);
    await settle();
    w1.reply(w1.tasks.received[0]!, 1);
    expect(await h.core.get(t.ref)).toBe(1);
    await settle();
    h.broker.inbox.clear();
    expect(h.core.submitter.resync()).toEqual([]);
    await settle();
    expect(h.broker.inbox.of('return-lease')).toEqual([{ t: 'return-lease', lease }]);
    submit(h.core);
    await settle();
    expect(h.broker.requests).toHaveLength(1);
    expect(w1.pushed).toHaveLength(1);
  });

  test('resync asks again for pending leases, ignores the old requests, reports held leases', async () => {
    h = await startCore();
    const w1 = await FakeWorker.start(h.bus, 'w1');
    const a = submit(h.core, { key: 'a' });
    const b = submit(h.core, { key: 'b', demand: { CPU: 2 } });
    await settle();
    const [reqA, reqB] = h.broker.requests;
    const leaseA = h.broker.grant(reqA!.req, w1, 'node-9' as NodeId);
    await settle();
    expect(w1.pushed).toEqual([a.task.taskId]);
    h.broker.inbox.clear();
    expect(h.core.submitter.resync()).toEqual([[leaseA, 'node-9']]);
    await settle();
    const again = h.broker.requests;
    expect(again).toHaveLength(1);
    expect(again[0]!.demand).toEqual({ CPU: 2 });
    // The previous leader's answer to the old request is not used: that lease goes back.
    const w2 = await FakeWorker.start(h.bus, 'w2');
    const stale = h.broker.grant(reqB!.req, w2);
    await settle();
    expect(w2.pushed).toEqual([]);
    expect(h.broker.inbox.of('return-lease')).toContainEqual({ t: 'return-lease', lease: stale });
    h.broker.grant(again[0]!.req, w2);
    await settle();
    expect(w2.pushed).toEqual([b.task.taskId]);
  });
});
