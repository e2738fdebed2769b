/**
 * The embedded default's composition root: an in-process bus, the resource broker, one local
 * node with worker processes, and this process's CoreWorker as the driver.
 */
import { InMemoryBus } from '../transport/in-memory-transport';
import { CoreWorker } from '../core/core-worker';
import { BrokerServer } from '../broker/broker-server';
import { NodeManager } from '../node/node-manager';
import type { Resources } from '../protocol/wire';
import { driverProcId, newJobId, newNodeId, type JobId, type NodeId } from '../protocol/ids';
import type { RuntimeEnv } from '../protocol/runtime-env';
import { WORKER_ENTRY } from './worker-entry';

/** What `init()` without an address starts. */
export interface EmbeddedRuntime {
  readonly bus: InMemoryBus;
  readonly broker: BrokerServer;
  readonly node: NodeManager;
  readonly core: CoreWorker;
  readonly jobId: JobId;
  readonly nodeId: NodeId;
  readonly namespace: string;
  /** Resolves once every part has started (each declares its queues before its first await). */
  readonly started: Promise<void>;
  stop(reason: string): Promise<void>;
}

export interface EmbeddedRuntimeOptions {
  readonly resources: Resources;
  readonly namespace?: string | null;
  readonly runtimeEnv?: RuntimeEnv | null;
  /** Print the output of this driver's work here (default true). */
  readonly logToDriver?: boolean | null;
}

/**
 * Build and start the embedded runtime. The in-memory transport does its work synchronously,
 * so the driver's CoreWorker is usable as soon as this returns (`.remote()` before `init()`
 * relies on it); `started` settles once the broker and node are up.
 */
export function startEmbeddedRuntime(options: EmbeddedRuntimeOptions): EmbeddedRuntime {
  const { resources } = options;
  const jobId = newJobId();
  const namespace = options.namespace ?? `anonymous-${jobId}`;
  const nodeId = newNodeId();
  const bus = new InMemoryBus();
  const broker = new BrokerServer(bus.connect(), { preferredNodeId: nodeId });
  const node = new NodeManager({
    nodeId,
    resources,
    jobId,
    namespace,
    connect: async () => {
      const t = bus.connect();
      await t.connect();
      return t;
    },
    prestart: Math.min(2, Math.max(0, Math.floor(resources.CPU ?? 0))),
    workerEntry: WORKER_ENTRY,
  });
  const driverTransport = bus.connect();
  const core = new CoreWorker({
    procId: driverProcId(jobId),
    transport: driverTransport,
    jobId,
    namespace,
    nodeId,
    isDriver: true,
    ...(options.runtimeEnv ? { runtimeEnv: options.runtimeEnv } : {}),
    ...(options.logToDriver === false ? { logToDriver: false } : {}),
  });
  const started = Promise.all([driverTransport.connect(), broker.start(), core.start(), node.start()]).then(() => undefined);
  return {
    bus,
    broker,
    node,
    core,
    jobId,
    nodeId,
    namespace,
    started,
    async stop(reason: string): Promise<void> {
      await started.catch(() => undefined);
      await core.stop(reason);
      await node.stop();
      await broker.stop();
    },
  };
}
