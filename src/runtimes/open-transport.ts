/**
 * How the composition roots open a transport to a cluster address: the registered adapter
 * for its scheme (transport-registry.ts) with raybus's defaults for processes of a cluster.
 */
import { createTransport } from '../transport/transport-registry';
import type { Transport, TransportOptions } from '../transport/transport';

/** Largest message raybus sends on a broker by default (RAYBUS_MAX_MESSAGE_BYTES overrides): 16 MiB; larger values travel in chunks of it. */
export const BROKER_MAX_MESSAGE_BYTES = 16 * 1024 * 1024;

/** The transport of a driver, node or tool to the cluster at `address` (not yet connected). */
export function openClusterTransport(address: string, options: TransportOptions = {}): Transport {
  // One message limit for the whole process tree on a broker (workers inherit it): values
  // larger than half of it travel as blobs, pulled in chunks of about that size.
  process.env.RAYBUS_MAX_MESSAGE_BYTES ??= String(BROKER_MAX_MESSAGE_BYTES);
  return createTransport(address, {
    // A restarted broker should find its clients back within a couple of seconds.
    maxDelayMs: 2000,
    maxMessageBytes: Number(process.env.RAYBUS_MAX_MESSAGE_BYTES) || BROKER_MAX_MESSAGE_BYTES,
    ...options,
  });
}
