/**
 * The in-memory bus hands a message to a consumer that only records deliveries (a node's
 * bridge to a worker: ConsumeOptions.recordsOnly) inside `publish`, so a worker starts on the
 * first calls of a long synchronous run while the caller makes the rest. Order, prefetch and
 * every other consumer's asynchronous delivery stay as they were.
 */
import { InMemoryBus } from '../../../src/transport/in-memory-transport';
import type { Delivery } from '../../../src/transport/transport';

const bytes = (n: number): Uint8Array => new Uint8Array([n]);
const settle = (): Promise<void> => new Promise((r) => setImmediate(r));

async function setup(recordsOnly: boolean, prefetch = 10) {
  const bus = new InMemoryBus();
  const pub = bus.connect();
  const sub = bus.connect();
  await Promise.all([pub.connect(), sub.connect()]);
  await pub.assertQueue('q');
  const got: Delivery[] = [];
  await sub.consume('q', (d) => got.push(d), { prefetch, recordsOnly });
  return { pub, got };
}

test('a records-only consumer gets each message inside publish, in order', async () => {
  const { pub, got } = await setup(true);
  await pub.publish('q', bytes(1));
  expect(got.map((d) => d.body[0])).toEqual([1]);
  pub.publishSync('q', bytes(2));
  pub.publishSync('q', bytes(3));
  expect(got.map((d) => d.body[0])).toEqual([1, 2, 3]);
});

test('other consumers get it after the publisher’s synchronous work, as before', async () => {
  const { pub, got } = await setup(false);
  pub.publishSync('q', bytes(1));
  expect(got).toEqual([]);
  await settle();
  expect(got.map((d) => d.body[0])).toEqual([1]);
});

test('past its prefetch, messages wait in order and follow acks', async () => {
  const { pub, got } = await setup(true, 2);
  for (const n of [1, 2, 3, 4]) pub.publishSync('q', bytes(n));
  expect(got.map((d) => d.body[0])).toEqual([1, 2]);
  got[0]!.ack();
  // A backlog waits: a later publish must not overtake it.
  pub.publishSync('q', bytes(5));
  await settle();
  expect(got.map((d) => d.body[0])).toEqual([1, 2, 3]);
  got[1]!.ack();
  got[2]!.ack();
  await settle();
  expect(got.map((d) => d.body[0])).toEqual([1, 2, 3, 4, 5]);
});
