/**
 * How the composition roots open a transport to a cluster address: the registered adapter
 * for its scheme (transport-registry.ts) with raybus's defaults for processes of a cluster,
 * and — when the cluster has a key — every message authenticated (and, with `encrypt`,
 * encrypted) by an AuthTransport between the adapter and the cluster's naming, so that a seal
 * binds the queue's full name on the bus.
 */
import { createClusterTransport } from '../transport/transport-registry';
import { createAuthTransport } from '../transport/auth-transport';
import type { Transport, TransportOptions } from '../transport/transport';
import { serializer } from '../serialization/serializer';
import type { Clock } from '../util/clock';
import { checkClusterSecurity, type ClusterSecurity } from './cluster-security';
import type { RefusalLog } from './refusal-log';
import { logger } from '../util/logger';

/** Largest message raybus sends on a broker by default (RAYBUS_MAX_MESSAGE_BYTES overrides): 16 MiB; larger values travel in chunks of it. */
const BROKER_MAX_MESSAGE_BYTES = 16 * 1024 * 1024;

/** Options of {@link openClusterTransport}: the adapter's, and how the cluster is secured. */
export interface ClusterTransportOptions extends TransportOptions, ClusterSecurity {
  /** Where refusals of unauthenticated messages are counted and reported (default: a warning per sender). */
  readonly refusals?: RefusalLog;
  /** The clock of the seals' timestamps and replay window (default: real time). */
  readonly clock?: Clock;
}

/**
 * The transport of a driver, node or tool to the cluster at `address` (not yet connected).
 * Throws RaySystemError when the bus is not on this machine and there is neither a cluster key
 * nor `insecure` (cluster-security.ts).
 */
export function openClusterTransport(address: string, options: ClusterTransportOptions = {}): Transport {
  const { clusterKey, encrypt, insecure, refusals, clock, ...adapterOptions } = options;
  checkClusterSecurity(address, { ...(clusterKey ? { clusterKey } : {}), ...(encrypt ? { encrypt } : {}), ...(insecure ? { insecure } : {}) });
  // One message limit for the whole process tree on a broker (workers inherit it): values
  // larger than half of it travel as blobs, pulled in chunks of about that size.
  process.env.RAYBUS_MAX_MESSAGE_BYTES ??= String(BROKER_MAX_MESSAGE_BYTES);
  const maxMessageBytes = Number(process.env.RAYBUS_MAX_MESSAGE_BYTES) || BROKER_MAX_MESSAGE_BYTES;
  // Nothing this process receives from the bus may be larger: refused before it is decoded.
  if (serializer.currentLimits.maxEnvelopeBytes > maxMessageBytes) serializer.configure({ maxEnvelopeBytes: maxMessageBytes });
  const wrap = clusterKey
    ? (inner: Transport): Transport =>
        createAuthTransport(inner, {
          key: clusterKey,
          ...(encrypt ? { encrypt: true } : {}),
          ...(clock ? { clock } : {}),
          ...(refusals ? { onReject: refusals.onReject } : {}),
        })
    : undefined;
  return createClusterTransport(
    address,
    {
      // A restarted broker should find its clients back within a couple of seconds.
      maxDelayMs: 2000,
      maxMessageBytes,
      // The adapter's warnings obey the process's log level like raybus's own.
      onWarning: (message: string, error?: unknown) => logger.warn(error === undefined ? message : `${message}: ${String(error)}`),
      ...adapterOptions,
    },
    wrap,
  );
}
