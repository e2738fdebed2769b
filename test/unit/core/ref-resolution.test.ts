/**
 * get / wait / argument resolution on a CoreWorker with a simulated clock (Ray's
 * python/ray/tests/test_basic.py get/wait cases: input order, the first error wins, timeouts,
 * wait's num_returns and timeout).
 */
import { settle, startCore, type Harness } from './core-harness';
import { encodeValue, decodeValue } from '../../../src/serialization/serializer';
import { encodeError } from '../../../src/serialization/error-codec';
import { GetTimeoutError, RayValueError } from '../../../src/errors/ray-errors';
import { resolveArgs } from '../../../src/core/ref-resolution';
import type { ObjectRef } from '../../../src/refs/object-ref';
import type { ObjectId, ReplyQueue, TaskId } from '../../../src/protocol/ids';
import type { WireArg } from '../../../src/protocol/wire';
import type { WireError } from '../../../src/serialization/error-codec';

let h: Harness;
beforeEach(async () => {
  h = await startCore();
});
afterEach(async () => {
  await h.stop();
});

function owned(n: number): ObjectRef<unknown>[] {
  return Array.from({ length: n }, () => h.core.ownedRef(h.core.newId<ObjectId>()));
}

function ok(ref: ObjectRef<unknown>, value: unknown): void {
  h.core.objects.fulfil(ref.id, { d: encodeValue(value) });
}

function fail(ref: ObjectRef<unknown>, message: string): void {
  h.core.objects.fulfil(ref.id, { e: encodeError(new RayValueError(message)) });
}

/** The settled state of `p` now (after pending callbacks ran). */
async function stateOf(p: Promise<unknown>): Promise<'pending' | 'resolved' | 'rejected'> {
  let s: 'pending' | 'resolved' | 'rejected' = 'pending';
  p.then(
    () => (s = 'resolved'),
    () => (s = 'rejected'),
  );
  await settle();
  return s;
}

describe('get', () => {
  test('values come back in input order, whatever order they arrive in', async () => {
    const refs = owned(3);
    const got = h.core.get(refs);
    ok(refs[2]!, 'c');
    ok(refs[0]!, 'a');
    expect(await stateOf(got)).toBe('pending');
    ok(refs[1]!, 'b');
    expect(await got).toEqual(['a', 'b', 'c']);
  });

  test('values already here past a turn\'s budget (8,192) come back on the next turn: the event loop runs between', async () => {
    const refs = owned(9_000);
    refs.forEach((r, i) => ok(r, i));
    let first = false;
    let second = false;
    void h.core.get(refs).then(() => (first = true));
    const later = h.core.get(refs).then((v) => ((second = true), v));
    for (let i = 0; i < 5; i++) await Promise.resolve();
    expect(first).toBe(true);
    expect(second).toBe(false);
    const values = (await later) as number[];
    expect(second).toBe(true);
    expect(values[8_999]).toBe(8_999);
  });

  test('values already here are returned without waiting', async () => {
    const refs = owned(2);
    ok(refs[0]!, 1);
    ok(refs[1]!, 2);
    expect(await h.core.get(refs)).toEqual([1, 2]);
    expect(await h.core.get(refs[1]!)).toBe(2);
  });

  test('the first error found rejects at once, without waiting for the rest', async () => {
    const refs = owned(3);
    const got = h.core.get(refs);
    fail(refs[1]!, 'second failed');
    await expect(got).rejects.toThrow('second failed');
    await expect(h.core.get(refs)).rejects.toBeInstanceOf(RayValueError);
  });

  test.each([
    ['one ref', false],
    ['a list', true],
  ])('GetTimeoutError after exactly timeoutMs of clock time (%s)', async (_name, list) => {
    const [ref] = owned(1);
    const got = h.core.get(list ? [ref!] : ref!, 1000);
    await h.clock.advance(999);
    expect(await stateOf(got)).toBe('pending');
    await h.clock.advance(1);
    await expect(got).rejects.toBeInstanceOf(GetTimeoutError);
    await expect(got).rejects.toThrow('timed out after 1000 ms');
  });

  test('a value that arrives in time resolves, and its timer is cleared', async () => {
    const refs = owned(2);
    const one = h.core.get(refs[0]!, 500);
    const many = h.core.get(refs, 500);
    await h.clock.advance(499);
    ok(refs[0]!, 'x');
    ok(refs[1]!, 'y');
    expect(await one).toBe('x');
    expect(await many).toEqual(['x', 'y']);
    // The driver's keep-alive timer, let go, is cleared after one idle period.
    await h.clock.advance(100);
    expect(h.clock.pending).toBe(0);
  });
});

describe('wait', () => {
  test('resolves once numReturns are ready, ready ones in input order', async () => {
    const refs = owned(3);
    const waited = h.core.wait(refs, 2);
    ok(refs[2]!, 1);
    expect(await stateOf(waited)).toBe('pending');
    ok(refs[0]!, 1);
    expect(await waited).toEqual([[refs[0], refs[2]], [refs[1]]]);
  });

  test('after timeoutMs of clock time, returns what is ready', async () => {
    const refs = owned(3);
    const waited = h.core.wait(refs, 3, 200);
    ok(refs[1]!, 1);
    await h.clock.advance(199);
    expect(await stateOf(waited)).toBe('pending');
    await h.clock.advance(1);
    expect(await waited).toEqual([[refs[1]], [refs[0], refs[2]]]);
  });

  test('timeoutMs 0 answers at once; more ready than numReturns keeps the extra ones not-ready', async () => {
    const refs = owned(3);
    ok(refs[0]!, 1);
    ok(refs[1]!, 1);
    expect(await h.core.wait(refs, 3, 0)).toEqual([[refs[0], refs[1]], [refs[2]]]);
    expect(await h.core.wait(refs, 1)).toEqual([[refs[0]], [refs[1], refs[2]]]);
    // The driver's keep-alive timer, let go, is cleared after one idle period.
    await h.clock.advance(100);
    expect(h.clock.pending).toBe(0);
  });

  test('a generator is ready once its next item is there', async () => {
    const taskId = h.core.newId<TaskId>();
    const { generator } = h.core.openStream(taskId, -1);
    const [ref] = owned(1);
    const waited = h.core.wait([generator, ref!], 1);
    expect(await stateOf(waited)).toBe('pending');
    h.core.streams.onItem({ t: 'stream-item', task: taskId, seq: 0, out: { d: encodeValue('item') }, from: 'raybus.reply.w' as ReplyQueue });
    expect(await waited).toEqual([[generator], [ref]]);
  });
});

describe('argument resolution', () => {
  function resolve(args: unknown[]): Promise<WireArg[] | { error: WireError }> {
    // A copy as `then` saw it: the call is sent at that moment.
    return new Promise((r) => resolveArgs(h.core.objects, args, (parts) => r(Array.isArray(parts) ? [...parts] : parts), 'f', 'task1' as TaskId));
  }

  test('plain values are encoded at once (copied at submission)', async () => {
    const arg = { n: 1 };
    const parts = resolve([arg, 'two']);
    arg.n = 2;
    const got = (await parts) as WireArg[];
    expect(got.map((a) => decodeValue(a.d))).toEqual([{ n: 1 }, 'two']);
  });

  test('top-level refs wait for their value and travel as its bytes', async () => {
    const [ref] = owned(1);
    const parts = resolve([1, ref]);
    expect(await stateOf(parts)).toBe('pending');
    ok(ref!, 'v');
    const got = (await parts) as WireArg[];
    expect(got.map((a) => decodeValue(a.d))).toEqual([1, 'v']);
  });

  test('a ref that is ready at once, before plain values: every part is there when the call goes out', async () => {
    const [ref] = owned(1);
    ok(ref!, 'ready');
    const got = (await resolve([ref, 'after', { n: 3 }])) as WireArg[];
    expect(got).toHaveLength(3);
    expect(got.map((a) => decodeValue(a.d))).toEqual(['ready', 'after', { n: 3 }]);
  });

  test('a failed ref argument fails the call with a RayTaskError naming the function', async () => {
    const [a, b] = owned(2);
    const parts = resolve([a, b]);
    fail(b!, 'upstream broke');
    const got = (await parts) as { error: WireError };
    expect(got.error.rayClass).toBe('RayTaskError');
    expect(got.error.cause?.message).toBe('upstream broke');
  });
});
