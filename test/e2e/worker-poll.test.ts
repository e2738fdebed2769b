/**
 * A worker polls its pipe after it writes, while messages follow its writes closely
 * (src/transport/ipc-link.ts, `PipeLink.onFd` with a budget): a child process plays the
 * worker with the built link on fd 3 and echoes every message, the test plays its node. In
 * a loop of calls one at a time the polls catch the messages; a message after a long pause
 * turns polling off; whatever a poll reads (a large message too) arrives intact.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { PipeLink } from '../../src/transport/ipc-link';

const LINK = join(__dirname, '../../dist/cjs/src/transport/ipc-link.js');
// The budget is generous (100 ms) so that a loaded machine's turnaround still falls inside it.
const CHILD = `
const { PipeLink } = require(${JSON.stringify(LINK)});
const link = PipeLink.onFd(3, 100000, 0);
link.onMessage((m) => {
  if (m.length === 5 && Buffer.from(m).toString() === 'stats') link.send([Buffer.from(JSON.stringify(link.pollStats))]);
  else link.send([m]);
});
link.onClose(() => process.exit(0));
`;

let child: ChildProcess;
let node: PipeLink;
const answers: Uint8Array[] = [];
let waiting: (() => void) | undefined;

function call(m: Uint8Array): Promise<Uint8Array> {
  return new Promise((resolve) => {
    waiting = () => resolve(answers.shift()!);
    node.send([m]);
  });
}

const stats = async (): Promise<{ polls: number; caught: number }> => JSON.parse(Buffer.from(await call(Buffer.from('stats'))).toString());
const pause = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  child = spawn(process.execPath, ['-e', CHILD], { stdio: ['ignore', 'inherit', 'inherit', 'pipe'] });
  await once(child, 'spawn');
  node = new PipeLink(child.stdio[3] as Duplex);
  node.onMessage((m) => {
    answers.push(Uint8Array.from(m));
    waiting?.();
  });
});

afterAll(async () => {
  (child.stdio[3] as Duplex).destroy();
  if (child.exitCode === null) await once(child, 'exit');
});

/** A loop of `n` calls one at a time; the longest round trip, in ms. */
async function loop(n: number, tag: string): Promise<number> {
  let longest = 0;
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const got = await call(Buffer.from(`${tag} ${i}`));
    longest = Math.max(longest, performance.now() - t0);
    expect(Buffer.from(got).toString()).toBe(`${tag} ${i}`);
  }
  return longest;
}

/** Round trips under half the budget: a poll's catch depends on nothing else. */
const WITHIN_BUDGET_MS = 50;

test('in a loop of calls one at a time, the worker reads the next call itself', async () => {
  // The child's first calls load and compile its code: not counted.
  await loop(10, 'warm');
  const before = await stats();
  const longest = await loop(200, 'call');
  const after = await stats();
  const s = { polls: after.polls - before.polls, caught: after.caught - before.caught };
  // Answers were followed by polls (one poll covers the answers written before it runs), and
  // nearly every poll caught the next call, unless this process stalled past the budget
  // between an answer and its next call (a loaded machine): then the counts are not checked.
  if (longest < WITHIN_BUDGET_MS) {
    expect(s.polls).toBeGreaterThanOrEqual(100);
    expect(s.caught).toBeGreaterThanOrEqual(s.polls * 0.9);
  } else {
    console.log(`a round trip took ${longest.toFixed(0)} ms: the poll counts are not checked`);
  }
});

test('a large message read by a poll arrives intact', async () => {
  const big = Buffer.from(Uint8Array.from({ length: (3 << 20) + 11 }, (_, i) => (i * 7) & 0xff));
  // A poll catches the message when it comes within the poll's budget of an answer; on a
  // loaded machine one may come later and be read by the socket instead: a few tries, each
  // checked whole, until a poll has caught one.
  let caught = false;
  for (let attempt = 0; attempt < 10 && !caught; attempt++) {
    await call(Buffer.from('warm'));
    const before = await stats();
    const got = await call(big);
    expect(Buffer.compare(got, big)).toBe(0);
    caught = (await stats()).caught > before.caught;
  }
  expect(caught).toBe(true);
});

test('a large message that arrives in parts while the worker polls after an answer arrives intact', async () => {
  // Loop a little so that polling is on, then send a small call and the first part of a large
  // message at once: the worker answers the small call (and polls) while the large one is
  // still coming; its other parts come in several writes, some while the poll runs.
  for (let i = 0; i < 5; i++) await call(Buffer.from(`warm ${i}`));
  const big = Buffer.from(Uint8Array.from({ length: (2 << 20) + 3 }, (_, i) => (i * 11 + 5) & 0xff));
  const frame = (body: Buffer): Buffer => {
    const head = Buffer.alloc(4);
    head.writeUInt32LE(body.length, 0);
    return Buffer.concat([head, body]);
  };
  const small = frame(Buffer.from('small'));
  const large = frame(big);
  const socket = child.stdio[3] as Duplex;
  const smallAnswer = new Promise<Uint8Array>((resolve) => (waiting = () => resolve(answers.shift()!)));
  socket.write(Buffer.concat([small, large.subarray(0, 100_000)]));
  expect(Buffer.from(await smallAnswer).toString()).toBe('small');
  const bigAnswer = new Promise<Uint8Array>((resolve) => (waiting = () => resolve(answers.shift()!)));
  for (let at = 100_000; at < large.length; at += 300_000) {
    socket.write(large.subarray(at, at + 300_000));
    await pause(at < 1_000_000 ? 0 : 2);
  }
  expect(Buffer.compare(await bigAnswer, big)).toBe(0);
});

test('calls far apart turn polling off, and calls close together turn it on again', async () => {
  // The poll after this answer waits 100 ms and catches nothing: polling stops.
  await call(Buffer.from('one'));
  await pause(250);
  const off = await stats();
  await pause(250);
  await call(Buffer.from('two'));
  await pause(250);
  await call(Buffer.from('three'));
  // The stats call came 250 ms after a write: no poll ran since.
  const later = await stats();
  expect(later.polls).toBe(off.polls);
  // A loop of calls again: the first arrives within the budget of a write, polling resumes.
  const longest = await loop(20, 'again');
  if (longest < WITHIN_BUDGET_MS) expect((await stats()).caught).toBeGreaterThan(later.caught + 10);
  else console.log(`a round trip took ${longest.toFixed(0)} ms: the poll counts are not checked`);
});
