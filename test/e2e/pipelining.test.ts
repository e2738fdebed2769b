/**
 * Task pipelining on the embedded default (core/task-submitter.ts, node/task-queue.ts): once a
 * function's calls are known to run short, an owner pushes several on one worker lease. What a
 * Ray user relies on must still hold: a task that waits never holds the tasks queued behind it
 * (they go back to the owner and run elsewhere), a worker runs its tasks one at a time in order,
 * cancelling a task queued behind a running one does not kill the running one, and a worker
 * crash spends a retry only for the task that was running.
 */
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type * as Ray from '../../src/index';
import { waitUntil } from '../support/wait-until';
import { GIVE_BACK_AFTER_MS } from '../../src/worker/task-queue';

const ray: typeof Ray = require('raybus');

jest.setTimeout(60_000);
const T = { timeoutMs: 30_000 };

beforeAll(async () => {
  await ray.init({ numCpus: 2 });
});

afterAll(async () => {
  await ray.shutdown();
});

/** A gate tasks wait on; the test opens it. */
const Gate = ray.remote(
  class Gate {
    open = false;
    waiters: Array<() => void> = [];
    // Async methods make it an async actor: release() runs while wait() calls are pending.
    async wait(): Promise<boolean> {
      if (this.open) return true;
      return new Promise((resolve) => this.waiters.push(() => resolve(true)));
    }
    async release(): Promise<boolean> {
      this.open = true;
      for (const w of this.waiters.splice(0)) w();
      return true;
    }
  },
);

/** Enough short calls that the owner knows the function runs short (and pipelines it). */
async function warmUp(f: { remote(...a: unknown[]): Ray.ObjectRef<unknown> }, ...args: unknown[]): Promise<void> {
  await ray.get(Array.from({ length: 50 }, () => f.remote(...args)), T);
}

test('a task that waits gives the tasks pipelined behind it back; they run elsewhere', async () => {
  const step = ray.remote(async (mode: string, gate: unknown, i: number) => {
    if (mode === 'wait') await ray.get((gate as { wait: { remote(): Ray.ObjectRef<boolean> } }).wait.remote());
    return i;
  });
  const gate = Gate.remote();
  await warmUp(step, 'fast', null, 0);
  const waiting = step.remote('wait', gate, -1);
  const fast = Array.from({ length: 200 }, (_, i) => step.remote('fast', null, i));
  // Were any of these stuck behind the waiting task, they would never finish: the gate opens
  // only after all of them are done.
  expect(await ray.get(fast, T)).toEqual(Array.from({ length: 200 }, (_, i) => i));
  await ray.get(gate.release.remote(), T);
  expect(await ray.get(waiting, T)).toBe(-1);
});

// The two tests below take the whole node (numCpus: 2): one lease, one worker, so every task
// is pipelined on that worker behind the one it runs.
test('tasks pipelined on one worker run one at a time, in submission order', async () => {
  const record = ray.remote({ numCpus: 2 })(async (i: number) => {
    const g = globalThis as { __seq?: number; __running?: number };
    const start = performance.now();
    g.__running = (g.__running ?? 0) + 1;
    const overlapped = g.__running > 1;
    await new Promise((r) => setImmediate(r));
    g.__running -= 1;
    g.__seq = (g.__seq ?? 0) + 1;
    return { i, pid: process.pid, overlapped, seq: g.__seq, ms: performance.now() - start };
  });
  await warmUp(record, -1);
  const out = (await ray.get(Array.from({ length: 100 }, (_, i) => record.remote(i)), T)) as Array<{ pid: number; overlapped: boolean; seq: number; ms: number }>;
  expect(out.some((o) => o.overlapped)).toBe(false);
  // One worker ran them all, each once.
  expect(new Set(out.map((o) => o.pid)).size).toBe(1);
  expect(new Set(out.map((o) => o.seq)).size).toBe(out.length);
  // In the order they were submitted, unless one of them waited long enough for the worker
  // to give the tasks queued behind it back (GIVE_BACK_AFTER_MS): those are pushed again
  // behind the ones already on their way, as Ray's normal tasks may run in any order. A stall
  // that long (this machine busy elsewhere) is rare; half the limit leaves room for the time
  // the worker spends on a task outside its function.
  if (out.every((o) => o.ms < GIVE_BACK_AFTER_MS / 2)) {
    for (let k = 1; k < out.length; k++) expect(out[k]!.seq).toBeGreaterThan(out[k - 1]!.seq);
  } else {
    console.log(`a task waited ${Math.max(...out.map((o) => o.ms)).toFixed(0)} ms: the worker may have given tasks back, so their order is not checked`);
  }
});

test('force-cancelling a task queued behind a running one drops it and spares the running one', async () => {
  const busy = ray.remote({ numCpus: 2, maxRetries: 0 })((ms: number, tag: string, startedFile?: string, goFile?: string) => {
    const fs = require('node:fs') as typeof import('node:fs');
    const g = globalThis as { __ran?: string[] };
    (g.__ran ??= []).push(tag);
    if (startedFile) fs.writeFileSync(startedFile, tag);
    // Synchronous on purpose: the worker cannot give queued tasks back while this runs. With
    // `goFile`, it runs until the test has sent the cancel (at most `ms`).
    const end = Date.now() + ms;
    while (Date.now() < end && !(goFile && fs.existsSync(goFile)));
    return { pid: process.pid, ran: [...g.__ran] };
  });
  await warmUp(busy, 0, 'warm');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'raybus-pipe-'));
  const startedFile = path.join(dir, 'started');
  const goFile = path.join(dir, 'go');
  // Submitted together, so all three are pushed on the one lease: while the first runs, the
  // other two wait behind it on its worker. The first runs until the cancel is on its way (a
  // loaded machine may take longer than any fixed time to send it).
  const running = busy.remote(30_000, 'running', startedFile, goFile);
  const queued = busy.remote(0, 'queued');
  const after = busy.remote(0, 'after');
  await waitUntil(async () => existsSync(startedFile));
  await ray.cancel(queued, { force: true });
  await expect(ray.get(queued, T)).rejects.toBeInstanceOf(ray.TaskCancelledError);
  // The cancel leaves for the worker's pipe with the node's next batch, at the end of this
  // event-loop turn (ipc-protocol.ts, FrameBatcher): one turn later it is in the pipe, so the
  // worker reads it before it starts the next task. Without this turn, a loaded machine let
  // the worker finish the running task first and start the queued one.
  await new Promise((resolve) => setImmediate(resolve));
  writeFileSync(goFile, 'go');
  type Ran = { pid: number; ran: string[] };
  const first = (await ray.get(running, T)) as Ran;
  const last = (await ray.get(after, T)) as Ran;
  // Not killed: the same worker ran the task after the cancelled one, which never ran.
  expect(last.pid).toBe(first.pid);
  expect(last.ran).not.toContain('queued');
  expect(last.ran.slice(-2)).toEqual(['running', 'after']);
});

/** A function whose 'die' call kills its worker on its first attempt; each call returns its attempt. */
function crashesOnce() {
  return ray.remote({ numCpus: 2, maxRetries: 1 })((mode: string, i: number) => {
    const ctx = ray.getRuntimeContext();
    if (mode === 'die' && ctx.attempt === 0) process.kill(process.pid, 'SIGKILL');
    return { i, attempt: ctx.attempt };
  });
}

test('a worker killed mid-pipeline: the running task spends a retry, the queued ones none', async () => {
  const work = crashesOnce();
  await warmUp(work, 'fast', 0);
  const dying = work.remote('die', -1);
  const behind = Array.from({ length: 20 }, (_, i) => work.remote('fast', i));
  expect(await ray.get(dying, T)).toEqual({ i: -1, attempt: 1 });
  const out = (await ray.get(behind, T)) as Array<{ i: number; attempt: number }>;
  expect(out.map((o) => o.i)).toEqual(Array.from({ length: 20 }, (_, i) => i));
  // Those queued behind it never started: they ran as their first attempt.
  expect(out.every((o) => o.attempt === 0)).toBe(true);
});

// The owner takes the first unanswered task on a dead worker's lease for the one that was
// running. That holds only because a worker writes a task's result out before it starts the
// next one pipelined behind it: were the results of the tasks before a crash still in its
// buffer, the last of them would spend the retry, and the task that crashed would run again
// for free.
test('a worker killed mid-pipeline after others finished: their results stand, only the running task spends a retry', async () => {
  const work = crashesOnce();
  await warmUp(work, 'fast', 0);
  // Submitted in one turn: they reach the worker together and run back to back.
  const before = Array.from({ length: 10 }, (_, i) => work.remote('fast', i));
  const dying = work.remote('die', -1);
  const after = Array.from({ length: 10 }, (_, i) => work.remote('fast', 10 + i));
  const done = (await ray.get([...before, ...after], T)) as Array<{ i: number; attempt: number }>;
  expect(done.map((o) => o.i)).toEqual(Array.from({ length: 20 }, (_, i) => i));
  expect(done.filter((o) => o.attempt !== 0)).toEqual([]);
  expect(await ray.get(dying, T)).toEqual({ i: -1, attempt: 1 });
});
