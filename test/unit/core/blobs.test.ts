/**
 * Values larger than a message of the bus (blob-exchange.ts, blob-table.ts, blob-puller.ts):
 * two CoreWorkers on an in-memory bus that refuses messages above 4 KiB, on simulated time.
 * A borrower pulls a large object from its owner in chunks, reassembled and sha256-checked;
 * results and arguments travel the same way; the holder's loop serves one chunk per turn and
 * forgets a blob once pulled (or after its idle time); a holder that is gone, a blob it no
 * longer has, and corrupted bytes fail the pull with ObjectLostError / OwnerDiedError.
 */
import { randomBytes } from 'node:crypto';
import { settle, startCore, type Harness } from './core-harness';
import { InMemoryBus } from '../../../src/transport/in-memory-transport';
import { decodeEnvelope, decodeValue, encodeEnvelope } from '../../../src/serialization/serializer';
import { ObjectLostError, OwnerDiedError } from '../../../src/errors/ray-errors';
import { OWNER_DIED_TOPIC } from '../../../src/protocol/queues';
import type { ObjectRef } from '../../../src/refs/object-ref';
import { BLOB_IDLE_MS } from '../../../src/core/blob-table';
import { BLOB_STALL_MS } from '../../../src/core/blob-puller';
import type { BlobChunkMsg, ReplyMsg } from '../../../src/protocol/messages/reply';
import type { ObjectId, TaskId } from '../../../src/protocol/ids';
import type { WireArg } from '../../../src/protocol/wire';
import { createAuthTransport, type AuthTransport } from '../../../src/transport/auth-transport';

const LIMIT = 4096;
let bus: InMemoryBus;
let owner: Harness;
let borrower: Harness;
const published: number[] = [];
/** Rewrites messages on the bus (to corrupt one), when set. */
let tamper: ((body: Uint8Array) => Uint8Array) | undefined;

beforeEach(async () => {
  bus = new InMemoryBus({ capabilities: { maxMessageBytes: LIMIT } });
  owner = await startCore({}, bus);
  borrower = await startCore({}, bus);
  published.length = 0;
  tamper = undefined;
  // Every message the bus carries, by size: none may be above the limit (the bus refuses it).
  const publish = bus.publish.bind(bus);
  bus.publish = (queue, body, headers) => {
    published.push(body.byteLength);
    publish(queue, tamper ? tamper(body) : body, headers);
  };
});
afterEach(async () => {
  await borrower.stop();
  await owner.stop();
});

/** Send `ref` from the owner to the borrower inside an argument; the borrower's copy. */
function lend<T>(ref: ObjectRef<T>): ObjectRef<T> {
  const arg = owner.core.encodeArg([ref], 'args[0]');
  borrower.core.receiveArgs([arg]);
  return (decodeValue(arg.d) as ObjectRef<T>[])[0]!;
}

/** Let the pull run: the holder serves a chunk per turn. */
async function pulled(): Promise<void> {
  for (let i = 0; i < 20; i++) await settle();
}

test('a borrower pulls an object 50 times the message limit, intact, and the owner forgets the blob', async () => {
  const value = new Uint8Array(randomBytes(50 * LIMIT));
  const ref = owner.core.put(value);
  const got = borrower.core.get(lend(ref));
  await pulled();
  expect(Buffer.from((await got) as Uint8Array).equals(Buffer.from(value))).toBe(true);
  expect(Math.max(...published)).toBeLessThanOrEqual(LIMIT);
  expect(published.length).toBeGreaterThan(50);
  expect(owner.core.blobs.table.size).toBe(0);
  expect(borrower.core.blobs.puller.active).toBe(0);
});

test('a small value still travels inline (no blob, one message)', async () => {
  const ref = owner.core.put('small');
  expect(await borrower.core.get(lend(ref))).toBe('small');
  expect(owner.core.blobs.table.size).toBe(0);
});

test('a message whose values together are too large: the largest become blobs, the rest stay inline', () => {
  const big = owner.core.encodeArg(new Uint8Array(3000), 'args[0]');
  const small = owner.core.encodeArg('tiny', 'args[1]');
  const msg = owner.core.blobs.externalize({ t: 'task', args: [small, big, big] }) as { args: WireArg[] };
  expect(msg.args.map((a) => (a.b ? 'blob' : 'inline'))).toEqual(['inline', 'blob', 'blob']);
  expect(msg.args[1]!.b!.size).toBe(big.d.byteLength);
  // The caller's own arguments are untouched (kept for retries).
  expect(big.d.byteLength).toBeGreaterThan(3000);
  expect(encodeEnvelope(msg).byteLength).toBeLessThan(LIMIT);
});

test('arguments that travelled as blobs are pulled before they are decoded', async () => {
  const value = { text: 'x'.repeat(20_000), n: 7 };
  const msg = owner.core.blobs.externalize({ t: 'call', args: [owner.core.encodeArg(value, 'args[0]')] }) as { args: WireArg[] };
  const received = decodeEnvelope(encodeEnvelope(msg)) as { args: WireArg[] };
  expect(received.args[0]!.b).toBeDefined();
  const fetching = borrower.core.fetchArgs(received.args);
  await pulled();
  await fetching;
  expect(decodeValue(received.args[0]!.d)).toEqual(value);
});

test('the holder serves one chunk per event-loop turn', async () => {
  const ref = owner.core.put(new Uint8Array(20 * LIMIT));
  const got = borrower.core.get(lend(ref));
  let turns = 0;
  let chunksBefore = 0;
  let most = 0;
  const count = (): number => published.filter((n) => n > LIMIT / 2).length;
  while (owner.core.blobs.table.size > 0 || turns === 0) {
    await new Promise<void>((r) => setImmediate(r));
    most = Math.max(most, count() - chunksBefore);
    chunksBefore = count();
    if (++turns > 1000) break;
  }
  await got;
  expect(most).toBeLessThanOrEqual(1);
});

test('a holder announced dead: the pull fails with OwnerDiedError', async () => {
  const ref = owner.core.put(new Uint8Array(10 * LIMIT));
  const copy = lend(ref);
  // The owner stops answering (its process froze, then died), and is announced dead.
  owner.core.blobs.table.onGet = () => undefined;
  const got = borrower.core.get(copy).catch((e: unknown) => e);
  await settle();
  const notice = bus.connect();
  await notice.connect();
  await notice.broadcast(OWNER_DIED_TOPIC, encodeEnvelope({ owner: owner.core.address }));
  await settle();
  expect(await got).toBeInstanceOf(OwnerDiedError);
  await notice.close();
});

test('a holder whose queue is gone: requests sent again after a stall find it out', async () => {
  const value = new Uint8Array(10 * LIMIT);
  const holder = owner.core.blobs;
  const ref = holder.table.offer(value);
  // The chunks never come back (a holder stuck); then its queue is deleted (its process died).
  holder.table.onGet = () => undefined;
  const fetching = borrower.core.blobs.puller.fetch(ref).catch((e: unknown) => e);
  await settle();
  const admin = bus.connect();
  await admin.connect();
  await admin.deleteQueue(owner.core.address);
  await admin.close();
  await borrower.clock.advance(BLOB_STALL_MS);
  await settle();
  expect(await fetching).toBeInstanceOf(OwnerDiedError);
});

test('corrupted bytes fail the sha256 check; a blob the holder no longer has fails at once', async () => {
  const ref = owner.core.blobs.table.offer(new Uint8Array(3 * LIMIT).fill(1));
  tamper = (body) => {
    const m = decodeEnvelope(body) as BlobChunkMsg;
    return m.t === 'blob-chunk' && m.off === 0 ? encodeEnvelope({ ...m, data: Uint8Array.from(m.data).fill(2) }) : body;
  };
  const corrupted = borrower.core.blobs.puller.fetch(ref).catch((e: unknown) => e);
  await pulled();
  expect(String(await corrupted)).toMatch(/corrupted \(sha256/);
  tamper = undefined;
  const gone = borrower.core.blobs.puller.fetch({ ...ref, id: 'nope' }).catch((e: unknown) => e);
  await pulled();
  expect(await gone).toBeInstanceOf(ObjectLostError);
});

test("on a bus that seals every message, no sha256 of the whole is made or sent: each chunk's MAC is checked, and an altered chunk is refused and asked for again", async () => {
  const refusals: string[] = [];
  const sealedCore = async (): Promise<{ h: Harness; t: AuthTransport }> => {
    const t = createAuthTransport(bus.connect(), { key: 'blobs-test-key', onReject: (reason) => refusals.push(reason) });
    await t.connect();
    return { h: await startCore({ transport: t }, bus), t };
  };
  const a = await sealedCore();
  const b = await sealedCore();
  try {
    const chunks: BlobChunkMsg[] = [];
    const puller = b.h.core.blobs.puller;
    const onChunk = puller.onChunk.bind(puller);
    puller.onChunk = (m) => {
      chunks.push(m);
      onChunk(m);
    };
    const value = new Uint8Array(randomBytes(20 * LIMIT));
    const ref = a.h.core.put(value);
    // One chunk altered on the bus (a byte of its value flipped): its seal no longer matches.
    let altered = 0;
    tamper = (body) => {
      if (altered > 0 || body.byteLength < LIMIT / 2) return body;
      altered += 1;
      const copy = Uint8Array.from(body);
      copy[copy.length >> 1]! ^= 0xff;
      return copy;
    };
    const arg = a.h.core.encodeArg([ref], 'args[0]');
    b.h.core.receiveArgs([arg]);
    const got = b.h.core.get((decodeValue(arg.d) as ObjectRef<Uint8Array>[])[0]!);
    await pulled();
    expect(altered).toBe(1);
    expect(b.t.stats().rejected).toEqual({ 'bad seal (another cluster key, or altered)': 1 });
    expect(refusals).toHaveLength(1);
    // The refused chunk is asked for again after the stall.
    await b.h.clock.advance(BLOB_STALL_MS);
    await pulled();
    expect(Buffer.from((await got) as Uint8Array).equals(Buffer.from(value))).toBe(true);
    expect(chunks.length).toBeGreaterThan(20);
    expect(chunks.filter((m) => m.h !== undefined)).toEqual([]);
  } finally {
    await b.h.stop();
    await a.h.stop();
    await b.t.close();
    await a.t.close();
  }
});

test('a blob nobody pulls is forgotten after its idle time; pinned ones stay', async () => {
  const t = owner.core.blobs.table;
  t.offer(new Uint8Array(10));
  t.offer(new Uint8Array(10), true);
  expect(t.size).toBe(2);
  await owner.clock.advance(BLOB_IDLE_MS + 60_000);
  expect(t.size).toBe(1);
});

test('a large result is pulled by its owner before it is stored; results of one task keep their order', async () => {
  const taskId = owner.core.newId<TaskId>();
  const id = `${taskId}0000` as ObjectId;
  const ref = owner.core.ownedRef<Uint8Array>(id);
  owner.core.registerPending({ taskId, returnIds: [id], functionName: 'big' });
  // The "worker" is the borrower's process: it sends a result too large for one message.
  const value = new Uint8Array(randomBytes(30 * LIMIT));
  borrower.core.send(owner.core.address, { t: 'result', task: taskId, rets: [borrower.core.encodeArg(value, 'return value')] } satisfies ReplyMsg);
  await pulled();
  expect(Buffer.from((await owner.core.get(ref)) as Uint8Array).equals(Buffer.from(value))).toBe(true);
  expect(borrower.core.blobs.table.size).toBe(0);
});
