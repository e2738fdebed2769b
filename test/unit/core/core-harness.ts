/**
 * A CoreWorker on the in-memory bus with a SimulatedClock, and fakes of the processes it talks
 * to: a broker and workers that are plain consumers on the bus, reading and answering with
 * real envelopes. No worker processes.
 */
import { InMemoryBus, type InMemoryTransport } from '../../../src/transport/in-memory-transport';
import { CoreWorker, type CoreWorkerOptions } from '../../../src/core/core-worker';
import { SimulatedClock } from '../../../src/util/simulated-clock';
import { decodeEnvelope, encodeEnvelope, encodeValue } from '../../../src/serialization/serializer';
import { BROKER_QUEUE, nodeQueue, replyQueue, workerQueue } from '../../../src/protocol/queues';
import type { BrokerMsg } from '../../../src/protocol/messages/broker';
import type { NodeMsg } from '../../../src/protocol/messages/node';
import type { ReplyMsg } from '../../../src/protocol/messages/reply';
import type { TaskMsg } from '../../../src/protocol/messages/worker';
import { returnId, type JobId, type LeaseId, type NodeId, type ProcId, type ReplyQueue, type RequestId, type TaskId, type WorkerId } from '../../../src/protocol/ids';
import type { WireOutcome } from '../../../src/protocol/wire';
import { NormalTask, type TaskKind } from '../../../src/core/normal-task';

/** Let the bus deliver: its dispatch runs in microtasks, lease returns on the next turn. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 3; i++) await new Promise<void>((r) => setImmediate(r));
}

/** A consumer of one queue that keeps what it received, decoded. */
export class Inbox<M> {
  readonly received: M[] = [];
  constructor(
    readonly transport: InMemoryTransport,
    readonly queue: string,
  ) {}

  static async open<M>(bus: InMemoryBus, queue: string): Promise<Inbox<M>> {
    const t = bus.connect();
    await t.connect();
    await t.assertQueue(queue);
    const inbox = new Inbox<M>(t, queue);
    await t.consume(
      queue,
      (d) => {
        d.ack();
        inbox.received.push(decodeEnvelope(d.body) as M);
      },
      { prefetch: 0 },
    );
    return inbox;
  }

  /** Received messages tagged `t`. */
  of<T extends string>(t: T): Array<Extract<M, { t: T }>> {
    return this.received.filter((m) => (m as { t?: string }).t === t) as Array<Extract<M, { t: T }>>;
  }

  /** Forget what was received so far. */
  clear(): void {
    this.received.length = 0;
  }

  /** Publish a real envelope as this participant. */
  sendTo(queue: string, msg: unknown): void {
    this.transport.publishSync(queue, encodeEnvelope(msg));
  }
}

/** The broker's side of leases, answering an owner. */
export class FakeBroker {
  private leases = 0;
  constructor(
    readonly inbox: Inbox<BrokerMsg>,
    readonly owner: ReplyQueue,
  ) {}

  get requests(): Array<Extract<BrokerMsg, { t: 'request-lease' }>> {
    return this.inbox.of('request-lease');
  }

  /** Grant the lease request `req` with `worker` (on `node`). */
  grant(req: RequestId, worker: FakeWorker, node = 'node-1' as NodeId): LeaseId {
    const lease = `lease-${++this.leases}` as LeaseId;
    this.inbox.sendTo(this.owner, { t: 'lease-granted', req, lease, worker: worker.id, node } satisfies ReplyMsg);
    return lease;
  }

  fail(req: RequestId, err: { name: string; message: string }): void {
    this.inbox.sendTo(this.owner, { t: 'lease-failed', req, err } satisfies ReplyMsg);
  }

  /** Work of some owner waits for resources: ask for idle leases back. */
  wantLeases(): void {
    this.inbox.sendTo(this.owner, { t: 'leases-wanted' } satisfies ReplyMsg);
  }

  lose(lease: LeaseId, reason = 'worker died', fatal?: boolean): void {
    this.inbox.sendTo(this.owner, { t: 'lease-lost', lease, reason, ...(fatal ? { fatal } : {}) } satisfies ReplyMsg);
  }
}

/** A worker: its task queue and its reply queue (where cancel-task arrives). */
export class FakeWorker {
  constructor(
    readonly id: WorkerId,
    readonly tasks: Inbox<TaskMsg>,
    readonly replies: Inbox<ReplyMsg>,
  ) {}

  static async start(bus: InMemoryBus, id: string): Promise<FakeWorker> {
    const wid = id as WorkerId;
    return new FakeWorker(wid, await Inbox.open<TaskMsg>(bus, workerQueue(wid)), await Inbox.open<ReplyMsg>(bus, replyQueue(wid)));
  }

  /** Ids of the tasks pushed to this worker, in push order. */
  get pushed(): TaskId[] {
    return this.tasks.received.map((m) => m.task);
  }

  /** Answer `task` as its worker would: `value`, or an outcome, taking `us` µs. */
  reply(task: TaskMsg, value: unknown, us = 100, extra: { retire?: boolean } = {}): void {
    const out: WireOutcome = isOutcome(value) ? value : { d: encodeValue(value) };
    this.replies.sendTo(task.owner, { t: 'result', task: task.task, rets: [out], us, ...extra } satisfies ReplyMsg);
  }

  /** Give back tasks queued behind a waiting one (`blocked`: it waits in get/wait). */
  giveBack(lease: LeaseId, owner: ReplyQueue, tasks: TaskId[], blocked = false): void {
    this.replies.sendTo(owner, { t: 'tasks-returned', lease, tasks, ...(blocked ? { blocked } : {}) } satisfies ReplyMsg);
  }
}

function isOutcome(v: unknown): v is WireOutcome {
  return typeof v === 'object' && v !== null && ('e' in v || ('d' in v && (v as { d: unknown }).d instanceof Uint8Array));
}

/** A started CoreWorker with a simulated clock, a fake broker and a node queue. */
export interface Harness {
  readonly bus: InMemoryBus;
  readonly clock: SimulatedClock;
  readonly core: CoreWorker;
  readonly broker: FakeBroker;
  readonly node: Inbox<NodeMsg>;
  stop(): Promise<void>;
}

let procs = 0;

/** Start a CoreWorker (a driver) on a fresh bus. */
export async function startCore(options: Partial<CoreWorkerOptions> = {}, bus = new InMemoryBus()): Promise<Harness> {
  const clock = new SimulatedClock();
  const transport = bus.connect();
  await transport.connect();
  const core = new CoreWorker({
    procId: `driver-test${++procs}` as ProcId,
    transport,
    jobId: 'job1' as JobId,
    namespace: 'test',
    isDriver: true,
    clock,
    ...options,
  });
  const broker = new FakeBroker(await Inbox.open<BrokerMsg>(bus, BROKER_QUEUE), core.address);
  const node = await Inbox.open<NodeMsg>(bus, nodeQueue('node-1' as NodeId));
  await core.start();
  return {
    bus,
    clock,
    core,
    broker,
    node,
    async stop() {
      await core.stop();
      await transport.close();
      await broker.inbox.transport.close();
      await node.transport.close();
    },
  };
}

let tasks = 0;

/** A normal task as `.remote()` builds it (a 1-CPU function `fn`). */
export function makeTask(core: CoreWorker, overrides: Partial<TaskKind> = {}): NormalTask {
  const taskId = core.newId<TaskId>();
  const key = overrides.key ?? 'cpu1';
  return new NormalTask(taskId, [returnId(taskId, 0)], {
    fn: { id: `fn-${key}`, name: `fn${++tasks}`, kind: 'function', source: '() => 1' },
    nret: 1,
    demand: { CPU: 1 },
    strategy: { kind: 'DEFAULT' },
    key,
    maxRetries: 3,
    maxCalls: 0,
    retryExceptions: false,
    ctx: { jobId: 'job1' as JobId, namespace: 'test' },
    bp: undefined,
    parentTaskId: undefined,
    ...overrides,
  });
}

/** Submit a task and hold its return ref (so it stays alive while the test waits on it). */
export function submit(core: CoreWorker, overrides: Partial<TaskKind> = {}, args: unknown[] = []): { task: NormalTask; ref: ReturnType<CoreWorker['ownedRef']> } {
  const task = makeTask(core, overrides);
  const ref = core.ownedRef(task.returnIds[0]!);
  core.submitTask(task, args);
  return { task, ref };
}
