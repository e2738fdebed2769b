/**
 * The in-memory bus delivers on microtasks, but lets the event loop run (timers, I/O) every
 * few hundred deliveries: a consumer that publishes as it handles each delivery (a driver that
 * pushes the next task for each result) must not hold the loop for as long as its backlog
 * lasts. Order and completeness stay as they were.
 */
import { InMemoryBus } from '../../../src/transport/in-memory-transport';
import type { Delivery } from '../../../src/transport/transport';

const bytes = (n: number): Uint8Array => new Uint8Array([n & 0xff, (n >> 8) & 0xff, (n >> 16) & 0xff]);
const numberOf = (d: Delivery): number => d.body[0]! | (d.body[1]! << 8) | (d.body[2]! << 16);

test('a timer runs while a backlog of 20,000 deliveries is handed out, and every delivery comes, in order', async () => {
  const bus = new InMemoryBus();
  const t = bus.connect();
  await t.connect();
  await t.assertQueue('backlog');
  await t.assertQueue('echo');
  const N = 20_000;
  const seen: number[] = [];
  let timerFiredAt: number | undefined;
  let done!: () => void;
  const finished = new Promise<void>((resolve) => (done = resolve));
  // Each delivery of 'backlog' publishes to 'echo', whose consumer counts: a chain of
  // microtasks for as long as the backlog lasts, were it not for the budget.
  await t.consume(
    'backlog',
    (d) => {
      d.ack();
      t.publishSync('echo', d.body);
    },
    { prefetch: 0 },
  );
  await t.consume(
    'echo',
    (d) => {
      d.ack();
      seen.push(numberOf(d));
      if (seen.length === N) done();
    },
    { prefetch: 0 },
  );
  for (let i = 0; i < N; i++) t.publishSync('backlog', bytes(i));
  setTimeout(() => (timerFiredAt = seen.length), 0);
  await finished;
  expect(timerFiredAt).toBeDefined();
  // The timer ran while the backlog was being handed out, not after all of it.
  expect(timerFiredAt!).toBeLessThan(N);
  expect(seen).toEqual(Array.from({ length: N }, (_, i) => i));
  await t.close();
});
