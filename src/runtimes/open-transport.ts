/**
 * How the composition roots open a transport to a cluster address: the registered adapter
 * for its scheme (transport-registry.ts) with raybus's defaults for processes of a cluster.
 */
import { createTransport } from '../transport/transport-registry';
import type { Transport, TransportOptions } from '../transport/transport';
import { logger } from '../util/logger';

/** Largest message raybus sends on a broker by default (RAYBUS_MAX_MESSAGE_BYTES overrides): 16 MiB. */
export const BROKER_MAX_MESSAGE_BYTES = 16 * 1024 * 1024;

/** The transport of a driver, node or tool to the cluster at `address` (not yet connected). */
export function openClusterTransport(address: string, options: TransportOptions = {}): Transport {
  // One message limit for the whole process tree on a broker: the core refuses larger values
  // where they are produced (`.remote()`, `put`, a task's result), workers inherit it.
  process.env.RAYBUS_MAX_MESSAGE_BYTES ??= String(BROKER_MAX_MESSAGE_BYTES);
  return createTransport(address, {
    // A restarted broker should find its clients back within a couple of seconds.
    maxDelayMs: 2000,
    maxMessageBytes: Number(process.env.RAYBUS_MAX_MESSAGE_BYTES) || BROKER_MAX_MESSAGE_BYTES,
    // The adapter's warnings obey the process's log level like raybus's own.
    onWarning: (message, error) => logger.warn(error === undefined ? message : `${message}: ${String(error)}`),
    ...options,
  });
}
