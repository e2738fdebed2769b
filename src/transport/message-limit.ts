/**
 * How large one message may be, and what a bus can do, as every process of a cluster sees it.
 *
 * The limit is the smaller of the transport's `capabilities.maxMessageBytes` and
 * `RAYBUS_MAX_MESSAGE_BYTES`. It bounds messages, not values: values larger than it travel as
 * blobs pulled in chunks of about that size (src/core/blob-*.ts). A node tells the worker
 * processes it forks what its bus can do (`RAYBUS_BUS_CAPABILITIES`), since they reach the bus
 * only through the node.
 */
import { capabilitiesOf, FULL_CAPABILITIES, type Transport, type TransportCapabilities } from './transport';

/** Sets the largest message this process sends (the blob chunk size), in bytes. */
const MAX_MESSAGE_BYTES_VAR = 'RAYBUS_MAX_MESSAGE_BYTES';
/** The capabilities of the node's bus, for its workers (JSON of {@link TransportCapabilities}). */
export const BUS_CAPABILITIES_VAR = 'RAYBUS_BUS_CAPABILITIES';

/** The largest message this process sends on `t` (see the file comment). */
export function messageLimit(t: Transport, environ: NodeJS.ProcessEnv = process.env): number {
  const own = Number(environ[MAX_MESSAGE_BYTES_VAR]);
  const bus = capabilitiesOf(t).maxMessageBytes;
  return Number.isFinite(own) && own > 0 ? Math.min(own, bus) : bus;
}

/** The environment variable a node gives its workers for its bus's capabilities. */
export function busCapabilitiesEnv(capabilities: TransportCapabilities): Record<string, string> {
  return { [BUS_CAPABILITIES_VAR]: JSON.stringify(capabilities) };
}

/**
 * The capabilities a worker's node reported for its bus (all of them when it reported none).
 * A malformed value is ignored (the full set), never fatal.
 */
export function readBusCapabilities(environ: NodeJS.ProcessEnv = process.env): TransportCapabilities {
  const raw = environ[BUS_CAPABILITIES_VAR];
  if (!raw) return FULL_CAPABILITIES;
  try {
    const c = JSON.parse(raw) as Partial<TransportCapabilities>;
    const flag = (v: unknown, d: boolean): boolean => (typeof v === 'boolean' ? v : d);
    const max = typeof c.maxMessageBytes === 'number' && c.maxMessageBytes > 0 ? c.maxMessageBytes : FULL_CAPABILITIES.maxMessageBytes;
    return Object.freeze({
      singleActiveConsumer: flag(c.singleActiveConsumer, true),
      requeueAtHead: flag(c.requeueAtHead, true),
      queueExpiry: flag(c.queueExpiry, true),
      maxMessageBytes: max,
      leases: flag(c.leases, false),
    });
  } catch {
    return FULL_CAPABILITIES;
  }
}
