/**
 * The owner side of generator tasks (Ray's streaming generator: items handed out in order, an
 * item re-sent by a retried attempt is dropped, consumption acknowledged for backpressure —
 * python/ray/tests/test_streaming_generator*.py). A fake producer sends real `stream-item`
 * and `result` envelopes and reads the owner's control messages.
 */
import { Inbox, settle, startCore, type Harness } from './core-harness';
import { encodeValue } from '../../../src/serialization/serializer';
import { encodeError } from '../../../src/serialization/error-codec';
import { RayValueError } from '../../../src/errors/ray-errors';
import type { ObjectRefGenerator } from '../../../src/refs/object-ref-generator';
import type { ObjectRef } from '../../../src/refs/object-ref';
import type { ReplyQueue, TaskId } from '../../../src/protocol/ids';
import type { ReplyMsg, StreamControlMsg } from '../../../src/protocol/messages/reply';

let h: Harness;
let producer: Inbox<StreamControlMsg>;
let retried: Inbox<StreamControlMsg>;
beforeEach(async () => {
  h = await startCore();
  producer = await Inbox.open(h.bus, 'raybus.reply.producer');
  retried = await Inbox.open(h.bus, 'raybus.reply.retried');
});
afterEach(async () => {
  await producer.transport.close();
  await retried.transport.close();
  await h.stop();
});

/** A generator call this process waits for (as an actor handle registers one). */
function open(backpressure: number): { taskId: TaskId; generator: ObjectRefGenerator<unknown> } {
  const taskId = h.core.newId<TaskId>();
  const { generator, returnIds } = h.core.openStream(taskId, backpressure);
  h.core.registerPending({ taskId, returnIds, functionName: 'A.gen', actorCall: true });
  return { taskId, generator };
}

function item(from: Inbox<unknown>, taskId: TaskId, seq: number, value: unknown): void {
  from.sendTo(h.core.address, { t: 'stream-item', task: taskId, seq, out: { d: encodeValue(value) }, from: from.queue as ReplyQueue } satisfies ReplyMsg);
}

async function next(g: ObjectRefGenerator<unknown>): Promise<unknown> {
  const r = await g.next();
  return r.done ? 'END' : h.core.get(r.value as ObjectRef<unknown>);
}

test('items are handed out in order; the result ends the stream and resolves completed()', async () => {
  const { taskId, generator } = open(-1);
  for (let i = 0; i < 3; i++) item(producer, taskId, i, `v${i}`);
  await settle();
  expect([await next(generator), await next(generator), await next(generator)]).toEqual(['v0', 'v1', 'v2']);
  const pending = generator.next();
  producer.sendTo(h.core.address, { t: 'result', task: taskId, rets: [{ d: encodeValue(null) }], n: 3 } satisfies ReplyMsg);
  expect(await pending).toEqual({ done: true, value: undefined });
  expect(await h.core.get(generator.completed())).toBeNull();
  // Without backpressure nothing is acknowledged.
  expect(producer.received).toEqual([]);
});

test('a retried attempt re-sends what was delivered: duplicates are dropped, and it learns how far the caller is', async () => {
  const { taskId, generator } = open(4);
  item(producer, taskId, 0, 'a');
  item(producer, taskId, 1, 'b');
  await settle();
  expect(await next(generator)).toBe('a');
  // The first worker died; the retry starts counting from 0 again.
  item(retried, taskId, 0, 'a (again)');
  item(retried, taskId, 1, 'b (again)');
  item(retried, taskId, 2, 'c');
  await settle();
  expect([await next(generator), await next(generator)]).toEqual(['b', 'c']);
  expect(retried.of('stream-ack').slice(0, 2)).toEqual([
    { t: 'stream-ack', task: taskId, consumed: 1 },
    { t: 'stream-ack', task: taskId, consumed: 1 },
  ]);
});

test('with backpressure, each item taken is acknowledged to the producer with the count consumed', async () => {
  const { taskId, generator } = open(2);
  item(producer, taskId, 0, 0);
  item(producer, taskId, 1, 1);
  await settle();
  await next(generator);
  await next(generator);
  await settle();
  expect(producer.received).toEqual([
    { t: 'stream-ack', task: taskId, consumed: 1 },
    { t: 'stream-ack', task: taskId, consumed: 2 },
  ]);
});

test('releasing the stream tells the producer, and a retried producer at its first item', async () => {
  const { taskId, generator } = open(1);
  item(producer, taskId, 0, 0);
  await settle();
  generator.source!.release();
  await settle();
  expect(producer.of('stream-release')).toEqual([{ t: 'stream-release', task: taskId }]);
  item(retried, taskId, 1, 1);
  await settle();
  expect(retried.of('stream-release')).toEqual([{ t: 'stream-release', task: taskId }]);
});

test('cancel tells the producer to stop, and the caller sees the stream end with the cancellation', async () => {
  const { taskId, generator } = open(-1);
  item(producer, taskId, 0, 0);
  await settle();
  h.core.cancelTask(taskId, false);
  await settle();
  expect(producer.of('stream-cancel')).toEqual([{ t: 'stream-cancel', task: taskId }]);
  expect(await next(generator)).toBe(0);
  await expect(next(generator)).rejects.toThrow(/cancel/i);
  expect(await next(generator)).toBe('END');
});

test('an error answered by someone else than the producer (a dead actor) becomes the last item', async () => {
  const { taskId, generator } = open(-1);
  item(producer, taskId, 0, 'only');
  producer.sendTo(h.core.address, { t: 'result', task: taskId, rets: [{ e: encodeError(new RayValueError('actor died')) }] } satisfies ReplyMsg);
  await settle();
  expect(await next(generator)).toBe('only');
  await expect(next(generator)).rejects.toThrow('actor died');
  expect(await next(generator)).toBe('END');
  await expect(h.core.get(generator.completed())).rejects.toThrow('actor died');
});

test('items for a stream this process does not know are dropped', async () => {
  item(producer, 'unknown-task' as TaskId, 0, 'x');
  await settle();
  expect(h.core.streams.size).toBe(0);
  expect(producer.received).toEqual([]);
});

test('leaving the loop early cancels the producer; a finished stream is left alone', async () => {
  const { taskId, generator } = open(-1);
  for (let i = 0; i < 5; i++) item(producer, taskId, i, `v${i}`);
  await settle();
  const seen: unknown[] = [];
  for await (const ref of generator) {
    seen.push(await h.core.get(ref));
    if (seen.length === 2) break;
  }
  await settle();
  expect(seen).toEqual(['v0', 'v1']);
  expect(producer.received).toEqual([{ t: 'stream-cancel', task: taskId }]);
  // The items it had sent are not handed out any more.
  expect(await generator.next()).toEqual({ done: true, value: undefined });

  const done = open(-1);
  item(producer, done.taskId, 0, 'only');
  producer.sendTo(h.core.address, { t: 'result', task: done.taskId, rets: [{ d: encodeValue(null) }], n: 1 } satisfies ReplyMsg);
  await settle();
  for await (const ref of done.generator) {
    expect(await h.core.get(ref)).toBe('only');
    break;
  }
  await settle();
  expect(producer.received).toHaveLength(1);
});
