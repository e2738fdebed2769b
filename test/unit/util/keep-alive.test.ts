/**
 * A driver's hold on its process: one timer while work is outstanding, none once it is not.
 */
import { KeepAlive, holdProcessUntil } from '../../../src/util/keep-alive';
import { SimulatedClock } from '../../../src/util/simulated-clock';

test('holds from the first poke until nothing is outstanding, with one timer however often poked', async () => {
  const clock = new SimulatedClock();
  let outstanding = 0;
  const keepAlive = new KeepAlive(() => outstanding > 0, clock, 100);
  expect(keepAlive.holding).toBe(false);
  outstanding = 2;
  keepAlive.poke();
  keepAlive.poke();
  expect(keepAlive.holding).toBe(true);
  expect(clock.pending).toBe(1);
  outstanding = 1;
  await clock.advance(500);
  expect(keepAlive.holding).toBe(true);
  // A completion nobody reports is noticed by the next check.
  outstanding = 0;
  await clock.advance(100);
  expect(keepAlive.holding).toBe(false);
  // The timer, unref'd, is cleared once it went a whole period without holding.
  await clock.advance(100);
  expect(clock.pending).toBe(0);
});

test('one call after another reuses the timer: let go, then held again, with no new timer', async () => {
  const clock = new SimulatedClock();
  let busy = true;
  const keepAlive = new KeepAlive(() => busy, clock, 100);
  for (let i = 0; i < 3; i++) {
    busy = true;
    keepAlive.poke();
    expect(keepAlive.holding).toBe(true);
    busy = false;
    keepAlive.check();
    expect(keepAlive.holding).toBe(false);
    expect(clock.pending).toBe(1);
  }
  busy = true;
  keepAlive.poke();
  await clock.advance(250);
  expect(keepAlive.holding).toBe(true);
  expect(clock.pending).toBe(1);
  busy = false;
  await clock.advance(200);
  expect(keepAlive.holding).toBe(false);
  expect(clock.pending).toBe(0);
});

test('check() lets go at once when a caller saw the work end; stop() never holds again', () => {
  const clock = new SimulatedClock();
  let busy = true;
  const keepAlive = new KeepAlive(() => busy, clock);
  keepAlive.poke();
  keepAlive.check();
  expect(keepAlive.holding).toBe(true);
  busy = false;
  keepAlive.check();
  expect(keepAlive.holding).toBe(false);
  busy = true;
  keepAlive.poke();
  keepAlive.stop();
  expect(keepAlive.holding).toBe(false);
  keepAlive.poke();
  expect(keepAlive.holding).toBe(false);
  expect(clock.pending).toBe(0);
});

test('holdProcessUntil keeps a timer until the promise settles, resolved or rejected', async () => {
  const clock = new SimulatedClock();
  let resolve!: () => void;
  const p = holdProcessUntil(new Promise<void>((r) => (resolve = r)), clock);
  expect(clock.pending).toBe(1);
  resolve();
  await p;
  expect(clock.pending).toBe(0);
  const failed = holdProcessUntil(Promise.reject(new Error('x')), clock);
  await expect(failed).rejects.toThrow('x');
  expect(clock.pending).toBe(0);
});
