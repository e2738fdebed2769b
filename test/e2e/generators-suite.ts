/**
 * Generators over a message bus (Ray's "Ray Generators" docs): streaming order, errors,
 * backpressure, dynamic, and actor generator methods, on a test Cluster of real `raybus start`
 * processes. Written once and run per bus (amqp-generators.test.ts, nats-generators.test.ts),
 * on a server of the suite's own (cluster-buses.ts).
 */
import type * as Ray from '../../src/index';
import type * as Testing from '../../src/testing/index';
import { lockAmqpSuites } from './amqp-e2e-helpers';
import type { BusServer, ClusterBus } from './cluster-buses';

const ray: typeof Ray = require('raybus');
const { Cluster }: typeof Testing = require('raybus/testing');

const T = { timeoutMs: 60_000 };

const count = ray.remote(function* (n: number) {
  for (let i = 0; i < n; i++) yield i;
});

async function drain<T>(gen: AsyncIterable<Ray.ObjectRef<T>>): Promise<Array<T | string>> {
  const out: Array<T | string> = [];
  for await (const ref of gen) {
    try {
      out.push(await ray.get(ref, T));
    } catch (e) {
      out.push(`error:${((e as Error).cause as Error | undefined)?.message ?? (e as Error).message}`);
    }
  }
  return out;
}

/** The generator suite on `bus`. */
export function describeGeneratorSuite(bus: ClusterBus): void {
bus.describe(`generators on ${bus.name}`, () => {
  let server: BusServer;
  let cluster: Testing.Cluster;
  let unlock: () => void = () => undefined;

  beforeAll(async () => {
    // Another cluster suite may hold the lock for minutes (a stale one is taken over after 10).
    unlock = await lockAmqpSuites(660_000);
    server = await bus.start();
    cluster = await Cluster.start({ address: server.url, nodes: [{ numCpus: 2 }] });
    await ray.init({ address: cluster.address });
    // Waiting for another suite's cluster to finish (the lock) counts too.
  }, 720_000);

  afterAll(async () => {
    await ray.shutdown().catch(() => undefined);
    await cluster?.shutdown();
    await server?.stop();
    unlock();
  }, 60_000);

  test('items arrive in order, then the end; an error is the last item', async () => {
    expect(await drain(count.remote(50))).toEqual(Array.from({ length: 50 }, (_, i) => i));
    const failing = ray.remote(function* () {
      yield 'a';
      throw new Error('broke');
    });
    expect(await drain(failing.remote())).toEqual(['a', 'error:broke']);
  });

  test('backpressure and dynamic generators', async () => {
    expect(await drain(count.options({ backpressure: 2 }).remote(10))).toEqual(Array.from({ length: 10 }, (_, i) => i));
    const gen = await ray.get(count.options({ numReturns: 'dynamic' }).remote(4), T);
    expect(await ray.get([...gen], T)).toEqual([0, 1, 2, 3]);
  });

  test('actor generator methods stream', async () => {
    const A = ray.remote(
      class A {
        async *ticks(n: number) {
          for (let i = 0; i < n; i++) yield `t${i}`;
        }
      },
    );
    expect(await drain(A.remote().ticks.remote(3))).toEqual(['t0', 't1', 't2']);
  });
});
}
