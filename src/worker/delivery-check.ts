/**
 * What a worker checks of each delivery before acting on it: that it is well-formed for its
 * queue (decoded with serialization/message-codec.ts against protocol/schemas.ts; anything
 * else is dead-lettered with the reason and counted, so it never crashes a worker), and
 * whether the node opened it with the cluster key (the node's AuthTransport marks it).
 */
import { RejectionCounter } from '../serialization/message-codec';
import type { CodeOrigin } from '../serialization/code-shipping';
import { AUTHENTICATED_HEADER, type Delivery } from '../transport/transport';

/** The malformed messages this worker refused. */
export const workerRejections = new RejectionCounter('raybus worker');

/** Where a delivery came from, for loading the code it carries. */
export function originOf(d: Delivery): CodeOrigin {
  return { authenticated: d.headers[AUTHENTICATED_HEADER] !== undefined };
}
