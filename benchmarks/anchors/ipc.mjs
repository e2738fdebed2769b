// Anchors for the embedded default: raw round trips between two Node processes (what raybus's
// driver and worker processes do) and between two threads, with no framework in between.
// One in flight ("sync") and 1,000 in flight ("async"), timed by the same harness.
import { fork } from 'node:child_process';
import { Worker } from 'node:worker_threads';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { timeit, settle, logResult } from '../harness.mjs';

const ECHO_THREAD = `
const { parentPort } = require('node:worker_threads');
parentPort.on('message', (m) => parentPort.postMessage(m));
`;

/** A correlating request/reply client over any `send` / on-message pair. */
export function rpcOver(send, onMessage) {
  const pending = new Map();
  let next = 0;
  onMessage((m) => {
    const resolve = pending.get(m.id);
    pending.delete(m.id);
    resolve?.(m);
  });
  return (payload) =>
    new Promise((resolve) => {
      const id = next++;
      pending.set(id, resolve);
      send({ id, payload });
    });
}

async function measurePair(label, call) {
  const sync = await timeit(`${label} sync`, () => call(0));
  const async = await timeit(
    `${label} async`,
    () => {
      const ps = new Array(1000);
      for (let i = 0; i < 1000; i++) ps[i] = call(i);
      return Promise.all(ps);
    },
    { multiplier: 1000 },
  );
  return [
    { ...sync, key: `${label}_sync`, kind: 'sync' },
    { ...async, key: `${label}_async`, kind: 'async' },
  ];
}

/** worker_threads round trips (postMessage, structured clone). */
async function workerThreads() {
  const w = new Worker(ECHO_THREAD, { eval: true });
  await new Promise((r) => w.once('online', r));
  try {
    return await measurePair('worker_threads IPC', rpcOver((m) => w.postMessage(m), (h) => w.on('message', h)));
  } finally {
    await w.terminate();
  }
}

/** child_process.fork round trips (process.send over the IPC pipe). */
async function childProcess(serialization) {
  const child = fork(fileURLToPath(new URL('./echo-child.mjs', import.meta.url)), [], { serialization, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  await once(child, 'spawn');
  try {
    return await measurePair(`child_process IPC (${serialization})`, rpcOver((m) => child.send(m), (h) => child.on('message', h)));
  } finally {
    const exited = once(child, 'exit');
    child.disconnect();
    await Promise.race([exited, new Promise((r) => setTimeout(r, 2000).unref())]);
    if (child.exitCode === null) child.kill('SIGKILL');
  }
}

/**
 * Run the IPC anchors. Raybus's node talks to its workers with fork IPC and `advanced`
 * serialization, so that pair (id 'fork') is the anchor for the embedded figures.
 *
 * @returns {Promise<{ id: string, label: string, results: object[] }[]>}
 */
export async function runIpcAnchors() {
  const groups = [
    { id: 'fork', label: 'fork IPC (advanced)', run: () => childProcess('advanced') },
    { id: 'fork-json', label: 'fork IPC (json)', run: () => childProcess('json') },
    { id: 'threads', label: 'worker_threads', run: workerThreads },
  ];
  const out = [];
  for (const g of groups) {
    try {
      const results = await g.run();
      for (const r of results) logResult('[anchor] ', r);
      out.push({ id: g.id, label: g.label, results });
    } catch (err) {
      out.push({ id: g.id, label: g.label, error: err instanceof Error ? err.message : String(err) });
    }
    await settle();
  }
  return out;
}
