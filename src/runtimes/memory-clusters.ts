/**
 * Test clusters on the in-process bus, found by `init({ address: 'memory://<id>' })`. Kept on
 * a global symbol so every copy of raybus in the process sees the same registry.
 */
import { driverProcId, newJobId, type JobId, type NodeId } from '../protocol/ids';
import type { RuntimeEnv } from '../protocol/runtime-env';
import type { CoreWorker } from '../core/core-worker';
import { createDriverContainer } from '../di/containers';
import { CORE_WORKER, SERIALIZER, TRANSPORT, resolve } from '../di/tokens';
import type { InMemoryBus } from '../transport/in-memory-transport';
import { processGlobal } from '../util/process-global';

export interface MemoryCluster {
  readonly bus: InMemoryBus;
  /** The node a driver attached to this cluster counts as its own (Ray's head node). */
  headNodeId(): NodeId | undefined;
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

/** A driver attached to a test cluster on the in-process bus. */
export interface MemoryDriver {
  readonly core: CoreWorker;
  readonly jobId: JobId;
  readonly namespace: string;
  readonly nodeId: NodeId | undefined;
  readonly started: Promise<void>;
}

/** Attach this process as a driver to the test cluster at `address` (undefined if none is there). */
export function attachMemoryDriver(address: string, options: { namespace?: string | null; runtimeEnv?: RuntimeEnv | null; logToDriver?: boolean | null }): MemoryDriver | undefined {
  const cluster = findMemoryCluster(address);
  if (!cluster) return undefined;
  const jobId = newJobId();
  const namespace = options.namespace ?? `anonymous-${jobId}`;
  const nodeId = cluster.headNodeId();
  const c = createDriverContainer({
    identity: { procId: driverProcId(jobId), jobId, namespace, ...(nodeId ? { nodeId } : {}) },
    transport: cluster.bus.connect(),
    session: false,
    ...(options.runtimeEnv ? { runtimeEnv: options.runtimeEnv } : {}),
    ...(options.logToDriver === false ? { logToDriver: false } : {}),
  });
  const transport = resolve(c, TRANSPORT);
  resolve(c, SERIALIZER);
  const core = resolve(c, CORE_WORKER);
  const started = Promise.all([transport.connect(), core.start()]).then(() => undefined);
  return { core, jobId, namespace, nodeId, started };
}
