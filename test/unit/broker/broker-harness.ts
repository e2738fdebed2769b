/**
 * A broker server on the in-memory bus with a simulated clock, driven the way the cluster
 * drives it: real envelopes published to `raybus.broker`, and fake nodes and owners that are
 * plain consumers of their queues, recording what the broker sends them. No processes, no
 * real timers: the bus delivers on microtasks, and `settle()` waits until they are done.
 */
import { InMemoryBus, type InMemoryTransport } from '../../../src/transport/in-memory-transport';
import { BrokerServer, type BrokerServerOptions } from '../../../src/broker/broker-server';
import { BROKER_QUEUE, actorQueue, nodeQueue, presenceQueue } from '../../../src/protocol/queues';
import type { BrokerMsg } from '../../../src/protocol/messages/broker';
import type { CallMsg } from '../../../src/protocol/messages/mailbox';
import type { ActorId, JobId, NodeId, ReplyQueue, TaskId } from '../../../src/protocol/ids';
import type { ActorSpec, Resources, WireStrategy } from '../../../src/protocol/wire';
import { decodeEnvelope, encodeEnvelope } from '../../../src/serialization/serializer';
import { SimulatedClock } from '../../../src/util/simulated-clock';
import type { Subscription } from '../../../src/transport/transport';

/** A decoded message with its tag. */
export type Msg = { t: string } & Record<string, unknown>;

/** What a fake node or owner received, in order. */
export class Inbox {
  readonly messages: Msg[] = [];

  constructor(readonly queue: string) {}

  /** The messages tagged `t`. */
  of(t: string): Msg[] {
    return this.messages.filter((m) => m.t === t);
  }

  clear(): void {
    this.messages.length = 0;
  }
}

/** Let every delivery the bus has queued (and what it causes) happen: the bus runs on microtasks. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 3; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

/** A broker server under test, its bus, its clock, and the warnings it printed. */
export class BrokerHarness {
  readonly bus: InMemoryBus;
  readonly clock: SimulatedClock;
  readonly warnings: string[] = [];
  readonly server: BrokerServer;
  /** The connection of the test's fake nodes and owners. */
  readonly client: InMemoryTransport;
  private readonly subs: Subscription[] = [];

  private constructor(options: BrokerServerOptions, clock: SimulatedClock, bus: InMemoryBus) {
    this.clock = clock;
    this.bus = bus;
    const transport = this.bus.connect();
    this.server = new BrokerServer(transport, { clock, warn: (m) => this.warnings.push(m), random: () => 0, ...options });
    this.client = this.bus.connect();
  }

  /** A started server (and its connections) with `options`, on `bus` (default: a full in-memory bus). */
  static async start(options: BrokerServerOptions = {}, clock = new SimulatedClock(), bus = new InMemoryBus()): Promise<BrokerHarness> {
    const h = new BrokerHarness(options, clock, bus);
    await h.client.connect();
    await h.server.start();
    await settle();
    return h;
  }

  /** Publish `msg` to `raybus.broker` and let the broker handle it. */
  async send(msg: BrokerMsg): Promise<void> {
    await this.client.publish(BROKER_QUEUE, encodeEnvelope(msg));
    await settle();
  }

  /** Consume `queue` (declared if needed) and record what arrives. */
  async listen(queue: string): Promise<Inbox> {
    const inbox = new Inbox(queue);
    await this.client.assertQueue(queue);
    this.subs.push(
      await this.client.consume(
        queue,
        (d) => {
          d.ack();
          inbox.messages.push(decodeEnvelope(d.body) as Msg);
        },
        { prefetch: 0 },
      ),
    );
    return inbox;
  }

  /** A fake node: its queue is consumed, then it registers with `resources`. */
  async node(id: string, resources: Resources): Promise<Inbox> {
    const inbox = await this.listen(nodeQueue(id as NodeId));
    await this.send({ t: 'node-register', node: id as NodeId, resources, labels: {} });
    return inbox;
  }

  /** Consume the presence queue `raybus.presence.<id>` (auto-delete): cancel it to "die". */
  async presence(id: string): Promise<Subscription> {
    const queue = presenceQueue(id);
    await this.client.assertQueue(queue, { autoDelete: true });
    return this.client.consume(queue, (d) => d.ack(), { prefetch: 0 });
  }

  /** A fake owner (driver `driver-<name>`): its reply queue is consumed. */
  async owner(name: string): Promise<{ queue: ReplyQueue; inbox: Inbox }> {
    const queue = `raybus.reply.driver-${name}` as ReplyQueue;
    return { queue, inbox: await this.listen(queue) };
  }

  /** Ask for a task lease as an owner does. */
  async requestLease(owner: ReplyQueue, req: string, demand: Resources, strategy: WireStrategy = { kind: 'DEFAULT' }): Promise<void> {
    await this.send({ t: 'request-lease', req: req as never, owner, demand, strategy, desc: req });
  }

  /** Call a method of `actor` through its mailbox, as a handle does. */
  async call(actor: string, owner: ReplyQueue, task: string): Promise<void> {
    const call: CallMsg = { t: 'call', task: task as TaskId, method: 'm', args: [], nret: 1, owner, ctx: { jobId: 'j' as JobId, namespace: 'ns', attempt: 0 }, retries: 0 };
    await this.client.assertQueue(actorQueue(actor as ActorId));
    await this.client.publish(actorQueue(actor as ActorId), encodeEnvelope(call));
    await settle();
  }

  /** Move simulated time and let what it caused settle. */
  async advance(ms: number): Promise<void> {
    await this.clock.advance(ms);
    await settle();
  }

  async stop(): Promise<void> {
    for (const s of this.subs) await s.cancel();
    await this.server.stop();
    await this.client.close();
  }
}

/** An actor spec as `Cls.remote()` sends it. */
export function actorSpec(id: string, options: Partial<ActorSpec> & { name?: string; owner?: ReplyQueue } = {}): ActorSpec {
  const actorId = id as ActorId;
  const { name, ...rest } = options;
  return {
    actorId,
    cls: { id: 'cls', name: 'Box', kind: 'class', source: 'class Box {}' },
    args: [],
    owner: 'raybus.reply.driver-x' as ReplyQueue,
    meta: { actorId, className: 'Box', methods: {}, isAsync: false, maxTaskRetries: 0, maxPendingCalls: -1, namespace: 'ns', ...(name !== undefined ? { name } : {}) },
    placement: { CPU: 1 },
    lifetime: {},
    strategy: { kind: 'DEFAULT' },
    maxRestarts: 0,
    detached: false,
    maxConcurrency: 1,
    ctx: { jobId: 'j' as JobId, namespace: 'ns', attempt: 0 },
    getIfExists: false,
    ...rest,
  };
}
