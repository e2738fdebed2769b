// An error class exported by an ES module (error-class-lib.mjs) comes back to the driver as
// that class (and as RayTaskError), from a task and from an actor method, with its fields.
import assert from 'node:assert/strict';
import ray from 'raybus';
import { QuotaError, spend, Wallet } from './error-class-lib.mjs';

await ray.init();
for (const [ref, limit] of [
  [spend.remote('ada'), 10],
  [Wallet.remote().spend.remote('ada'), 20],
]) {
  const err = await ray.get(ref).then(
    () => assert.fail('no error'),
    (e) => e,
  );
  assert.ok(err instanceof QuotaError, `not a QuotaError: ${err?.constructor?.name}`);
  assert.ok(err instanceof ray.RayTaskError);
  assert.equal(err.user, 'ada');
  assert.equal(err.limit, limit);
}
console.log('error classes of an ES module: ok');
await ray.shutdown();
