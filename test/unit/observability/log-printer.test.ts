/**
 * The driver printing worker output: Ray's prefix `(name pid=N node=xxxxxxxx)`, stdout and
 * stderr apart, and repeats across processes collapsed, the held-back line printed when its
 * window passes on the clock.
 */
import { LogPrinter, logPrefix } from '../../../src/observability/log-printer';
import { SimulatedClock } from '../../../src/util/simulated-clock';
import type { LogLinesMsg } from '../../../src/protocol/messages/state';
import type { NodeId, WorkerId } from '../../../src/protocol/ids';

const node = 'abcdef0123456789abcdef012345' as NodeId;
const msg = (pid: number, lines: LogLinesMsg['lines']): LogLinesMsg => ({ t: 'log-lines', pid, node, worker: `w${pid}` as WorkerId, lines });

function printer(clock = new SimulatedClock(), dedup = true) {
  const out: string[] = [];
  const err: string[] = [];
  const p = new LogPrinter({ clock, out: (t) => void out.push(t), err: (t) => void err.push(t), dedup, windowS: 5 });
  return { p, out, err, clock };
}

test('lines carry the task or actor, the pid and the node', () => {
  expect(logPrefix('work', 12, node)).toBe('(work pid=12 node=abcdef01)');
  const { p, out, err } = printer();
  p.print(msg(12, [{ name: 'work', text: 'one' }, { name: 'work', text: 'two' }, { name: 'Counter', text: 'oops', err: true }]));
  expect(out.join('')).toBe('(work pid=12 node=abcdef01) one\n(work pid=12 node=abcdef01) two\n');
  expect(err.join('')).toBe('(Counter pid=12 node=abcdef01) oops\n');
});

test('a line repeated by several workers prints once, then once more with its count when the window passes', async () => {
  const { p, out, clock } = printer();
  for (const pid of [1, 2, 3, 4]) p.print(msg(pid, [{ name: 'work', text: 'loading model' }]));
  expect(out.join('')).toBe('(work pid=1 node=abcdef01) loading model\n');
  await clock.advance(4999);
  expect(out).toHaveLength(1);
  await clock.advance(1);
  expect(out[1]).toMatch(/^\(work pid=4 node=abcdef01\) loading model \[repeated 3x across cluster\]/);
});

test('without deduplication every line prints; flush prints what is held back', () => {
  const plain = printer(new SimulatedClock(), false);
  for (const pid of [1, 2]) plain.p.print(msg(pid, [{ name: 'w', text: 'same' }]));
  expect(plain.out).toHaveLength(2);
  const held = printer();
  for (const pid of [1, 2, 3]) held.p.print(msg(pid, [{ name: 'w', text: 'same' }]));
  held.p.flush();
  expect(held.out.join('')).toMatch(/same\n.*same \[repeated 2x across cluster\]/s);
});
