/**
 * The embedded default: an in-process bus, the resource broker, one local node with worker
 * processes, and this process's CoreWorker as the driver, assembled by
 * `createEmbeddedContainer` (src/di/containers.ts).
 */
import type { InMemoryBus } from '../transport/in-memory-transport';
import type { CoreWorker } from '../core/core-worker';
import type { BrokerServer } from '../broker/broker-server';
import type { NodeManager } from '../node/node-manager';
import type { Resources } from '../protocol/wire';
import { driverProcId, newJobId, newNodeId, type JobId, type NodeId } from '../protocol/ids';
import type { RuntimeEnv } from '../protocol/runtime-env';
import type { Clock } from '../util/clock';
import { createEmbeddedContainer } from '../di/containers';
import { BROKER_SERVER, CORE_WORKER, IN_MEMORY_BUS, NODE_MANAGER, SERIALIZER, TRANSPORT, resolve } from '../di/tokens';

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
  /** Every timer of the runtime (default: real time). */
  readonly clock?: Clock;
}

/**
 * Build and start the embedded runtime. The in-memory transport does its work synchronously,
 * so the driver's CoreWorker is usable as soon as this returns (`.remote()` before `init()`
 * relies on it); `started` settles once the broker and node are up.
 */
export function startEmbeddedRuntime(options: EmbeddedRuntimeOptions): EmbeddedRuntime {
  const jobId = newJobId();
  const namespace = options.namespace ?? `anonymous-${jobId}`;
  const nodeId = newNodeId();
  const c = createEmbeddedContainer({
    resources: options.resources,
    identity: { procId: driverProcId(jobId), jobId, namespace, nodeId },
    ...(options.runtimeEnv ? { runtimeEnv: options.runtimeEnv } : {}),
    ...(options.logToDriver === false ? { logToDriver: false } : {}),
    ...(options.clock ? { clock: options.clock } : {}),
  });
  const broker = resolve(c, BROKER_SERVER);
  const node = resolve(c, NODE_MANAGER);
  const driverTransport = resolve(c, TRANSPORT);
  resolve(c, SERIALIZER);
  const core = resolve(c, CORE_WORKER);
  const started = Promise.all([driverTransport.connect(), broker.start(), core.start(), node.start()]).then(() => undefined);
  return {
    bus: resolve(c, IN_MEMORY_BUS),
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
