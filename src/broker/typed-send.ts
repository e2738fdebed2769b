/**
 * The broker's one way out: a send typed by destination, so that a message that does not
 * belong on a queue does not compile (see src/protocol/queues.ts). Publishing is
 * fire-and-forget: a failed publish to a queue that is gone (its process died) is dropped,
 * as the broker learns of the death through its own channels.
 */
import type { QueueName } from '../protocol/ids';
import type { QueueKind, QueueMessages } from '../protocol/queues';
import { encodeEnvelope } from '../serialization/serializer';
import type { Transport } from '../transport/transport';

/** Send `msg` to `queue`; the queue's kind decides what may be sent. */
export type Send = <K extends QueueKind>(queue: QueueName<K>, msg: QueueMessages[K]) => void;

/**
 * A {@link Send} that publishes on `transport`.
 *
 * @example
 * const send = typedSender(transport);
 * send(nodeQueue(node), { t: 'release-lease', lease });
 */
export function typedSender(transport: Pick<Transport, 'publish'>): Send {
  return (queue, msg) => {
    transport.publish(queue, encodeEnvelope(msg)).catch(() => undefined);
  };
}
