/**
 * The object table's reference counting (Ray's reference_count_test.cc: local references,
 * borrowers, contained refs, pins). Entries made by `received` and `pin` need no garbage
 * collection; the cases about local ObjectRef instances do, because the store learns that a
 * ref is gone only from a FinalizationRegistry: those force a GC (see `collected`).
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { ObjectStore } from '../../../src/refs/object-store';
import type { ObjectId, ReplyQueue } from '../../../src/protocol/ids';
import type { WireOutcome } from '../../../src/protocol/wire';

const SELF = 'raybus.reply.self' as ReplyQueue;
const OTHER = 'raybus.reply.other' as ReplyQueue;
const VALUE: WireOutcome = { d: new Uint8Array([0xc0]) };
const id = (s: string): ObjectId => s as ObjectId;

function makeStore(): { store: ObjectStore; released: Array<[ObjectId, ReplyQueue, number]> } {
  const released: Array<[ObjectId, ReplyQueue, number]> = [];
  const store = new ObjectStore(SELF, { releaseBorrow: (i, owner, n) => released.push([i, owner, n]) });
  return { store, released };
}

describe('without local refs', () => {
  test('a received borrowed ref is pinned; the last unpin gives all its tokens back to the owner at once', () => {
    const { store, released } = makeStore();
    store.received(id('x'), OTHER);
    store.received(id('x'), OTHER);
    store.unpin(id('x'));
    expect(store.has(id('x'))).toBe(true);
    expect(released).toEqual([]);
    store.unpin(id('x'));
    expect(store.has(id('x'))).toBe(false);
    expect(released).toEqual([['x', OTHER, 2]]);
  });

  test('refs contained in a stored value stay pinned while it lives, and are released with it', () => {
    const { store, released } = makeStore();
    store.received(id('outer'), OTHER);
    store.received(id('inner'), OTHER);
    store.fulfil(id('outer'), VALUE, [id('inner')]);
    expect(store.has(id('inner'))).toBe(true);
    store.unpin(id('outer'));
    expect(store.has(id('outer'))).toBe(false);
    expect(store.has(id('inner'))).toBe(false);
    expect(released).toEqual([
      ['outer', OTHER, 1],
      ['inner', OTHER, 1],
    ]);
  });

  test('an outcome for an entry nobody holds is dropped, and its contained refs are released', () => {
    const { store, released } = makeStore();
    store.received(id('inner'), OTHER);
    expect(store.fulfil(id('gone'), VALUE, [id('inner')])).toBe(false);
    expect(store.has(id('inner'))).toBe(false);
    expect(released).toEqual([['inner', OTHER, 1]]);
  });

  test('the first outcome wins; waiters are called once, at once when it is here', () => {
    const { store } = makeStore();
    store.received(id('x'), OTHER);
    const seen: WireOutcome[] = [];
    const cancelled: WireOutcome[] = [];
    store.onOutcome(id('x'), (o) => seen.push(o));
    store.onOutcome(id('x'), (o) => cancelled.push(o))();
    expect(store.fulfil(id('x'), VALUE)).toBe(true);
    expect(store.fulfil(id('x'), { e: { name: 'E', message: 'late' } })).toBe(false);
    store.onOutcome(id('x'), (o) => seen.push(o));
    expect(seen).toEqual([VALUE, VALUE]);
    expect(cancelled).toEqual([]);
  });

  test('pendingFrom lists borrowed entries of one owner still waiting; failPending fails every pending one', () => {
    const { store } = makeStore();
    store.received(id('a'), OTHER);
    store.received(id('b'), OTHER);
    store.received(id('c'), 'raybus.reply.third' as ReplyQueue);
    store.fulfil(id('b'), VALUE);
    expect(store.pendingFrom(OTHER)).toEqual(['a']);
    store.failPending(() => ({ e: { name: 'E', message: 'shutdown' } }));
    expect(store.outcomeOf(id('a'))).toEqual({ e: { name: 'E', message: 'shutdown' } });
    expect(store.outcomeOf(id('b'))).toBe(VALUE);
  });

  test('a fetch is marked once, and never for an object this process owns', () => {
    const { store } = makeStore();
    store.received(id('x'), OTHER);
    expect(store.markFetch(id('x'))).toBe(true);
    expect(store.markFetch(id('x'))).toBe(false);
    store.received(id('mine'), SELF);
    expect(store.markFetch(id('mine'))).toBe(false);
  });
});

/**
 * Local refs: the store counts ObjectRef instances and hears of their collection from a
 * FinalizationRegistry, so these tests must make V8 collect. `--expose-gc` is switched on
 * for this file only (v8.setFlagsFromString), and `gc` taken from a fresh context.
 */
describe('local refs (garbage collection)', () => {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;

  /**
   * Collect until `done()` holds; bounded by time, not by a number of collections (a
   * finalization callback may come many collections later in a busy test worker), and fails the
   * test if it never does. A short timer between rounds lets V8's cleanup tasks run.
   */
  async function collected(done: () => boolean): Promise<void> {
    for (const deadline = Date.now() + 20_000; !done() && Date.now() < deadline; ) {
      gc();
      await new Promise<void>((r) => setTimeout(r, 5));
    }
    expect(done()).toBe(true);
  }

  /** Track `n` refs to `oid` that nothing else holds; `gone()` tells when all were collected. */
  function dropRefs(store: ObjectStore, oid: ObjectId, owner: ReplyQueue, n: number): { gone(): boolean } {
    let left = n;
    const sentinel = new FinalizationRegistry<null>(() => (left -= 1));
    for (let i = 0; i < n; i++) {
      const ref = {};
      store.track(ref, oid, owner);
      sentinel.register(ref, null);
    }
    return { gone: () => left === 0 && sentinel !== undefined };
  }

  test('an owned entry lives while a local ref does, and is freed once they are collected', async () => {
    const { store } = makeStore();
    const held = {};
    store.track(held, id('kept'), SELF);
    dropRefs(store, id('x'), SELF, 2);
    store.fulfil(id('x'), VALUE);
    await collected(() => !store.has(id('x')));
    expect(store.has(id('kept'))).toBe(true);
    expect(held).toBeDefined();
  });

  test('borrowers and pins keep an owned entry after its local refs are gone', async () => {
    const { store } = makeStore();
    const refs = dropRefs(store, id('x'), SELF, 1);
    store.fulfil(id('x'), VALUE);
    store.addBorrower(id('x'), 2);
    store.pin(id('x'));
    await collected(() => refs.gone());
    // One more round: the store's own registry has had its turn too.
    gc();
    await new Promise<void>((r) => setImmediate(r));
    expect(store.has(id('x'))).toBe(true);
    store.removeBorrower(id('x'), 2);
    expect(store.has(id('x'))).toBe(true);
    store.unpin(id('x'));
    expect(store.has(id('x'))).toBe(false);
  });

  test('a borrowed entry returns its tokens to the owner once its last local ref is collected', async () => {
    const { store, released } = makeStore();
    dropRefs(store, id('b'), OTHER, 1);
    store.received(id('b'), OTHER);
    store.unpin(id('b'));
    expect(released).toEqual([]);
    await collected(() => released.length > 0);
    expect(released).toEqual([['b', OTHER, 1]]);
  });
});

describe('many refs collected at once', () => {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;

  test('a large collection is counted down a turn budget at a time: the event loop runs between', async () => {
    const { store } = makeStore();
    const n = 40_000;
    (() => {
      for (let i = 0; i < n; i++) store.track({}, id(`o${i}`), SELF);
    })();
    expect(store.size).toBe(n);
    // Each step is one turn of the event loop: at most two turns' budgets (8,192 each) go
    // between two steps, so the 40,000 take several turns, never all in one.
    const freedPerStep: number[] = [];
    let last = store.size;
    for (let step = 0; step < 200 && store.size > 0; step++) {
      if (step % 10 === 0) gc();
      await new Promise<void>((r) => setImmediate(r));
      freedPerStep.push(last - store.size);
      last = store.size;
    }
    expect(store.size).toBe(0);
    expect(Math.max(...freedPerStep)).toBeLessThanOrEqual(2 * 8_192);
    expect(freedPerStep.filter((x) => x > 0).length).toBeGreaterThanOrEqual(3);
  });
});
