/**
 * init / shutdown: starting the embedded default (in-process bus, resource broker, one local
 * node with worker processes) and stopping it without leaving open handles.
 */
import * as os from 'node:os';
import { randomBytes } from 'node:crypto';
import { InMemoryBus } from '../transport/in-memory-transport';
import { CoreWorker } from '../core/core-worker';
import { slot } from '../core/runtime-state';
import { ResourceBroker } from '../scheduling/resource-broker';
import { NodeManager } from '../node/node-manager';
import { normalizeInitOptions, type InitOptions } from './options';
import { RaySystemError } from '../errors/ray-errors';
import type { Resources } from '../core/protocol';

interface EmbeddedRuntime {
  readonly bus: InMemoryBus;
  readonly broker: ResourceBroker;
  readonly node: NodeManager;
  readonly core: CoreWorker;
}

let runtime: EmbeddedRuntime | undefined;
let starting: Promise<void> | undefined;

/** What `init` returns: facts about the runtime that started. */
export interface RuntimeInfo {
  readonly address: string;
  readonly nodeId: string;
  readonly namespace: string;
  readonly jobId: string;
}

/**
 * Start raybus. Without an address (and without RAYBUS_ADDRESS) this starts the embedded
 * default in this process.
 *
 * @example
 * await ray.init();                 // embedded: this machine's CPUs, worker processes
 * await ray.init({ numCpus: 4 });
 */
export function init(options: InitOptions = {}): Promise<RuntimeInfo> {
  const opts = normalizeInitOptions(options);
  if (slot.core || starting) {
    if (opts.ignoreReinitError) return (starting ?? Promise.resolve()).then(() => info());
    throw new RaySystemError('raybus is already initialized: call ray.shutdown() first, or pass ignoreReinitError: true');
  }
  const address = opts.address ?? process.env.RAYBUS_ADDRESS;
  if (address) {
    return Promise.reject(
      new RaySystemError(
        `raybus: joining a cluster at ${address.replace(/\/\/[^@]*@/, '//***@')} needs the RabbitMQ transport, which this build does not include yet; call init() without an address for the embedded default`,
      ),
    );
  }
  const resources: Resources = {
    CPU: opts.numCpus ?? os.cpus().length,
    ...(opts.numGpus ? { GPU: opts.numGpus } : {}),
    memory: opts.memory ?? Math.floor(os.totalmem() * 0.7),
    ...(opts.resources ?? {}),
    ...(opts.acceleratorType ? { [`accelerator_type:${opts.acceleratorType}`]: 1 } : {}),
  };
  const jobId = randomBytes(4).toString('hex');
  const namespace = opts.namespace ?? `anonymous-${jobId}`;
  const nodeId = randomBytes(14).toString('hex');
  const bus = new InMemoryBus();
  const broker = new ResourceBroker(bus.connect(), { preferredNodeId: nodeId });
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
  });
  const driverTransport = bus.connect();
  const core = new CoreWorker({ procId: `driver-${jobId}`, transport: driverTransport, jobId, namespace, nodeId, isDriver: true });
  // The in-memory transport does its work synchronously, so everything below is usable as soon
  // as this function returns (this is what lets `.remote()` before `init()` work).
  slot.core = core;
  slot.process = { jobId, nodeId, namespace, workerId: null, assignedResources: {}, gpuIds: [], actorId: null, wasCurrentActorReconstructed: false };
  runtime = { bus, broker, node, core };
  starting = (async () => {
    await driverTransport.connect();
    await broker.start();
    await core.start();
    await node.start();
  })().finally(() => {
    starting = undefined;
  });
  return starting.then(() => info());
}

function info(): RuntimeInfo {
  const core = slot.core!;
  return { address: 'embedded', nodeId: core.options.nodeId ?? '', namespace: core.options.namespace, jobId: core.options.jobId };
}

/** True once `init` was called (and until `shutdown`). */
export function isInitialized(): boolean {
  return slot.core !== undefined;
}

/**
 * Stop what `init` started: rejects pending work with a clear error, kills workers, and
 * leaves no open handles.
 */
export async function shutdown(): Promise<void> {
  if (starting) await starting.catch(() => undefined);
  const rt = runtime;
  runtime = undefined;
  const core = slot.core;
  slot.core = undefined;
  if (!rt) {
    await core?.stop();
    return;
  }
  await rt.core.stop('raybus was shut down before this completed');
  await rt.node.stop();
  await rt.broker.stop();
}

/** @internal The embedded runtime's node (tests use it to find worker pids). */
export function embeddedNode(): NodeManager | undefined {
  return runtime?.node;
}

/** Start the embedded default when `.remote()` is used before `init()` (as Ray does). */
slot.autoInit = () => {
  if (slot.core || process.env.RAYBUS_WORKER_ID) return;
  init().catch((err: unknown) => process.emitWarning(`raybus: automatic init failed: ${(err as Error).message}`));
};
