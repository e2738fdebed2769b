/**
 * Asking the broker leader a question from outside a driver (the CLI, a starting node, the
 * test Cluster): a temporary reply queue, one request to `raybus.broker`, one answer.
 */
import { randomBytes } from 'node:crypto';
import type { ProcId, ReplyQueue, RequestId } from '../protocol/ids';
import type { BrokerMsg } from '../protocol/messages/broker';
import type { Transport } from '../transport/transport';
import { encodeEnvelope } from '../serialization/serializer';
import { decodeMessage } from '../serialization/message-codec';
import { isNoSuchQueue } from '../transport/transport';
import { BROKER_QUEUE, replyQueue } from '../protocol/queues';
import type { ClusterInfo, ClusterState } from '../protocol/wire';
import { systemClock, type Clock, type Timer } from '../util/clock';

/** Thrown when no broker leader answered in time. */
class NoLeaderError extends Error {
  override name = 'NoLeaderError';
}

/**
 * Send `build(req, reply)` to the broker and resolve with the answer tagged `req`.
 *
 * @example
 * const state = await askBroker<{ state: ClusterState }>(t, (req, reply) => ({ t: 'cluster-state-request', req, reply }), 5000);
 */
async function askBroker<T>(transport: Transport, build: (req: RequestId, reply: ReplyQueue) => BrokerMsg, timeoutMs: number, clock: Clock = systemClock): Promise<T> {
  const reply = replyQueue(`cli-${randomBytes(6).toString('hex')}` as ProcId);
  const req = randomBytes(6).toString('hex') as RequestId;
  await transport.assertQueue(reply);
  let timer: Timer | undefined;
  let resolveAnswer!: (v: T) => void;
  const answer = new Promise<T>((resolve) => (resolveAnswer = resolve));
  const sub = await transport.consume(
    reply,
    (d) => {
      let msg: { req?: unknown };
      try {
        msg = decodeMessage('reply', d.body) as { req?: unknown };
      } catch (err) {
        d.nack(false, `malformed: ${(err as Error).message}`);
        return;
      }
      d.ack();
      if (msg.req === req) resolveAnswer(msg as T);
    },
    { prefetch: 0 },
  );
  try {
    await transport.publish(BROKER_QUEUE, encodeEnvelope(build(req, reply))).catch((err: unknown) => {
      if (isNoSuchQueue(err)) throw new NoLeaderError(`no raybus cluster at this address (no broker queue): start a node with 'raybus start'`);
      throw err;
    });
    return await Promise.race([
      answer,
      new Promise<never>((_, reject) => {
        // Held open (ref): a CLI waiting for the answer has nothing else to wait on.
        timer = clock.setTimeout(
          () =>
            reject(
              new NoLeaderError(
                `no broker leader answered within ${timeoutMs} ms (is a node running? start one with 'raybus start'; ` +
                  'do the nodes use a cluster key, or encrypt? give this process the same: a message with another key, or none, is refused)',
              ),
            ),
          timeoutMs,
        ).ref();
      }),
    ]);
  } finally {
    clock.clear(timer);
    await sub.cancel().catch(() => undefined);
    await transport.deleteQueue(reply).catch(() => undefined);
  }
}

/** The live cluster (`raybus status`, `raybus list`). */
export async function clusterState(transport: Transport, timeoutMs = 10_000, clock: Clock = systemClock): Promise<ClusterState> {
  const m = await askBroker<{ state: ClusterState }>(transport, (req, reply) => ({ t: 'cluster-state-request', req, reply }), timeoutMs, clock);
  return m.state;
}

/** Nodes and resources (as `ray.nodes()` sees them). */
export async function clusterInfo(transport: Transport, timeoutMs = 10_000, clock: Clock = systemClock): Promise<ClusterInfo> {
  const m = await askBroker<{ info: ClusterInfo }>(transport, (req, reply) => ({ t: 'cluster-info-request', req, reply }), timeoutMs, clock);
  return m.info;
}
