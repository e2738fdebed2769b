/**
 * Actor handles counted like refs (Ray's reference counting of actor handles:
 * test_actor.py::test_actor_deletion, test_distributed_actor_handle_deletion,
 * test_reference_counting_2.py::test_out_of_band_actor_handle_*), between two CoreWorkers on
 * one bus: the owner's handles, handles sent to another process (borrowed until the borrower
 * lets them go) and calls in flight keep the actor; when none is left the owner tells the
 * broker `actor-out-of-scope`. Collection is forced with `untrackActorHandle`, the hook that
 * stands for a FinalizationRegistry callback.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { settle, startCore, type Harness } from './core-harness';
import { InMemoryBus } from '../../../src/transport/in-memory-transport';
import { decodeValue } from '../../../src/serialization/serializer';
import { slot } from '../../../src/core/runtime-state';
import { createHandle } from '../../../src/api/actor-handle';
import { actorRefKey, type ActorId } from '../../../src/protocol/ids';
import type { ActorMeta } from '../../../src/protocol/wire';

let owner: Harness;
let borrower: Harness;
const saved = slot.core;
beforeEach(async () => {
  const bus = new InMemoryBus();
  owner = await startCore({}, bus);
  borrower = await startCore({}, bus);
});
afterEach(async () => {
  slot.core = saved;
  await borrower.stop();
  await owner.stop();
});

const meta = (actorId: string): ActorMeta => ({ actorId: actorId as ActorId, className: 'A', methods: { m: {} }, isAsync: false, maxTaskRetries: 0, maxPendingCalls: -1, namespace: 'ns' });
const outOfScope = (): unknown[] => owner.broker.inbox.of('actor-out-of-scope' as never);

/** A handle as `.remote()` makes it in the owner (counted for the owner). */
function ownedHandle(actorId: string): object {
  slot.core = owner.core;
  return createHandle(meta(actorId), Promise.resolve(), owner.core.address);
}

test('the owner says the actor is out of scope once its last handle is gone, and only then', async () => {
  const a = ownedHandle('a1');
  const b = createHandle(meta('a1'), Promise.resolve(), owner.core.address);
  owner.core.untrackActorHandle(a, 'a1' as ActorId);
  await settle();
  expect(outOfScope()).toEqual([]);
  owner.core.untrackActorHandle(b, 'a1' as ActorId);
  await settle();
  expect(outOfScope()).toEqual([{ t: 'actor-out-of-scope', actor: 'a1', owner: owner.core.address }]);
});

test('a call in flight keeps the actor (Actor.remote().m.remote() still runs)', async () => {
  const a = ownedHandle('a1');
  owner.core.objects.pin(actorRefKey('a1' as ActorId));
  owner.core.untrackActorHandle(a, 'a1' as ActorId);
  await settle();
  expect(outOfScope()).toEqual([]);
  owner.core.objects.unpin(actorRefKey('a1' as ActorId));
  await settle();
  expect(outOfScope()).toHaveLength(1);
});

test('a handle sent to another process is borrowed until that process lets its copies go', async () => {
  const a = ownedHandle('a1');
  const arg = owner.core.encodeArg({ nested: [a] }, 'args[0]');
  expect(arg.r).toEqual([[actorRefKey('a1' as ActorId), owner.core.address]]);
  slot.core = borrower.core;
  const pinned = borrower.core.receiveArgs([arg]);
  const copy = (decodeValue(arg.d) as { nested: object[] }).nested[0]!;
  owner.core.untrackActorHandle(a, 'a1' as ActorId);
  await settle();
  // The task that received it has ended, but the borrower still holds a copy.
  for (const id of pinned) borrower.core.store.unpin(id);
  await settle();
  expect(outOfScope()).toEqual([]);
  borrower.core.untrackActorHandle(copy, 'a1' as ActorId);
  await settle();
  expect(outOfScope()).toHaveLength(1);
});

test('out of band: a handle inside a stored value lives as long as that value does (garbage collected)', async () => {
  // The box's ObjectRef is counted through a FinalizationRegistry: V8 must collect it.
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  // The value is made, held and dropped inside a function of its own: once it has returned,
  // no register of this test's async frame (saved at each await) can still hold the ref.
  const holdThenDrop = async (): Promise<void> => {
    const box = (() => {
      const a = ownedHandle('a1');
      const ref = owner.core.put({ h: a });
      owner.core.untrackActorHandle(a, 'a1' as ActorId);
      return ref;
    })();
    for (let i = 0; i < 5; i++) {
      gc();
      await settle();
    }
    expect(outOfScope()).toEqual([]);
    // The ref is used here, so it lives to this point; only its id goes to jest, whose
    // expectation objects must not be what holds the ref afterwards.
    expect(box.hex()).toMatch(/^[0-9a-f]+$/);
  };
  await holdThenDrop();
  // Collected when V8 collects it; the wait is bounded by time, not by a number of collections
  // (a full collection is slow in a test worker whose heap earlier suites grew).
  const deadline = Date.now() + 20_000;
  while (outOfScope().length === 0 && Date.now() < deadline) {
    gc();
    await settle();
  }
  expect(outOfScope()).toHaveLength(1);
}, 40_000);

test('handles that count nothing (getActor, detached) travel without a reference', () => {
  slot.core = owner.core;
  const looked = createHandle(meta('a2'), Promise.resolve());
  expect(owner.core.encodeArg([looked], 'args[0]').r).toBeUndefined();
  expect(owner.core.store.has(actorRefKey('a2' as ActorId))).toBe(false);
});
