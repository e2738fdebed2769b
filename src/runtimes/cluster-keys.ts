/**
 * Cluster keys of the raybus/testing Clusters started in this process, by address, so that
 * `init({ address: cluster.address })` in the same process signs code without being told the
 * key. Kept on a global symbol so every copy of raybus in the process sees the same map.
 */
import { processGlobal } from '../util/process-global';

const keys = processGlobal('clusterKeys', () => new Map<string, string>());

export function registerClusterKey(address: string, key: string): void {
  keys.set(address, key);
}

export function unregisterClusterKey(address: string): void {
  keys.delete(address);
}

/** The key of a Cluster started in this process at `address`, if any. */
export function clusterKeyFor(address: string): string | undefined {
  return keys.get(address);
}
