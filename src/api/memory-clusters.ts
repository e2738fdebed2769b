/**
 * Test clusters on the in-process bus, found by `init({ address: 'memory://<id>' })`. Kept on
 * a global symbol so every copy of raybus in the process sees the same registry.
 */
import type { InMemoryBus } from '../transport/in-memory-transport';
import { processGlobal } from '../core/process-global';

export interface MemoryCluster {
  readonly bus: InMemoryBus;
  /** The node a driver attached to this cluster counts as its own (Ray's head node). */
  headNodeId(): string | undefined;
}

const clusters = processGlobal('memoryClusters', () => new Map<string, MemoryCluster>());

export function registerMemoryCluster(id: string, c: MemoryCluster): void {
  clusters.set(id, c);
}

export function unregisterMemoryCluster(id: string): void {
  clusters.delete(id);
}

export function findMemoryCluster(address: string): MemoryCluster | undefined {
  const m = /^memory:\/\/(.+)$/.exec(address);
  return m ? clusters.get(m[1]!) : undefined;
}
