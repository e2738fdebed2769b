/**
 * Owners and borrowers: two CoreWorkers on one bus (Ray's ownership model: a borrower fetches
 * from the owner, and loses the object when the owner dies: OwnerDiedError), and which
 * values travel as themselves (the serializer's registrations). Values larger than a message:
 * blobs.test.ts.
 */
import { Inbox, settle, startCore, type Harness } from './core-harness';
import { InMemoryBus } from '../../../src/transport/in-memory-transport';
import { decodeValue, encodeEnvelope, encodeValue, serializer } from '../../../src/serialization/serializer';
import { OwnerDiedError, RaySystemError } from '../../../src/errors/ray-errors';
import { OWNER_DIED_TOPIC } from '../../../src/protocol/queues';
import { ObjectRef } from '../../../src/refs/object-ref';
import { ObjectRefGenerator } from '../../../src/refs/object-ref-generator';
import type { ObjectId, ReplyQueue, TaskId } from '../../../src/protocol/ids';
import type { ReplyMsg } from '../../../src/protocol/messages/reply';

let owner: Harness;
let borrower: Harness;
beforeEach(async () => {
  const bus = new InMemoryBus();
  owner = await startCore({}, bus);
  // Started last: it is the process's ref decoder, as the receiving side must be.
  borrower = await startCore({}, bus);
});
afterEach(async () => {
  await borrower.stop();
  await owner.stop();
});

/** Send `ref` from the owner to the borrower inside an argument; the borrower's copy. */
function lend(ref: ObjectRef<unknown>): ObjectRef<unknown> {
  const arg = owner.core.encodeArg([ref], 'args[0]');
  borrower.core.receiveArgs([arg]);
  return (decodeValue(arg.d) as ObjectRef<unknown>[])[0]!;
}

test('a borrower fetches the value from its owner once it is ready', async () => {
  const ref = owner.core.ownedRef(owner.core.newId<ObjectId>());
  const copy = lend(ref);
  expect(copy.owner).toBe(owner.core.address);
  const got = borrower.core.get(copy);
  await settle();
  owner.core.objects.fulfil(ref.id, { d: encodeValue({ answer: 42 }) });
  expect(await got).toEqual({ answer: 42 });
});

test('refs inside a put value travel with borrow tokens and resolve where they arrive', async () => {
  const inner = owner.core.put('inner value');
  const outer = owner.core.put({ inner });
  const copy = lend(outer);
  const value = (await borrower.core.get(copy)) as { inner: ObjectRef<unknown> };
  expect(value.inner).toBeInstanceOf(ObjectRef);
  expect(await borrower.core.get(value.inner)).toBe('inner value');
});

test('an owner asked for an object it does not have answers with an error', async () => {
  const stranger = new ObjectRef(owner.core.newId<ObjectId>(), owner.core.address);
  borrower.core.objects.store.received(stranger.id, owner.core.address);
  await expect(borrower.core.get(stranger)).rejects.toThrow(/freed or never existed/);
  await expect(borrower.core.get(stranger)).rejects.toBeInstanceOf(RaySystemError);
});

test('the owner died: pending borrowed objects fail with OwnerDiedError, later ones at once', async () => {
  const pending = owner.core.ownedRef(owner.core.newId<ObjectId>());
  const copy = lend(pending);
  const got = borrower.core.get(copy);
  await settle();
  const notice = await Inbox.open(borrower.bus, 'raybus.test.notices');
  await notice.transport.broadcast(OWNER_DIED_TOPIC, encodeEnvelope({ owner: owner.core.address }));
  await expect(got).rejects.toBeInstanceOf(OwnerDiedError);
  // Known dead now: another ref to its objects fails without asking.
  const later = lend(owner.core.put(1));
  await expect(borrower.core.get(later)).rejects.toThrow(`its owner (${owner.core.address}) has died`);
  await notice.transport.close();
});

test('an owner whose queue is gone is taken for dead when fetching', async () => {
  const ghost = new ObjectRef('ghostobject0000' as ObjectId, 'raybus.reply.ghost' as ReplyQueue);
  borrower.core.objects.store.received(ghost.id, ghost.owner);
  await expect(borrower.core.get(ghost)).rejects.toBeInstanceOf(OwnerDiedError);
});

test('a malformed owner-died notice is ignored', async () => {
  const notice = await Inbox.open(borrower.bus, 'raybus.test.notices');
  const warn = jest.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
  try {
    // A truncated map, then a notice without a usable owner.
    await notice.transport.broadcast(OWNER_DIED_TOPIC, new Uint8Array([0x81]));
    await notice.transport.broadcast(OWNER_DIED_TOPIC, encodeEnvelope({ owner: 7 }));
    await settle();
    expect(warn).toHaveBeenCalledWith(expect.stringContaining('rejected a malformed message on raybus.owner-died'));
  } finally {
    warn.mockRestore();
    await notice.transport.close();
  }
  const ref = owner.core.put('still fine');
  expect(await borrower.core.get(lend(ref))).toBe('still fine');
});

describe('values that travel as themselves come from the serializer’s registrations', () => {
  class Point {
    constructor(
      readonly x: number,
      readonly y: number,
    ) {}
  }
  class Opaque {
    readonly secret = 1;
  }

  test('a registered class travels; an unregistered class instance is refused with its path', () => {
    expect(() => owner.core.encodeArg({ p: new Point(1, 2) }, 'value')).toThrow(/class Point at value\.p/);
    serializer.registerExtension({ type: 0x7d, Class: Point, write: (p) => [p.x, p.y], read: (d) => new Point(...(d as [number, number])) });
    const arg = owner.core.encodeArg({ p: new Point(1, 2) }, 'value');
    expect(decodeValue(arg.d)).toEqual({ p: new Point(1, 2) });
    expect(() => owner.core.encodeArg([new Opaque()], 'args')).toThrow(/class Opaque at args\[0\]/);
  });

  test('a finished generator travels (its refs counted); a streaming one does not', () => {
    const refs = [owner.core.put(1), owner.core.put(2)];
    const done = new ObjectRefGenerator({ refs });
    const arg = owner.core.encodeArg(done, 'value');
    expect(arg.r?.map(([id]) => id)).toEqual(refs.map((r) => r.id));
    const { generator } = owner.core.openStream(owner.core.newId<TaskId>(), -1);
    expect(() => owner.core.encodeArg({ g: generator }, 'value')).toThrow(/ObjectRefGenerator at value\.g/);
  });
});

test('reply handlers registered by higher layers get their messages; unknown tags are counted and dropped', async () => {
  const seen: ReplyMsg[] = [];
  owner.core.registerReplyHandler('pg-ready', (m) => seen.push(m));
  const peer = await Inbox.open(owner.bus, 'raybus.test.peer');
  peer.sendTo(owner.core.address, { t: 'pg-ready', pg: 'pg1' });
  peer.sendTo(owner.core.address, { t: 'no-such-tag' });
  await settle();
  expect(seen).toEqual([{ t: 'pg-ready', pg: 'pg1' }]);
  expect(owner.core.replies.dropped).toBe(1);
  await peer.transport.close();
});
