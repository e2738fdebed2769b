/**
 * What a node tells the state API and `raybus logs`: its workers (live, and the dead ones with
 * how they ended), and its workers' log files read through its queue, chunk by chunk, only for
 * worker ids and only to reply queues.
 */
import { mkdtempSync, rmSync, writeFileSync, existsSync, mkdirSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { InMemoryBus } from '../../../src/transport/in-memory-transport';
import type { Transport } from '../../../src/transport/transport';
import { NodeManager } from '../../../src/node/node-manager';
import { WorkerLogs } from '../../../src/node/worker-logs';
import { SimulatedClock } from '../../../src/util/simulated-clock';
import { decodeEnvelope, encodeEnvelope } from '../../../src/serialization/serializer';
import { STATE_TOPIC, nodeQueue } from '../../../src/protocol/queues';
import type { JobId, LeaseId, NodeId, ReplyQueue, RequestId, WorkerId } from '../../../src/protocol/ids';
import type { LogChunkMsg, StateAnswerMsg } from '../../../src/protocol/messages/state';
import type { WorkerItem } from '../../../src/protocol/state';
import { FakeSpawner } from './fake-spawner';

const NODE = 'node0000bbbb' as NodeId;
const REPLY = 'raybus.reply.state-test' as ReplyQueue;
const settle = async (): Promise<void> => {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
};

let dir: string;
let node: NodeManager;
let bus0: Transport;
let inbox: Array<StateAnswerMsg | LogChunkMsg>;
let arrived: () => void = () => undefined;
/** The next message on the reply queue (the node reads files asynchronously), or undefined after 2 s. */
function nextMessage(): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, 2000);
    arrived = () => {
      clearTimeout(timer);
      resolve();
    };
  });
}
let spawner: FakeSpawner;
let clock: SimulatedClock;

beforeEach(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'raybus-node-logs-'));
  const bus = new InMemoryBus();
  const connect = async (): Promise<Transport> => {
    const t = bus.connect();
    await t.connect();
    return t;
  };
  bus0 = await connect();
  await bus0.assertQueue('raybus.broker');
  inbox = [];
  await bus0.assertQueue(REPLY);
  await bus0.consume(
    REPLY,
    (d) => {
      d.ack();
      inbox.push(decodeEnvelope(d.body) as StateAnswerMsg);
      arrived();
    },
    { prefetch: 0 },
  );
  spawner = new FakeSpawner();
  clock = new SimulatedClock(5000);
  node = new NodeManager({ nodeId: NODE, resources: { CPU: 2 }, jobId: 'job1' as JobId, namespace: 'default', connect, workerEntry: 'unused', spawner, clock, logDir: dir });
  await node.start();
});

afterEach(async () => {
  await node.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('the node answers a workers query with its live workers and the dead ones', async () => {
  await bus0.publish(nodeQueue(NODE), encodeEnvelope({ t: 'start-lease', lease: 'g1@n' as LeaseId, req: 'r1' as RequestId, owner: REPLY, demand: { CPU: 1 }, gpuIds: [] }));
  await bus0.publish(nodeQueue(NODE), encodeEnvelope({ t: 'start-lease', lease: 'g2@n' as LeaseId, req: 'r2' as RequestId, owner: REPLY, demand: { CPU: 1 }, gpuIds: [] }));
  await settle();
  const [w1, w2] = spawner.workers;
  w1!.ready();
  w2!.ready();
  await settle();
  await clock.advance(100);
  w2!.exit('worker process 1001 exited with code 3');
  await settle();
  await bus0.broadcast(STATE_TOPIC, encodeEnvelope({ t: 'state-query', req: 'q1', reply: REPLY, what: 'workers', filters: [], limit: 10, detail: true }));
  await settle();
  const answer = inbox.find((m) => m.t === 'state-answer') as StateAnswerMsg;
  expect(answer.from).toEqual({ kind: 'node', id: NODE, nodeId: NODE, pid: process.pid });
  const rows = answer.items as WorkerItem[];
  const live = rows.find((r) => r.pid === w1!.pid)!;
  expect(live).toMatchObject({ workerType: 'WORKER', isAlive: true, nodeId: NODE, state: 'leased', leaseId: 'g1@n', runtimeEnvKey: 'default', startTimeMs: 5000 });
  const dead = rows.find((r) => r.pid === w2!.pid)!;
  expect(dead).toMatchObject({ isAlive: false, state: 'dead', endTimeMs: 5100, exitDetail: 'worker process 1001 exited with code 3' });
});

test('raybus logs reads a worker file through the node, in chunks that end at a line', async () => {
  mkdirSync(path.join(dir), { recursive: true });
  writeFileSync(path.join(dir, 'worker-node0000w1abc.out'), 'first line\nsecond line\nthird\n');
  const read = async (offset: number, max: number, worker = 'node0000w1abc', reply: string = REPLY): Promise<LogChunkMsg | undefined> => {
    inbox.length = 0;
    const next = nextMessage();
    await bus0.publish(nodeQueue(NODE), encodeEnvelope({ t: 'read-log', req: 'l1', reply, worker, stream: 'out', offset, max }));
    // A request the node must not answer: the bus has delivered it once the test's own message comes back.
    if (reply !== REPLY) await bus0.publish(REPLY, encodeEnvelope({ t: 'probe' }));
    await next;
    return inbox.find((m) => m.t === 'log-chunk') as LogChunkMsg | undefined;
  };
  expect(await read(0, 15)).toEqual({ t: 'log-chunk', req: 'l1', data: 'first line\n', next: 11, size: 29 });
  expect(await read(11, 1000)).toMatchObject({ data: 'second line\nthird\n', next: 29, size: 29 });
  expect(await read(29, 1000)).toMatchObject({ data: "", next: 29 });
  expect(await read(0, 10, 'nobody0w1')).toMatchObject({ data: '', err: 'no log file for worker nobody0w1 on this node' });
  expect(await read(0, 10, '../../etc/passwd')).toMatchObject({ err: "not a worker id: '../../etc/passwd'" });
  expect(await read(0, 10, 'node0000w1abc', 'raybus.broker')).toBeUndefined();
});

test('worker log files are made when a worker starts, and removed with an embedded node', () => {
  const logs = new WorkerLogs(path.join(dir, 'n'), false);
  const files = logs.open('abcw1' as WorkerId)!;
  expect(files.out).toBeGreaterThan(2);
  WorkerLogs.close(files);
  expect(existsSync(logs.path('abcw1', 'err'))).toBe(true);
  expect(logs.open('../x')).toBeUndefined();
  logs.cleanup();
  expect(existsSync(path.join(dir, 'n'))).toBe(false);
  const kept = new WorkerLogs(path.join(dir, 'k'), true);
  WorkerLogs.close(kept.open('abcw2'));
  kept.cleanup();
  expect(existsSync(kept.path('abcw2', 'out'))).toBe(true);
});
