/**
 * How to join the raybus/testing Clusters started in this process, by address — their cluster
 * key, whether they encrypt, the CA file of a TLS broker — so that `init({ address:
 * cluster.address })` in the same process joins without being told. Kept on a global symbol
 * so every copy of raybus in the process sees the same map. Worker processes never hold it.
 */
import { processGlobal } from '../util/process-global';

/** What a driver needs to join a test Cluster. */
export interface ClusterJoinSettings {
  readonly clusterKey?: string;
  readonly encrypt?: boolean;
  readonly caFile?: string;
}

const clusters = processGlobal('clusterJoinSettings', () => new Map<string, ClusterJoinSettings>());

export function registerClusterSettings(address: string, settings: ClusterJoinSettings): void {
  clusters.set(address, settings);
}

export function unregisterClusterSettings(address: string): void {
  clusters.delete(address);
}

/** The settings of a Cluster started in this process at `address`, if any. */
export function clusterSettingsFor(address: string): ClusterJoinSettings | undefined {
  return clusters.get(address);
}
