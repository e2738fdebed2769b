/**
 * The NATS adapter's gate on JetStream API requests: at most `limit` in flight, the rest sent
 * in call order as earlier ones settle (failed ones included).
 */
import { ApiGate } from '../../../../adapters/nats/api-gate';

test('at most `limit` requests run at once; the others start in call order as slots free up', async () => {
  const gate = new ApiGate(2);
  const started: number[] = [];
  const finish: Array<(ok: boolean) => void> = [];
  let running = 0;
  let peak = 0;
  const results = Array.from({ length: 6 }, (_, i) =>
    gate
      .run(
        () =>
          new Promise<number>((resolve, reject) => {
            started.push(i);
            running += 1;
            peak = Math.max(peak, running);
            finish[i] = (ok) => {
              running -= 1;
              if (ok) resolve(i);
              else reject(new Error(`request ${i} failed`));
            };
          }),
      )
      .catch((err: Error) => err.message),
  );
  const turns = () => new Promise((r) => setImmediate(r));
  await turns();
  expect(started).toEqual([0, 1]);
  finish[1]!(false);
  await turns();
  expect(started).toEqual([0, 1, 2]);
  for (const i of [0, 2, 3, 4, 5]) {
    await turns();
    finish[i]!(true);
  }
  expect(await Promise.all(results)).toEqual([0, 'request 1 failed', 2, 3, 4, 5]);
  expect(peak).toBe(2);
  // Free again: a new request starts at once.
  let ran = false;
  await gate.run(async () => (ran = true));
  expect(ran).toBe(true);
});
