/**
 * raybus on a message bus, end to end, written once and run per bus (amqp-cluster.test.ts,
 * nats-cluster.test.ts): a test Cluster of real `raybus start` processes on the bus, drivers
 * in this process and in child processes, and the failures a cluster must survive — node
 * processes SIGKILLed (the broker leader's too), a restart of the bus server, malformed
 * messages, wrong credentials and a wrong cluster key; and values far larger than one
 * message of the bus (big-values-cases.ts). The suite runs on a server of its own
 * (cluster-buses.ts), which the restart case restarts: the machine's brokers are never
 * stopped. Skipped where that server is not installed (failing with CI=true).
 */
import { randomBytes } from 'node:crypto';
import type * as Ray from '../../src/index';
import type * as Testing from '../../src/testing/index';
import { openClusterTransport as createBrokerTransport } from '../../src/runtimes/open-transport';
import { clusterState } from '../../src/broker/broker-query';
import { encodeEnvelope } from '../../src/serialization/serializer';
import type { Transport } from '../../src/transport/transport';
import { eventually, lockAmqpSuites, spawnDriver } from './amqp-e2e-helpers';
import { statusLog, type BusServer, type ClusterBus } from './cluster-buses';
import { declareBigValueCases } from './big-values-cases';

const ray: typeof Ray = require('raybus');

const { Cluster }: typeof Testing = require('raybus/testing');

const T = { timeoutMs: 60_000 };

interface BoxApi {
  get(): number;
}
interface EchoApi {
  echo(x: string): string;
}
const NS = 'cluster-e2e';

/** An actor that tasks report to, and that the test waits on (no fixed sleeps). */
const Latch = ray.remote(
  class Latch {
    n = 0;
    waiting: Array<{ n: number; resolve: () => void }> = [];
    async arrive() {
      this.n += 1;
      for (const w of this.waiting.filter((x) => x.n <= this.n)) w.resolve();
      this.waiting = this.waiting.filter((x) => x.n > this.n);
      return this.n;
    }
    async reached(n: number) {
      if (this.n >= n) return this.n;
      await new Promise<void>((resolve) => this.waiting.push({ n, resolve }));
      return this.n;
    }
  },
);

/** A task that reports its start to a latch, then works for `ms`. */
const slowTask = ray.remote(async (latch: { arrive: { remote(): unknown } }, ms: number, i: number) => {
  const ctx = ray.getRuntimeContext();
  await ray.get(latch.arrive.remote() as Ray.ObjectRef<number>);
  await new Promise((r) => setTimeout(r, ms));
  return { i, node: ctx.nodeId, attempt: ctx.attempt, pid: process.pid };
});

/** The cluster suite on `bus`. */
export function describeClusterSuite(bus: ClusterBus): void {
bus.describe(`raybus on ${bus.name}: a cluster of raybus start processes`, () => {
  let server: BusServer;
  let cluster: Testing.Cluster;
  let admin: Transport;
  let unlock: () => void = () => undefined;

  beforeAll(async () => {
    // Another cluster suite may hold the lock for minutes (a stale one is taken over after 10).
    unlock = await lockAmqpSuites(660_000);
    server = await bus.start();
    cluster = await Cluster.start({ address: server.url, nodes: [{ numCpus: 2 }, { numCpus: 2 }] });
    await ray.init({ address: cluster.address, namespace: NS });
    // A key holder: the malformed messages below pass authentication and reach the decoders.
    admin = createBrokerTransport(cluster.address, { connectionName: 'raybus e2e admin', clusterKey: cluster.clusterKey! });
    await admin.connect();
    // Waiting for another suite's cluster to finish (the lock) counts too.
  }, 720_000);

  afterAll(async () => {
    await ray.shutdown().catch(() => undefined);
    await admin?.close().catch(() => undefined);
    await cluster?.shutdown();
    await server?.stop();
    unlock();
  }, 90_000);

  test('tasks, nested tasks and actors run on the nodes', async () => {
    const add = ray.remote((a: number, b: number) => a + b);
    expect(await ray.get(add.remote(1, 2), T)).toBe(3);
    const outer = ray.remote(async (n: number) => {
      const inner = ray.remote((x: number) => x * 10);
      return ray.get(inner.remote(n));
    });
    expect(await ray.get(outer.remote(4), T)).toBe(40);
    const Counter = ray.remote(
      class Counter {
        n = 0;
        inc(by: number) {
          this.n += by;
          return this.n;
        }
      },
    );
    const c = Counter.remote();
    expect(await ray.get([c.inc.remote(1), c.inc.remote(2), c.inc.remote(3)], T)).toEqual([1, 3, 6]);
    const nodes = await ray.nodes();
    expect(nodes.filter((n) => n.alive).map((n) => n.nodeId).sort()).toEqual(cluster.nodes.map((n) => n.nodeId).sort());
    expect(ray.getRuntimeContext().nodeId).toBeNull();
  });

  declareBigValueCases(ray);

  // Calls with maxTaskRetries 0 travel batched on RabbitMQ (adapters/amqp/README.md); when the
  // actor dies mid-batch the broker redelivers the whole group. On NATS the calls the dead host
  // held come back ack_wait later, behind nothing (the caller waits), in sequence. Ray's outcome
  // must not change: the calls that ran keep their results, the others fail with
  // RayActorError, none runs twice.
  test('an actor killed in the middle of a batch of calls: finished calls keep their results, the rest fail', async () => {
    const Stepper = ray.remote({ maxRestarts: 1, maxTaskRetries: 0 })(
      class Stepper {
        seen: number[] = [];
        step(i: number, crashAt: number) {
          if (i === crashAt) process.kill(process.pid, 'SIGKILL');
          this.seen.push(i);
          return { i, seen: [...this.seen] };
        }
      },
    );
    const s = Stepper.remote();
    await ray.get(s.step.remote(-1, -2), T);
    const refs = Array.from({ length: 10 }, (_, i) => s.step.remote(i, 5));
    const settled = await Promise.allSettled(refs.map((r) => ray.get(r, T)));
    for (let i = 0; i < 5; i++) {
      expect(settled[i]).toEqual({ status: 'fulfilled', value: { i, seen: [-1, ...Array.from({ length: i + 1 }, (_, k) => k)] } });
    }
    // The calls the dead incarnation held (the one that killed it, and those after it that it
    // had received) fail; calls it never received may run on the restarted one, in order,
    // after those (Ray sends a restarted actor the calls it did not send the dead one). On
    // RabbitMQ all five travel in one batch and fail; on NATS the last may not have reached it.
    const ranLater = settled.slice(5).findIndex((r) => r.status === 'fulfilled');
    const failed = ranLater === -1 ? 5 : ranLater;
    expect(failed).toBeGreaterThanOrEqual(1);
    for (let i = 5; i < 5 + failed; i++) {
      expect(settled[i]!.status).toBe('rejected');
      expect((settled[i] as PromiseRejectedResult).reason).toBeInstanceOf(ray.RayActorError);
    }
    const rerun = Array.from({ length: 5 - failed }, (_, k) => 5 + failed + k);
    for (const i of rerun) {
      expect(settled[i]).toEqual({ status: 'fulfilled', value: { i, seen: rerun.slice(0, rerun.indexOf(i) + 1) } });
    }
    // The restarted actor ran none of the calls the dead one held (its state starts empty).
    expect(await ray.get(s.step.remote(100, -2), T)).toEqual({ i: 100, seen: [...rerun, 100] });
  });

  test("shared actors (isolation: 'shared'): many to a process, each its own; a SIGKILLed host's actors restart, the others keep their state", async () => {
    const Cell = ray.remote({ isolation: 'shared', maxRestarts: 1, maxTaskRetries: 2 })(
      class Cell {
        items: number[] = [];
        add(x: number) {
          this.items.push(x);
          return [...this.items];
        }
        where() {
          return { pid: process.pid, node: ray.getRuntimeContext().nodeId, actor: ray.getRuntimeContext().actorId };
        }
      },
    );
    const cells = Array.from({ length: 100 }, () => Cell.remote());
    expect(await ray.get(cells.map((c, i) => c.add.remote(i)), T)).toEqual(cells.map((_, i) => [i]));
    const where = await ray.get(cells.map((c) => c.where.remote()), T);
    expect(where.map((w) => w.actor)).toEqual(cells.map((c) => (c as unknown as { actorId: string }).actorId));
    // One host process per node at most, however many actors.
    const pids = new Set(where.map((w) => w.pid));
    expect(pids.size).toBeLessThanOrEqual(cluster.nodes.length);
    expect(new Set(where.map((w) => `${w.node}/${w.pid}`)).size).toBe(pids.size);
    await ray.kill(cells[0]!);
    await expect(ray.get(cells[0]!.add.remote(0), T)).rejects.toMatchObject({ name: 'ActorDiedError' });
    const victim = where[1]!.pid;
    process.kill(victim, 'SIGKILL');
    const rest = cells.slice(1).map((c, k) => ({ c, i: k + 1, crashed: where[k + 1]!.pid === victim }));
    // Calls the dead host held are retried on the restarted actors (maxTaskRetries).
    const after = await ray.get(rest.map(({ c }) => c.add.remote(-1)), T);
    rest.forEach(({ i, crashed }, k) => expect(after[k]).toEqual(crashed ? [-1] : [i, -1]));
    await Promise.all(rest.map(({ c }) => ray.kill(c)));
  });

  test('a named actor is found from a second driver process', async () => {
    const Named = ray.remote({ name: 'shared-counter' })(
      class Shared {
        n = 0;
        inc() {
          return ++this.n;
        }
      },
    );
    const h = Named.remote();
    expect(await ray.get(h.inc.remote(), T)).toBe(1);
    const other = spawnDriver(
      cluster.address,
      `await ray.init({ address, namespace: ${JSON.stringify(NS)} });
       const h = await ray.getActor('shared-counter');
       console.log('GOT ' + await ray.get(h.inc.remote()));
       await ray.shutdown();`,
      { RAYBUS_CLUSTER_KEY: cluster.clusterKey },
    );
    expect((await other.line(/GOT (\d+)/))[1]).toBe('2');
    expect(await other.exited()).toBe(0);
    expect(await ray.get(h.inc.remote(), T)).toBe(3);
  });

  test('a detached actor outlives its creator process; a non-detached one dies with it', async () => {
    const creator = spawnDriver(
      cluster.address,
      `await ray.init({ address, namespace: ${JSON.stringify(NS)} });
       const Box = ray.remote(class Box { v = 0; set(v) { this.v = v; return v; } get() { return this.v; } });
       const keeper = Box.options({ name: 'keeper', lifetime: 'detached' }).remote();
       const mortal = Box.options({ name: 'mortal' }).remote();
       await ray.get([keeper.set.remote(42), mortal.set.remote(7)]);
       // Held for good: a non-detached actor lives while a handle to it is reachable.
       globalThis.held = [keeper, mortal];
       console.log('READY');
       // Stays up until killed (a script whose work is done would end, and its actor with it).
       setInterval(() => undefined, 60_000);
       await new Promise(() => undefined);`,
      { RAYBUS_CLUSTER_KEY: cluster.clusterKey },
    );
    await creator.line(/READY/);
    const mortal = await ray.getActor<BoxApi>('mortal');
    expect(await ray.get(mortal.get.remote(), T)).toBe(7);
    // A crash, not a clean shutdown: only the connection loss tells the cluster.
    const killedAt = Date.now();
    creator.child.kill('SIGKILL');
    await creator.exited();
    await eventually(
      async () => {
        try {
          await ray.getActor('mortal');
          return undefined;
        } catch {
          return true;
        }
      },
      15_000,
      'the non-detached actor to die with its creator',
    );
    const detectedMs = Date.now() - killedAt;
    console.log(`non-detached actor died ${detectedMs} ms after its creator was SIGKILLed`);
    expect(detectedMs).toBeLessThan(10_000);
    await expect(ray.get(mortal.get.remote(), T)).rejects.toThrow(/ActorDiedError|dead|died/);
    const keeper = await ray.getActor<BoxApi>('keeper');
    expect(await ray.get(keeper.get.remote(), T)).toBe(42);
    await ray.kill(keeper);
  });

  test('a node SIGKILLed mid-run: its tasks complete elsewhere (retried)', async () => {
    const latch = Latch.remote();
    await ray.get(latch.reached.remote(0), T);
    const victim = await cluster.addNode({ numCpus: 2 });
    const onVictim = slowTask.options({ schedulingStrategy: new ray.NodeAffinitySchedulingStrategy({ nodeId: victim.nodeId, soft: true }) });
    const refs = [0, 1].map((i) => onVictim.remote(latch, 3000, i));
    await ray.get(latch.reached.remote(2), T);
    await cluster.removeNode(victim);
    const results = await ray.get(refs, T);
    for (const r of results) {
      expect(r.node).not.toBe(victim.nodeId);
      expect(r.attempt).toBeGreaterThan(0);
    }
  });

  test('the broker leader node SIGKILLed: scheduling continues', async () => {
    const state = await clusterState(admin);
    const leader = state.leader.nodeId!;
    expect(cluster.nodes.map((n) => n.nodeId)).toContain(leader);
    const spare = await cluster.addNode({ numCpus: 2 });
    // The latch must outlive the leader's node: the retried tasks report to it again.
    const latch = Latch.options({ schedulingStrategy: new ray.NodeAffinitySchedulingStrategy({ nodeId: spare.nodeId, soft: false }) }).remote();
    // Work running on the leader's node when it dies, and work queued behind it.
    const onLeader = slowTask.options({ schedulingStrategy: new ray.NodeAffinitySchedulingStrategy({ nodeId: leader, soft: true }) });
    const running = [0, 1].map((i) => onLeader.remote(latch, 2000, i));
    await ray.get(latch.reached.remote(2), T);
    await cluster.removeNode(leader);
    const after = ray.remote((i: number) => ({ i, node: ray.getRuntimeContext().nodeId }));
    const more = Array.from({ length: 10 }, (_, i) => after.remote(i));
    const done = await ray.get([...running, ...more], T);
    expect(done).toHaveLength(12);
    for (const r of done) expect(r.node).not.toBe(leader);
    const newState = await eventually(async () => {
      const s = await clusterState(admin, 3000);
      return s.leader.nodeId !== leader ? s : undefined;
    }, 20_000, 'a new broker leader');
    expect([spare.nodeId, ...cluster.nodes.map((n) => n.nodeId)]).toContain(newState.leader.nodeId);
    // Actors can still be created and named ones found.
    const Echo = ray.remote({ name: 'after-failover' })(
      class Echo {
        echo(x: string) {
          return x;
        }
      },
    );
    const e = Echo.remote();
    expect(await ray.get(e.echo.remote('hi'), T)).toBe('hi');
    const found = await ray.getActor<EchoApi>('after-failover');
    expect(await ray.get(found.echo.remote('again'), T)).toBe('again');
    // The handle .remote() made keeps the actor alive (the getActor one does not): used last.
    expect(await ray.get(e.echo.remote('kept'), T)).toBe('kept');
  });

  test(`${bus.name} restarted mid-run: every submitted task completes after recovery`, async () => {
    bus.expectOutageWarnings();
    const statuses = statusLog(admin);
    const work = ray.remote(async (i: number) => {
      await new Promise((r) => setTimeout(r, 20));
      return i * 2;
    });
    const Acc = ray.remote(
      class Acc {
        sum = 0;
        add(x: number) {
          this.sum += x;
          return this.sum;
        }
      },
    );
    const acc = Acc.remote();
    expect(await ray.get(acc.add.remote(1), T)).toBe(1);
    const refs: Array<Ray.ObjectRef<number>> = [];
    const submitting = (async () => {
      for (let i = 0; i < 120; i++) {
        refs.push(work.remote(i));
        await new Promise((r) => setImmediate(r));
        if (i % 20 === 19) await new Promise((r) => setTimeout(r, 150));
      }
    })();
    await server.restart();
    const backAt = Date.now();
    await submitting;
    const probe = await ray.get(work.remote(-1), T);
    const recoveryMs = Date.now() - backAt;
    expect(probe).toBe(-2);
    const values = await ray.get(refs, T);
    expect(values).toEqual(Array.from({ length: 120 }, (_, i) => i * 2));
    console.log(`recovery after a broker restart: first new task done ${recoveryMs} ms after the broker was back`);
    expect(statuses).toContain('reconnecting');
    // The actor lived through it (its mailbox is durable).
    expect(await ray.get(acc.add.remote(1), T)).toBeGreaterThanOrEqual(2);
  }, 120_000);

  test('1,000 malformed messages into task, mailbox and broker queues: valid work completes, nothing crashes', async () => {
    const who = ray.remote(async () => {
      await new Promise((r) => setTimeout(r, 200));
      return { worker: ray.getRuntimeContext().workerId!, pid: process.pid };
    });
    const workers = await ray.get(Array.from({ length: 4 }, () => who.remote()), T);
    const Pinger = ray.remote(
      class Pinger {
        n = 0;
        ping() {
          return { n: ++this.n, pid: process.pid };
        }
      },
    );
    const pinger = Pinger.remote();
    const first = await ray.get(pinger.ping.remote(), T);
    const queues = [...new Set(workers.map((w) => `raybus.worker.${w.worker}`)), `raybus.actor.${pinger.actorId}`, 'raybus.broker'];
    const junk = (i: number): Uint8Array => {
      switch (i % 5) {
        case 0:
          return randomBytes(1 + (i % 97));
        case 1:
          return encodeEnvelope({ t: 'task' });
        case 2:
          return encodeEnvelope({ t: 'call', method: 42 });
        case 3:
          return new Uint8Array([0xc0]);
        default:
          return encodeEnvelope({ t: 'host-actor', spec: 'nope' });
      }
    };
    const add = ray.remote((a: number, b: number) => a + b);
    const valid: Array<Ray.ObjectRef<unknown>> = [];
    const publishes: Array<Promise<void>> = [];
    for (let i = 0; i < 1000; i++) {
      publishes.push(admin.publish(queues[i % queues.length]!, junk(i)));
      if (i % 50 === 0) valid.push(add.remote(i, 1), pinger.ping.remote());
    }
    await Promise.all(publishes);
    const results = await ray.get(valid, T);
    expect(results.filter((_, k) => k % 2 === 0)).toEqual(Array.from({ length: 20 }, (_, k) => k * 50 + 1));
    const pings = results.filter((_, k) => k % 2 === 1) as Array<{ n: number; pid: number }>;
    expect(pings.map((p) => p.pid).every((pid) => pid === first.pid)).toBe(true);
    expect(pings[pings.length - 1]!.n).toBe(21);
    // No process crashed: node processes, the workers that got junk, the actor's worker.
    for (const n of cluster.nodes) expect(() => process.kill(cluster.nodePid(n)!, 0)).not.toThrow();
    for (const w of workers) expect(() => process.kill(w.pid, 0)).not.toThrow();
    expect(await ray.get(add.remote(2, 2), T)).toBe(4);
  });

  test('wrong credentials: init fails with a clear error within seconds', async () => {
    const u = new URL(cluster.address);
    u.password = 'definitely-wrong';
    const d = spawnDriver(
      u.toString(),
      `const t = Date.now();
       try { await ray.init({ address }); console.log('UNEXPECTED'); }
       catch (e) { console.log('FAILED in ' + (Date.now() - t) + ' ms: ' + e.message); }
       console.log('INIT ' + ray.isInitialized());`,
    );
    const m = await d.line(/FAILED in (\d+) ms: (.*)/);
    expect(Number(m[1])).toBeLessThan(5000);
    expect(m[2]).toMatch(/refused the user name or password/);
    expect(m[2]).toMatch(bus.refusal);
    expect(m[2]).not.toContain('definitely-wrong');
    await d.line(/INIT false/);
    expect(await d.exited()).toBe(0);
  });

  test('nothing listening at the address: init fails after a few spaced attempts, within seconds', async () => {
    const nowhere = spawnDriver(
      bus.nowhere,
      `const t = Date.now();
       try { await ray.init({ address }); console.log('UNEXPECTED'); }
       catch (e) { console.log('FAILED in ' + (Date.now() - t) + ' ms: ' + e.message); }`,
    );
    const n = await nowhere.line(/FAILED in (\d+) ms: (.*)/);
    expect(Number(n[1])).toBeLessThan(5000);
    expect(n[2]).toMatch(/cannot join the cluster at \w+:\/\/(guest:\*\*\*@)?127.0.0.1:1/);
    expect(n[2]).toMatch(/ECONNREFUSED|CONNECTION_REFUSED|refused/i);
    expect(await nowhere.exited()).toBe(0);
  });

  test('a wrong cluster key: every message of that driver is refused, init fails with a clear error', async () => {
    const d = spawnDriver(
      cluster.address,
      `try { await ray.init({ address, clusterKey: 'not-the-key' }); console.log('UNEXPECTED'); }
       catch (e) { console.log('FAILED: ' + e.message.split('\\n')[0]); }`,
      { RAYBUS_JOIN_TIMEOUT_MS: '3000' },
    );
    const failed = await d.line(/FAILED: (.*)/);
    expect(failed[1]).toMatch(/no broker leader replied/);
    expect(failed[1]).toMatch(/cluster key/);
    expect(await d.exited()).toBe(0);
    // This driver (the Cluster's key) is unaffected.
    expect(await ray.get(ray.remote(() => 'ok').remote(), T)).toBe('ok');
  });

  // A test cluster's name is used once: on a bus shared with others, its shutdown must take
  // every queue of its own along, the ones no stopping process deletes included (the broker's
  // and the election's, the mailboxes of a detached and of a killed actor, the queues of a
  // SIGKILLed node and of its idle worker).
  test("a Cluster's shutdown leaves none of its queues on the bus, a killed node's included", async () => {
    const other = await Cluster.start({ address: server.url, nodes: [{ numCpus: 1 }, { numCpus: 1 }] });
    const name = new URL(other.address).searchParams.get('cluster')!;
    try {
      const victim = other.nodes[1]!.nodeId;
      const driver = spawnDriver(
        other.address,
        `await ray.init({ address });
         const C = ray.remote(class C { pid() { return process.pid; } });
         const kept = C.options({ name: 'kept', lifetime: 'detached' }).remote();
         const killed = C.remote();
         await ray.get([kept.pid.remote(), killed.pid.remote()]);
         await ray.kill(killed);
         const onVictim = ray.remote(() => process.pid).options({
           schedulingStrategy: new ray.NodeAffinitySchedulingStrategy({ nodeId: ${JSON.stringify(victim)}, soft: false }),
         });
         console.log('RAN ' + (await ray.get(onVictim.remote())));
         await ray.shutdown();`,
        { RAYBUS_CLUSTER_KEY: other.clusterKey },
      );
      await driver.line(/RAN \d+/, 60_000);
      expect(await driver.exited()).toBe(0);
      // What the check below reads does show a live cluster's queues.
      expect((await server.queuesOf(name)).length).toBeGreaterThan(0);
      await other.removeNode(victim);
    } finally {
      await other.shutdown();
    }
    expect(await server.queuesOf(name)).toEqual([]);
  }, 120_000);
});
}
