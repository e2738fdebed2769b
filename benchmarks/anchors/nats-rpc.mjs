// Anchor for the NATS figures: raw @nats-io core request/reply on the same server (no
// JetStream: nothing stored, nothing acknowledged), the responder in a child process, one
// request in flight, then 1,000 in flight.
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { connect } from '@nats-io/transport-node';
import { timeit, settle, logResult, withTimeout, stopChild } from '../harness.mjs';


/**
 * @param {string} url  nats:// address
 * @returns {Promise<{ results: object[], serverVersion?: string }>}
 */
export async function runNatsAnchor(url) {
  const subject = `raybus-bench.rpc.${process.pid}`;
  const child = fork(fileURLToPath(new URL('./nats-responder.mjs', import.meta.url)), [url, subject], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  try {
    await withTimeout(
      new Promise((resolve, reject) => {
        child.once('message', resolve);
        child.once('exit', (code) => reject(new Error(`NATS responder exited (code ${code})`)));
      }),
      15_000,
      'NATS responder',
    );
    const nc = await connect({ servers: url });
    try {
      const serverVersion = nc.info?.version ? `nats-server ${nc.info.version}` : undefined;
      const payload = new TextEncoder().encode('ok');
      const call = () => nc.request(subject, payload, { timeout: 30_000 });
      const sync = await timeit('@nats-io request/reply sync', call);
      const async = await timeit(
        '@nats-io request/reply async',
        () => {
          const ps = new Array(1000);
          for (let i = 0; i < 1000; i++) ps[i] = call();
          return Promise.all(ps);
        },
        { multiplier: 1000 },
      );
      const results = [
        { ...sync, key: 'nats_sync', kind: 'sync' },
        { ...async, key: 'nats_async', kind: 'async' },
      ];
      for (const r of results) logResult('[anchor] ', r);
      return { results, serverVersion };
    } finally {
      await nc.close();
    }
  } finally {
    await stopChild(child);
    await settle();
  }
}
