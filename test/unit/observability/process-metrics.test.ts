/**
 * The `metrics` state query: each process answers with its bus counters and (an owner) its task
 * durations; the querier sums them, counting a process once however many of its parts answer.
 * A dashboard keeps one state session open instead of a reply queue per query.
 */
import { InMemoryBus } from '../../../src/transport/in-memory-transport';
import { StateClient } from '../../../src/observability/state-client';
import { StateResponder } from '../../../src/observability/state-responder';
import { mergeMetrics, processMetrics } from '../../../src/observability/process-metrics';
import { transportCounters } from '../../../src/transport/transport-counters';
import { SimulatedClock } from '../../../src/util/simulated-clock';
import type { StateAnswerMsg } from '../../../src/protocol/messages/state';
import type { ProcessMetrics } from '../../../src/protocol/state';
import type { RequestId } from '../../../src/protocol/ids';
import type { Transport } from '../../../src/transport/transport';

const settle = async (): Promise<void> => {
  for (let i = 0; i < 5; i++) await new Promise<void>((r) => setImmediate(r));
};
const answer = (metrics: ProcessMetrics): StateAnswerMsg => ({ t: 'state-answer', req: 'r' as RequestId, from: { kind: 'worker', id: 'w' }, items: [], total: 0, more: false, metrics });

test('mergeMetrics sums processes, each once (its parts merged by id)', () => {
  const merged = mergeMetrics(
    [
      answer({ proc: 'p1', transport: { sent: 10, sentBytes: 100, received: 5, receivedBytes: 50 } }),
      // The same process's core, with its durations: not a second process.
      answer({ proc: 'p1', durations: { counts: [1, 2, 0], sum: 0.5, count: 3 }, transport: { sent: 10, sentBytes: 100, received: 5, receivedBytes: 50 } }),
      answer({ proc: 'p2', durations: { counts: [0, 1, 1], sum: 9, count: 2 }, transport: { sent: 1, sentBytes: 2, received: 3, receivedBytes: 4 } }),
    ],
    2,
  );
  expect(merged.processes).toBe(2);
  expect(merged.transport).toEqual({ sent: 11, sentBytes: 102, received: 8, receivedBytes: 54 });
  expect(merged.durations).toEqual({ counts: [1, 3, 1], sum: 9.5, count: 5 });
});

test('processMetrics reads the counters of the bus this process moved', async () => {
  const before = processMetrics().transport!;
  const bus = new InMemoryBus();
  const t = bus.connect();
  await t.connect();
  await t.assertQueue('q');
  await t.consume('q', (d) => d.ack(), { prefetch: 0 });
  await t.publish('q', new Uint8Array(7));
  await settle();
  const after = processMetrics().transport!;
  expect(after.sent - before.sent).toBe(1);
  expect(after.sentBytes - before.sentBytes).toBe(7);
  expect(after.received - before.received).toBe(1);
  expect(after.receivedBytes - before.receivedBytes).toBe(7);
  expect(transportCounters.sent).toBe(after.sent);
});

describe('StateClient.metrics and a kept session', () => {
  async function setup() {
    const bus = new InMemoryBus();
    const clock = new SimulatedClock(1000);
    const declared: string[] = [];
    const connect = async (): Promise<Transport> => {
      const t = bus.connect();
      await t.connect();
      return t;
    };
    const owner = new StateResponder(await connect(), { kind: 'driver', id: 'd', pid: 1 });
    owner.on('metrics', () => ({ metrics: processMetrics({ counts: [2, 0], sum: 0.002, count: 2 }) }));
    await owner.start();
    const raw = await connect();
    const watched: Transport = Object.assign(Object.create(raw) as Transport, {
      assertQueue: (q: string, o?: object) => {
        declared.push(q);
        return raw.assertQueue(q, o);
      },
    });
    const client = new StateClient(watched, { clock, quietMs: 250, maxWaitMs: 3000 });
    return { clock, client, declared, owner };
  }

  test('metrics() collects the answers of a metrics query', async () => {
    const { clock, client, owner } = await setup();
    const p = client.metrics();
    await settle();
    await clock.advance(250);
    const m = await p;
    expect(m.processes).toBe(1);
    expect(m.durations.count).toBe(2);
    expect(m.durations.counts.slice(0, 2)).toEqual([2, 0]);
    await owner.stop();
  });

  test('keepSession: one reply queue for every query until close(); without it, one per query', async () => {
    const { clock, client, declared, owner } = await setup();
    const ask = async (): Promise<void> => {
      const p = client.metrics();
      await settle();
      await clock.advance(250);
      await p;
    };
    await ask();
    await ask();
    expect(declared).toHaveLength(2);
    await client.keepSession();
    await ask();
    await ask();
    await ask();
    expect(declared).toHaveLength(3);
    await client.close();
    await ask();
    expect(declared).toHaveLength(4);
    await owner.stop();
  });
});
