/**
 * What a node sends, typed by destination (protocol/queues.ts): a message that does not
 * belong on a queue does not compile. Sends are fire-and-forget; one made before the node
 * connected or after it closed goes nowhere (the broker learns what matters on registration).
 */
import type { QueueName, TopicName } from '../protocol/ids';
import { BROKER_QUEUE, type QueueKind, type QueueMessages, type TopicKind, type TopicMessages } from '../protocol/queues';
import type { BrokerMsg } from '../protocol/messages/broker';
import { encodeEnvelope } from '../serialization/serializer';
import type { Transport } from '../transport/transport';

/** The node's typed sends over its (current) connection. */
export class NodeOutbox {
  private transport?: Transport;

  /** Send from now on through `t` (undefined: the node is gone). */
  attach(t: Transport | undefined): void {
    this.transport = t;
  }

  send<K extends QueueKind>(queue: QueueName<K>, msg: QueueMessages[K]): void {
    this.transport?.publish(queue, encodeEnvelope(msg)).catch(() => undefined);
  }

  toBroker(msg: BrokerMsg): void {
    this.send(BROKER_QUEUE, msg);
  }

  broadcast<K extends TopicKind>(topic: TopicName<K>, msg: TopicMessages[K]): void {
    this.transport?.broadcast(topic, encodeEnvelope(msg)).catch(() => undefined);
  }

  deleteQueue(queue: string): void {
    this.transport?.deleteQueue(queue).catch(() => undefined);
  }
}
