/**
 * init / shutdown: starting the embedded default (in-process bus, resource broker, one local
 * node with worker processes) and stopping it without leaving open handles.
 */
import { randomBytes } from 'node:crypto';
import { InMemoryBus } from '../transport/in-memory-transport';
import { CoreWorker } from '../core/core-worker';
import { slot } from '../core/runtime-state';
import { ResourceBroker } from '../scheduling/resource-broker';
import { NodeManager } from '../node/node-manager';
import { normalizeInitOptions, type InitOptions, type RuntimeEnv } from './options';
import { RaySystemError } from '../errors/ray-errors';
import type { Resources } from '../core/protocol';
import { nodeResourcesSync } from '../node/node-resources';
import { findMemoryCluster } from './memory-clusters';
import { isBrokerAddress, parseClusterAddress } from '../transport/cluster-address';
import { joinBrokerCluster, leaveBrokerCluster, type JoinedCluster } from './cluster-join';
import { setClusterKey } from '../serialization/code-shipping';

interface EmbeddedRuntime {
  readonly bus: InMemoryBus;
  readonly broker: ResourceBroker;
  readonly node: NodeManager;
  readonly core: CoreWorker;
}

let runtime: EmbeddedRuntime | undefined;
let starting: Promise<void> | undefined;
/** Set while this process is a driver of a cluster on a broker. */
let joined: JoinedCluster | undefined;

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
  if (process.env.RAYBUS_WORKER_ID) {
    throw new RaySystemError(
      'ray.init() was called inside a raybus worker process. This happens when a worker imports your main module to find ' +
        'code shipped by reference: guard the main code (CommonJS: `if (require.main === module) main()`; ESM: compare ' +
        'import.meta.url with process.argv[1]), or make the remote function self-contained.',
    );
  }
  if (slot.core || starting) {
    if (opts.ignoreReinitError) return (starting ?? Promise.resolve()).then(() => info());
    throw new RaySystemError('raybus is already initialized: call ray.shutdown() first, or pass ignoreReinitError: true');
  }
  const address = opts.address ?? process.env.RAYBUS_ADDRESS;
  if (address?.startsWith('memory://')) return attachToMemoryCluster(address, opts.namespace, opts.runtimeEnv);
  if (address && isBrokerAddress(address)) return joinCluster(address, opts);
  if (address) return Promise.reject(new RaySystemError(`raybus: unsupported address '${address.replace(/\/\/[^@]*@/, '//***@')}'`));
  // The embedded default signs nothing: its workers run what this process ships.
  setClusterKey(undefined);
  const resources: Resources = nodeResourcesSync({
    ...(opts.numCpus !== undefined && opts.numCpus !== null ? { numCpus: opts.numCpus } : {}),
    ...(opts.numGpus !== undefined && opts.numGpus !== null ? { numGpus: opts.numGpus } : {}),
    ...(opts.memory !== undefined && opts.memory !== null ? { memory: opts.memory } : {}),
    ...(opts.resources ? { resources: opts.resources } : {}),
    ...(opts.acceleratorType ? { acceleratorType: opts.acceleratorType } : {}),
  });
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
  const core = new CoreWorker({ procId: `driver-${jobId}`, transport: driverTransport, jobId, namespace, nodeId, isDriver: true, ...jobRuntimeEnv(opts.runtimeEnv) });
  // The in-memory transport does its work synchronously, so everything below is usable as soon
  // as this function returns (this is what lets `.remote()` before `init()` work).
  slot.core = core;
  slot.process = { jobId, nodeId, namespace, workerId: null, assignedResources: {}, gpuIds: [], actorId: null, wasCurrentActorReconstructed: false };
  runtime = { bus, broker, node, core };
  // Each start() declares its queues before its first await, so the broker queue and the
  // driver's reply queue exist when this function returns.
  starting = Promise.all([driverTransport.connect(), broker.start(), core.start(), node.start()])
    .then(() => undefined)
    .finally(() => {
    starting = undefined;
  });
  return starting.then(() => info());
}

/** Join a cluster on a broker (`raybus start` nodes): this process is only a driver. */
function joinCluster(address: string, opts: ReturnType<typeof normalizeInitOptions>): Promise<RuntimeInfo> {
  parseClusterAddress(address); // a malformed address throws synchronously
  const p = joinBrokerCluster(address, {
    ...(opts.namespace ? { namespace: opts.namespace } : {}),
    ...(opts.runtimeEnv ? { runtimeEnv: opts.runtimeEnv } : {}),
    ...(opts.clusterKey ? { clusterKey: opts.clusterKey } : {}),
    install: (core, jobId, namespace) => {
      slot.core = core;
      slot.process = { jobId, nodeId: null, namespace, workerId: null, assignedResources: {}, gpuIds: [], actorId: null, wasCurrentActorReconstructed: false };
    },
  }).then(
    (j) => {
      joined = j;
    },
    (err: unknown) => {
      slot.core = undefined;
      slot.process = undefined;
      throw err;
    },
  );
  starting = p.finally(() => {
    starting = undefined;
  });
  return starting.then(() => info());
}

/** Join a raybus/testing Cluster on the in-process bus: this process is only a driver. */
function attachToMemoryCluster(address: string, ns: string | null | undefined, runtimeEnv: RuntimeEnv | null | undefined): Promise<RuntimeInfo> {
  const cluster = findMemoryCluster(address);
  if (!cluster) return Promise.reject(new RaySystemError(`raybus: no test cluster at ${address} (it was shut down, or started in another process)`));
  const jobId = randomBytes(4).toString('hex');
  const namespace = ns ?? `anonymous-${jobId}`;
  const transport = cluster.bus.connect();
  const nodeId = cluster.headNodeId();
  const core = new CoreWorker({ procId: `driver-${jobId}`, transport, jobId, namespace, ...(nodeId ? { nodeId } : {}), isDriver: true, ...jobRuntimeEnv(runtimeEnv) });
  slot.core = core;
  slot.process = { jobId, nodeId: nodeId ?? null, namespace, workerId: null, assignedResources: {}, gpuIds: [], actorId: null, wasCurrentActorReconstructed: false };
  starting = Promise.all([transport.connect(), core.start()])
    .then(() => undefined)
    .finally(() => {
      starting = undefined;
    });
  return starting.then(() => ({ ...info(), address }));
}

/** The job-level runtime env as a CoreWorker option (work submitted by this driver inherits it). */
function jobRuntimeEnv(env: RuntimeEnv | null | undefined): { runtimeEnv?: RuntimeEnv } {
  return env ? { runtimeEnv: env } : {};
}

function info(): RuntimeInfo {
  const core = slot.core!;
  const address = joined ? parseClusterAddress(joined.address).display : 'embedded';
  return { address, nodeId: core.options.nodeId ?? '', namespace: core.options.namespace, jobId: core.options.jobId };
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
  const j = joined;
  joined = undefined;
  if (j) {
    await leaveBrokerCluster(j, 'raybus was shut down before this completed');
    return;
  }
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
  if (slot.core || starting || process.env.RAYBUS_WORKER_ID) return;
  init().catch((err: unknown) => process.emitWarning(`raybus: automatic init failed: ${(err as Error).message}`));
};
