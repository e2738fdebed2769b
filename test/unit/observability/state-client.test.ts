/**
 * A state query over the in-memory bus: every responder answers the broadcast on a reply
 * queue of the query's own, the client waits for a quiet period (simulated clock) and merges;
 * the broker's kinds are one request to its queue; forged queries get no answer.
 */
import { InMemoryBus } from '../../../src/transport/in-memory-transport';
import { StateClient, StateQueryTimeoutError } from '../../../src/observability/state-client';
import { StateResponder } from '../../../src/observability/state-responder';
import { selectSlice } from '../../../src/observability/state-query';
import { ownerCannotJudge } from '../../../src/observability/state-merge';
import { SimulatedClock } from '../../../src/util/simulated-clock';
import { BROKER_QUEUE, STATE_TOPIC } from '../../../src/protocol/queues';
import { decodeEnvelope, encodeEnvelope } from '../../../src/serialization/serializer';
import type { StateAnswerMsg, StateRequestMsg } from '../../../src/protocol/messages/state';
import type { TaskItem, WorkerItem } from '../../../src/protocol/state';
import type { TaskId } from '../../../src/protocol/ids';

const settle = async (): Promise<void> => {
  for (let i = 0; i < 5; i++) await new Promise<void>((r) => setImmediate(r));
};
const task = (id: string, extra: Partial<TaskItem> = {}): TaskItem => ({ taskId: id, attemptNumber: 0, name: 'f', state: 'FINISHED', jobId: 'j', type: 'NORMAL_TASK', funcOrClassName: 'f', ...extra });

async function setup() {
  const bus = new InMemoryBus();
  const clock = new SimulatedClock(1000);
  const connect = async () => {
    const t = bus.connect();
    await t.connect();
    return t;
  };
  const ownerA = new StateResponder(await connect(), { kind: 'driver', id: 'driver-a', pid: 100 });
  ownerA.on('tasks', (q) => ({ ...selectSlice('tasks', [task('a1'), task('a2', { workerId: 'w1', state: 'RUNNING' })], q), dropped: 2 }));
  const ownerB = new StateResponder(await connect(), { kind: 'driver', id: 'driver-b', pid: 200 });
  // As a core answers: what only the running worker knows is left to the merge.
  ownerB.on('tasks', (q) => selectSlice('tasks', [task('b1', { type: 'ACTOR_TASK', state: 'SUBMITTED_TO_WORKER', actorId: 'x' })], q, ownerCannotJudge));
  const worker = new StateResponder(await connect(), { kind: 'worker', id: 'w1', pid: 300 });
  worker.on('tasks', () => ({ running: [['b1' as TaskId, 'A.m']] }));
  const node = new StateResponder(await connect(), { kind: 'node', id: 'n1', pid: 400 });
  node.on('workers', (q) => selectSlice('workers', [{ workerId: 'w1', workerType: 'WORKER', isAlive: true, pid: 300 } as WorkerItem], q));
  for (const r of [ownerA, ownerB, worker, node]) await r.start();
  const client = new StateClient(await connect(), { clock, quietMs: 250, maxWaitMs: 3000, requestTimeoutMs: 1000 });
  return { bus, clock, client, connect, responders: [ownerA, ownerB, worker, node] };
}

async function finish<T>(clock: SimulatedClock, p: Promise<T>, ms = 250): Promise<T> {
  await settle();
  await clock.advance(ms);
  return p;
}

test('a broadcast query merges every holder\'s answer once none came for the quiet period', async () => {
  const { clock, client, connect, responders } = await setup();
  // The broker answers the actor lookup the merge makes for the actor call.
  const broker = await connect();
  await broker.assertQueue(BROKER_QUEUE);
  await broker.consume(BROKER_QUEUE, (d) => {
    d.ack();
    const req = decodeEnvelope(d.body) as StateRequestMsg;
    const answer: StateAnswerMsg = { t: 'state-answer', req: req.req, from: { kind: 'broker', id: 'broker' }, items: [], total: 0, more: false };
    void broker.publish(req.reply, encodeEnvelope(answer));
  }, { prefetch: 0 });
  const p = client.list('tasks', { filters: [], limit: 10, detail: false });
  const r = await finish(clock, p);
  expect(r.items.map((t) => [t.taskId, t.state, t.workerPid])).toEqual([
    ['a1', 'FINISHED', undefined],
    ['a2', 'RUNNING', 300],
    ['b1', 'RUNNING', 300],
  ]);
  expect(r).toMatchObject({ nextCursor: null, dropped: 2, total: 3 });
  const running = await finish(clock, client.list('tasks', { filters: [['state', '=', 'RUNNING']], limit: 1, detail: false }));
  expect(running.items.map((t) => t.taskId)).toEqual(['a2']);
  expect(running.nextCursor).toBe('a2');
  const next = await finish(clock, client.list('tasks', { filters: [['state', '=', 'RUNNING']], limit: 1, detail: false, cursor: 'a2' }));
  expect(next.items.map((t) => t.taskId)).toEqual(['b1']);
  expect(next.nextCursor).toBeNull();
  for (const x of responders) await x.stop();
});

test('the collection waits while answers keep coming, up to its limit', async () => {
  const { clock, client, responders } = await setup();
  const p = client.list('workers', { filters: [], limit: 10, detail: false });
  await settle();
  await clock.advance(249);
  let done = false;
  void p.then(() => (done = true));
  await settle();
  expect(done).toBe(false);
  await clock.advance(1);
  const r = await p;
  expect(r.items).toEqual([{ workerId: 'w1', workerType: 'WORKER', isAlive: true, pid: 300 }]);
  for (const x of responders) await x.stop();
});

test('the quiet period counts from when the query is out, not from when it was asked', async () => {
  const { bus, clock, responders } = await setup();
  // A bus whose broadcasts are confirmed 300 ms after they were delivered (a loaded broker),
  // and a process that answers 400 ms after it heard the query: 100 ms after the confirm.
  const inner = bus.connect();
  await inner.connect();
  const slow = new Proxy(inner, {
    get(target, prop) {
      const v = Reflect.get(target, prop) as unknown;
      if (prop === 'broadcast') return (topic: string, body: Uint8Array) => target.broadcast(topic, body).then(() => new Promise<void>((r) => clock.setTimeout(r, 300)));
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
  const late = bus.connect();
  await late.connect();
  await late.subscribe(STATE_TOPIC, (body) => {
    const q = decodeEnvelope(body) as { req: StateAnswerMsg['req']; reply: string };
    const item = { workerId: 'late', workerType: 'WORKER', isAlive: true, pid: 500 };
    const answer: StateAnswerMsg = { t: 'state-answer', req: q.req, from: { kind: 'node', id: 'late' }, items: [item], total: 1, more: false };
    clock.setTimeout(() => void late.publish(q.reply, encodeEnvelope(answer)), 400);
  });
  const client = new StateClient(slow, { clock, quietMs: 250, maxWaitMs: 3000, requestTimeoutMs: 1000 });
  const p = client.list('workers', { filters: [['workerId', '=', 'late']], limit: 10, detail: false });
  await settle();
  for (let i = 0; i < 8; i++) {
    await clock.advance(100);
    await settle();
  }
  expect((await p).items).toEqual([{ workerId: 'late', workerType: 'WORKER', isAlive: true, pid: 500 }]);
  await late.close();
  await inner.close();
  for (const x of responders) await x.stop();
});

test('a query for what only the broker knows fails clearly when no broker answers', async () => {
  const { clock, client, connect } = await setup();
  const t = await connect();
  await t.assertQueue(BROKER_QUEUE);
  const p = client.list('actors', { filters: [], limit: 10, detail: false });
  const failed = expect(p).rejects.toThrow(StateQueryTimeoutError);
  await settle();
  await clock.advance(1000);
  await failed;
  await expect(p).rejects.toThrow(/the broker did not answer within 1000 ms/);
});

test('a query whose reply address is not a reply queue is not answered', async () => {
  const { bus, responders } = await setup();
  const t = bus.connect();
  await t.connect();
  await t.assertQueue('raybus.broker');
  const got: unknown[] = [];
  await t.consume('raybus.broker', (d) => {
    d.ack();
    got.push(decodeEnvelope(d.body));
  }, { prefetch: 0 });
  await t.broadcast(STATE_TOPIC, encodeEnvelope({ t: 'state-query', req: 'r1', reply: 'raybus.broker', what: 'tasks', filters: [], limit: 10, detail: false }));
  await t.broadcast(STATE_TOPIC, encodeEnvelope({ t: 'state-query', req: 'r1', reply: 5 }));
  await settle();
  expect(got).toEqual([]);
  for (const x of responders) await x.stop();
});

test('an answer too big for the transport is cut, and says there is more', async () => {
  const bus = new InMemoryBus();
  const t = bus.connect();
  await t.connect();
  Object.defineProperty(t, 'capabilities', { value: { singleActiveConsumer: true, requeueAtHead: true, queueExpiry: true, maxMessageBytes: 64 * 1024, leases: false } });
  const r = new StateResponder(t, { kind: 'driver', id: 'd', pid: 1 });
  const rows = Array.from({ length: 2000 }, (_, i) => task(`t${String(i).padStart(5, '0')}`, { errorMessage: 'x'.repeat(100) }));
  r.on('tasks', (q) => selectSlice('tasks', rows, q));
  await t.assertQueue('raybus.reply.q');
  const answers: StateAnswerMsg[] = [];
  await t.consume('raybus.reply.q', (d) => {
    d.ack();
    answers.push(decodeEnvelope(d.body) as StateAnswerMsg);
  }, { prefetch: 0 });
  await r.start();
  await t.broadcast(STATE_TOPIC, encodeEnvelope({ t: 'state-query', req: 'r1', reply: 'raybus.reply.q', what: 'tasks', filters: [], limit: 2000, detail: true }));
  await settle();
  expect(answers).toHaveLength(1);
  expect(answers[0]!.more).toBe(true);
  expect(answers[0]!.items.length).toBeGreaterThan(100);
  expect(answers[0]!.items.length).toBeLessThan(2000);
  expect((answers[0]!.items[0] as TaskItem).taskId).toBe('t00000');
  await r.stop();
});
