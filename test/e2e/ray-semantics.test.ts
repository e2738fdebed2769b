/**
 * Smaller Ray semantics on the embedded default (the same scenarios run on RabbitMQ in
 * amqp-semantics.test.ts): getActor right after `.remote()` (Ray registers actors
 * synchronously), hard node affinity to a missing node, getIfExists handles, maxTaskRetries
 * counted exactly (test_actor_failures.py), and user error classes coming back as themselves
 * (test_failure.py::test_failed_task).
 */
import * as path from 'node:path';
import type * as Ray from '../../src/index';
import { affinityToMissingNode, getActorRightAfterCreate, getIfExistsIdentity, maxTaskRetriesExact, namedActorMaxTaskRetries } from '../support/semantics-scenarios';

const ray: typeof Ray = require('raybus');

jest.setTimeout(180_000);
const T = { timeoutMs: 60_000 };

beforeAll(async () => {
  await ray.init({ numCpus: 2 });
});

afterAll(async () => {
  await ray.shutdown();
});

test('getActor right after Cls.options({ name }).remote() finds the actor (its arguments ready or still computing)', async () => {
  await getActorRightAfterCreate('embedded', T);
});

test('hard NodeAffinity to a node that does not exist: tasks fail with TaskUnschedulableError, actors with ActorUnschedulableError', async () => {
  await affinityToMissingNode(T);
});

test('a getIfExists handle reports the actorId of the actor it reaches, and may be passed to a task before it knows it', async () => {
  await getIfExistsIdentity('embedded', T);
});

test('maxTaskRetries N runs a call N + 1 times when its actor keeps dying in it; -1 while restarts last', async () => {
  await maxTaskRetriesExact(T);
});

test('test_named_actor_max_task_retries: a call through a getActor handle runs again on the restarted actor', async () => {
  // The killed incarnation was waiting on the signal: the signal's worker warns that its
  // answer found that worker gone (the answer is dropped, as Ray drops it).
  await namedActorMaxTaskRetries('embedded', T);
});

describe('test_failure.py::test_failed_task: user error classes', () => {
  const fixture = path.resolve(__dirname, '../fixtures/error-classes.js');
  const m = require(fixture) as {
    CustomError: new (msg: string) => RangeError;
    InsufficientFunds: new (n: number) => Error & { needed: number };
    failsCustom: Ray.RemoteFunction<() => never>;
    pay: Ray.RemoteFunction<(n: number) => number>;
    Wallet: Ray.ActorClass<new () => { spend(n: number): never }>;
  };

  async function failure(p: Promise<unknown>): Promise<Error & Record<string, unknown>> {
    return p.then(
      (v) => {
        throw new Error(`expected a failure, got ${String(v)}`);
      },
      (e: unknown) => e as Error & Record<string, unknown>,
    );
  }

  test('an exported error class comes back as that class and as RayTaskError', async () => {
    const e = await failure(ray.get(m.failsCustom.remote(), T));
    expect(e.message).toContain('This function failed.');
    expect(e).toBeInstanceOf(m.CustomError);
    expect(e).toBeInstanceOf(RangeError);
    expect(e).toBeInstanceOf(ray.RayTaskError);
    expect(String(e.name)).toBe('RayTaskError(RangeError)');
  });

  test('its cause keeps its class and its fields; actor methods too', async () => {
    const e = await failure(ray.get(m.pay.remote(15), T));
    expect(e).toBeInstanceOf(m.InsufficientFunds);
    expect(e).toBeInstanceOf(ray.RayTaskError);
    const cause = e.cause as Error & { needed: number };
    expect(cause).toBeInstanceOf(m.InsufficientFunds);
    expect([cause.name, cause.message, cause.needed]).toEqual(['InsufficientFunds', 'need 5 more', 5]);
    expect(e.needed).toBe(5);
    const w = m.Wallet.remote();
    const fromActor = await failure(ray.get(w.spend.remote(3), T));
    expect(fromActor).toBeInstanceOf(m.InsufficientFunds);
    expect((fromActor.cause as { needed: number }).needed).toBe(3);
  });
});
