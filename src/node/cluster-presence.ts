/**
 * A cluster node's presence: an auto-delete presence queue the broker leader probes (the node
 * is alive while its connection lives), and the moments it registers again with a report of
 * what runs on it: a new broker leader announced (on the topic or its presence queue), or its
 * own connection back after an outage.
 */
import type { NodeId } from '../protocol/ids';
import { BROKER_ELECTED_TOPIC, nodePresenceId, presenceQueue } from '../protocol/queues';
import { decodeMessage, decodeTopicMessage, type RejectionCounter } from '../serialization/message-codec';
import type { Subscription, Transport } from '../transport/transport';

/** A node's hold on its presence; `leave()` ends it. */
export interface ClusterPresence {
  leave(): Promise<void>;
}

/**
 * Declare and consume node `nodeId`'s presence queue, and call `register` whenever the node
 * must register again (each new leader once, and after a reconnect). Malformed notices are
 * refused and counted by `rejections`.
 */
export async function joinCluster(t: Transport, nodeId: NodeId, register: () => void, rejections: RejectionCounter): Promise<ClusterPresence> {
  const presence = presenceQueue(nodePresenceId(nodeId));
  await t.assertQueue(presence, { autoDelete: true });
  let epoch: string | undefined;
  const onElected = (elected: string): void => {
    if (elected === epoch) return;
    epoch = elected;
    register();
  };
  const subs: Subscription[] = [];
  subs.push(
    await t.consume(
      presence,
      (d) => {
        let msg;
        try {
          msg = decodeMessage('presence', d.body);
        } catch (err) {
          rejections.reject(d, err);
          return;
        }
        d.ack();
        if (msg.t === 'broker-elected') onElected(msg.epoch);
      },
      { prefetch: 0 },
    ),
  );
  subs.push(
    await t.subscribe(BROKER_ELECTED_TOPIC, (body) => {
      try {
        onElected(decodeTopicMessage('broker-elected', body).epoch);
      } catch (err) {
        rejections.drop(BROKER_ELECTED_TOPIC, err);
      }
    }),
  );
  let previous: string | undefined;
  const status = t.status$.subscribe((s) => {
    if (s === 'connected' && previous === 'reconnecting') register();
    previous = s;
  });
  return {
    async leave(): Promise<void> {
      status.unsubscribe();
      for (const s of subs.splice(0)) await s.cancel().catch(() => undefined);
    },
  };
}
