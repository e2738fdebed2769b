// Anchor for the NATS figures: raw @nats-io core request/reply on the same server (no
// JetStream: nothing stored, nothing acknowledged), the responder in a child process, one
// request in flight, then 1,000 in flight.
import { fileURLToPath } from 'node:url';
import { connect } from '@nats-io/transport-node';
import { settle, stopChild, startChild, timeRequestReply } from '../harness.mjs';


/**
 * @param {string} url  nats:// address
 * @returns {Promise<{ results: object[], serverVersion?: string }>}
 */
export async function runNatsAnchor(url) {
  const subject = `raybus-bench.rpc.${process.pid}`;
  const child = await startChild(fileURLToPath(new URL('./nats-responder.mjs', import.meta.url)), [url, subject], 'NATS responder');
  try {
    const nc = await connect({ servers: url });
    try {
      const serverVersion = nc.info?.version ? `nats-server ${nc.info.version}` : undefined;
      const payload = new TextEncoder().encode('ok');
      const call = () => nc.request(subject, payload, { timeout: 30_000 });
      const results = await timeRequestReply('@nats-io request/reply', 'nats', call);
      return { results, serverVersion };
    } finally {
      await nc.close();
    }
  } finally {
    await stopChild(child);
    await settle();
  }
}
