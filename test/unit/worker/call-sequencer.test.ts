/**
 * Per-caller actor call order where the bus does not requeue at the head (call-sequencer.ts,
 * core/call-sequences.ts), on simulated time. The situations of a NATS actor restart: calls
 * of the dead incarnation coming back after newer ones, a stale "lowest waiting" number, a
 * caller that never answers. After Ray's python/ray/tests/test_actor.py ordering checks
 * ("test_actor_ordering": calls from one caller run in submission order).
 */
import { CallSequencer } from '../../../src/worker/call-sequencer';
import { CallSequences } from '../../../src/core/call-sequences';
import type { ReplyQueue } from '../../../src/protocol/ids';
import { SimulatedClock } from '../../../src/util/simulated-clock';

const OWNER = 'raybus.reply.driver-1' as ReplyQueue;
const HOLD = 1000;

function harness(maxHeld?: number) {
  const clock = new SimulatedClock();
  const ran: number[] = [];
  const queries: string[] = [];
  const seq = new CallSequencer<number>((n) => ran.push(n), { clock, query: (_owner, s) => queries.push(s) }, HOLD, maxHeld);
  const call = (n: number, lo: number, s = 'h1'): void => seq.admit({ s, n, lo }, OWNER, n);
  return { clock, ran, queries, seq, call };
}

test('calls in their order run at once; nothing is held or asked', () => {
  const h = harness();
  for (let n = 0; n < 5; n++) h.call(n, 0);
  expect(h.ran).toEqual([0, 1, 2, 3, 4]);
  expect(h.seq.held).toBe(0);
  expect(h.queries).toEqual([]);
});

test('a call ahead of its turn waits for the ones before it', () => {
  const h = harness();
  h.call(0, 0);
  h.call(2, 0);
  h.call(3, 0);
  expect(h.ran).toEqual([0]);
  expect(h.queries).toEqual(['h1']);
  h.call(1, 0);
  expect(h.ran).toEqual([0, 1, 2, 3]);
  expect(h.seq.held).toBe(0);
});

test('a restarted host: the dead one finished calls 0-4, its 5-9 come back late; the caller says 5 is the lowest waiting', () => {
  const h = harness();
  // Calls 5..9 were sent together with 0..4, when 0 was the lowest waiting (a stale number).
  for (let n = 5; n < 10; n++) h.call(n, 0);
  expect(h.ran).toEqual([]);
  expect(h.queries).toEqual(['h1']);
  h.seq.onLowest('h1', 5);
  expect(h.ran).toEqual([5, 6, 7, 8, 9]);
});

test('a newer call that overtook the calls held by a dead host waits for them', async () => {
  const h = harness();
  h.call(0, 0);
  h.call(1, 0);
  // The host died holding 2 and 3; the restarted one gets 4 first (lowest waiting: 2).
  h.call(4, 2);
  h.seq.onLowest('h1', 2);
  expect(h.ran).toEqual([0, 1]);
  h.call(2, 0);
  h.call(3, 0);
  expect(h.ran).toEqual([0, 1, 2, 3, 4]);
  await h.clock.advance(HOLD * 2);
  expect(h.ran).toEqual([0, 1, 2, 3, 4]);
});

test('missing calls that never come: after holdMs the held ones run, in order', async () => {
  const h = harness();
  h.call(7, 3);
  h.call(5, 3);
  h.call(6, 3);
  await h.clock.advance(HOLD - 1);
  expect(h.ran).toEqual([]);
  await h.clock.advance(1);
  expect(h.ran).toEqual([5, 6, 7]);
  // The sequence goes on from there.
  h.call(8, 3);
  expect(h.ran).toEqual([5, 6, 7, 8]);
});

test('a caller that knows nothing of the sequence (-1): everything held runs', () => {
  const h = harness();
  h.call(2, 1);
  h.call(3, 1);
  h.seq.onLowest('h1', -1);
  expect(h.ran).toEqual([2, 3]);
});

test('a call behind the sequence (redelivered to this incarnation) runs at once', () => {
  const h = harness();
  h.call(0, 0);
  h.call(1, 0);
  h.call(0, 0);
  expect(h.ran).toEqual([0, 1, 0]);
});

test('sequences are independent: a gap in one holds nothing of another', () => {
  const h = harness();
  h.call(3, 2, 'a');
  h.call(0, 0, 'b');
  h.call(1, 0, 'b');
  expect(h.ran).toEqual([0, 1]);
});

test('memory is bounded: past maxHeld, a sequence runs what it holds', () => {
  const h = harness(3);
  for (const n of [10, 11, 12]) h.call(n, 1);
  expect(h.ran).toEqual([]);
  h.call(13, 1);
  expect(h.ran).toEqual([10, 11, 12, 13]);
  expect(h.seq.held).toBe(0);
});

test('caller side: each handle numbers its calls; the lowest waiting skips finished ones', () => {
  const seqs = new CallSequences();
  const a = seqs.stream();
  const b = seqs.stream();
  expect(a.id).not.toBe(b.id);
  expect([a.take(), a.take(), a.take()].map((x) => [x.n, x.lo])).toEqual([
    [0, 0],
    [1, 0],
    [2, 0],
  ]);
  a.done(1);
  expect(seqs.lowest(a.id)).toBe(0);
  a.done(0);
  expect(seqs.lowest(a.id)).toBe(2);
  expect(a.take()).toEqual({ s: a.id, n: 3, lo: 2 });
  a.done(2);
  a.done(3);
  // Nothing waits: the sequence is forgotten.
  expect(seqs.lowest(a.id)).toBe(-1);
  expect(seqs.lowest('unknown')).toBe(-1);
});
