/**
 * init / shutdown: starting the embedded default (in-process bus, resource broker, one local
 * node with worker processes) and stopping it without leaving open handles.
 */
import type { CoreWorker } from '../core/core-worker';
import { slot } from '../core/runtime-state';
import type { NodeManager } from '../node/node-manager';
import type { JobId, NodeId } from '../protocol/ids';
import { normalizeInitOptions, type InitOptions } from './options';
import { RaySystemError } from '../errors/ray-errors';
import type { Resources } from '../protocol/wire';
import type * as NodeResources from '../node/node-resources';
import type * as MemoryClusters from '../runtimes/memory-clusters';
import type * as EmbeddedRuntimes from '../runtimes/embedded-runtime';
import type { EmbeddedRuntime } from '../runtimes/embedded-runtime';
import { parseClusterAddress } from '../transport/cluster-address';
import type * as DriverRuntime from '../runtimes/driver-runtime';
import type { JoinedCluster } from '../runtimes/driver-runtime';
import { holdProcessUntil } from '../util/keep-alive';
import { logger, setLogLevel } from '../util/logger';
import type * as DashboardServer from '../dashboard/dashboard-server';
import type { Dashboard } from '../dashboard/dashboard-server';
import { isLoopbackHost, type DashboardOptions } from '../dashboard/dashboard-options';
import { CLUSTER_KEY_VAR } from '../runtimes/cluster-security';
import type { Transport } from '../transport/transport';

let runtime: EmbeddedRuntime | undefined;
let starting: Promise<void> | undefined;
/** Set while this process is a driver of a cluster on a broker. */
let joined: JoinedCluster | undefined;
/** The dashboard `init({ dashboard })` started, and what it runs on. */
let dashboard: { server?: Dashboard; starting: Promise<void>; transport?: Transport } | undefined;

/** What `init` returns: facts about the runtime that started. */
export interface RuntimeInfo {
  readonly address: string;
  readonly nodeId: string;
  readonly namespace: string;
  readonly jobId: string;
  /** The dashboard's URL (`init({ dashboard })`). */
  readonly dashboardUrl?: string;
}

/*
 * The runtimes and the dashboard are loaded by the first `init`. A worker process loads this
 * API whenever a user's module it imports does (an actor or function shipped by reference),
 * but never starts a runtime, and these are most of raybus: the broker, nodes, their XState
 * machines, the dashboard (a worker that loaded them held ~12 MB more).
 */
const nodeResourcesSync: typeof NodeResources.nodeResourcesSync = (...a) => (require('../node/node-resources') as typeof NodeResources).nodeResourcesSync(...a);
const attachMemoryDriver: typeof MemoryClusters.attachMemoryDriver = (...a) => (require('../runtimes/memory-clusters') as typeof MemoryClusters).attachMemoryDriver(...a);
const startEmbeddedRuntime: typeof EmbeddedRuntimes.startEmbeddedRuntime = (...a) => (require('../runtimes/embedded-runtime') as typeof EmbeddedRuntimes).startEmbeddedRuntime(...a);
const joinBrokerCluster: typeof DriverRuntime.joinBrokerCluster = (...a) => (require('../runtimes/driver-runtime') as typeof DriverRuntime).joinBrokerCluster(...a);
const leaveBrokerCluster: typeof DriverRuntime.leaveBrokerCluster = (...a) => (require('../runtimes/driver-runtime') as typeof DriverRuntime).leaveBrokerCluster(...a);
const startDashboard: typeof DashboardServer.startDashboard = (...a) => (require('../dashboard/dashboard-server') as typeof DashboardServer).startDashboard(...a);

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
  if (opts.logLevel) setLogLevel(opts.logLevel);
  const board = opts.dashboard ? (opts.dashboard as DashboardOptions) : undefined;
  if (board && !isLoopbackHost(board.host!) && board.token === undefined && !opts.clusterKey && !process.env[CLUSTER_KEY_VAR]) {
    throw new RangeError(`The option 'dashboard' binds to ${board.host}: every request must then carry a token; give dashboard.token (or a cluster key)`);
  }
  if (process.env.RAYBUS_WORKER_ID) {
    throw new RaySystemError(
      'ray.init() was called inside a raybus worker process. This happens when a worker imports your main module to find ' +
        'code shipped by reference: guard the main code (CommonJS: `if (require.main === module) main()`; ES module: ' +
        '`if (import.meta.url === pathToFileURL(process.argv[1]).href) await main()`), or make the remote function self-contained.',
    );
  }
  if (slot.core || starting) {
    if (opts.ignoreReinitError) return (starting ?? Promise.resolve()).then(() => info());
    throw new RaySystemError('raybus is already initialized: call ray.shutdown() first, or pass ignoreReinitError: true');
  }
  const address = opts.address ?? process.env.RAYBUS_ADDRESS;
  if (address?.startsWith('memory://')) return withDashboard(attachToMemoryCluster(address, opts), board, opts.clusterKey ?? undefined);
  if (opts.transport) return withDashboard(joinCluster(address ?? `${opts.transport.kind}://given-transport`, opts), board, opts.clusterKey ?? undefined);
  if (address) return withDashboard(joinCluster(address, opts), board, opts.clusterKey ?? undefined);
  const resources: Resources = nodeResourcesSync({
    ...(opts.numCpus !== undefined && opts.numCpus !== null ? { numCpus: opts.numCpus } : {}),
    ...(opts.numGpus !== undefined && opts.numGpus !== null ? { numGpus: opts.numGpus } : {}),
    ...(opts.memory !== undefined && opts.memory !== null ? { memory: opts.memory } : {}),
    ...(opts.resources ? { resources: opts.resources } : {}),
    ...(opts.acceleratorType ? { acceleratorType: opts.acceleratorType } : {}),
  });
  const rt = startEmbeddedRuntime({ resources, namespace: opts.namespace, runtimeEnv: opts.runtimeEnv, logToDriver: opts.logToDriver });
  // The in-memory transport does its work synchronously, so the runtime is usable as soon as
  // this function returns (this is what lets `.remote()` before `init()` work).
  install(rt.core, rt.jobId, rt.namespace, rt.nodeId);
  runtime = rt;
  starting = startingUntil(rt.started);
  return withDashboard(
    starting.then(() => info()),
    board,
    undefined,
    () => rt.bus.connect(),
  );
}

/**
 * Once raybus started, start the dashboard asked for (on a connection of its own to the
 * embedded bus, else on the driver's). A dashboard that cannot start is a warning, not a
 * failure of `init`.
 */
function withDashboard(started: Promise<RuntimeInfo>, board: DashboardOptions | undefined, clusterKey: string | undefined, ownTransport?: () => Transport): Promise<RuntimeInfo> {
  if (!board) return started;
  const entry: NonNullable<typeof dashboard> = { starting: Promise.resolve() };
  dashboard = entry;
  const run = async (rt: RuntimeInfo): Promise<void> => {
    // shutdown() came first: nothing to start.
    if (dashboard !== entry) return;
    const transport = ownTransport ? (entry.transport = ownTransport()) : slot.core!.transport;
    await transport.connect();
    entry.server = await startDashboard({ ...board, transport, address: rt.address, keepProcess: false, ...(clusterKey ? { clusterKey } : {}) });
    logger.info(`raybus: dashboard at ${entry.server.url}${entry.server.requiresToken ? ' (requests must carry the token)' : ''}`);
  };
  entry.starting = started.then(
    (rt) => run(rt).catch((err: unknown) => logger.warn(`raybus: the dashboard did not start: ${(err as Error).message}`)),
    () => undefined,
  );
  return started.then((rt) => holdProcessUntil(entry.starting).then(() => (entry.server ? { ...rt, dashboardUrl: entry.server.url } : rt)));
}

async function stopDashboard(): Promise<void> {
  const d = dashboard;
  dashboard = undefined;
  if (!d) return;
  await d.starting;
  await d.server?.close().catch(() => undefined);
  await d.transport?.close().catch(() => undefined);
}

/**
 * `starting` until `p` settles. Starting waits on handles that do not keep the process alive
 * (worker processes, an unref'd broker connection), so it holds the process itself; and from
 * now on the end of the script shuts raybus down.
 */
function startingUntil(p: Promise<void>): Promise<void> {
  process.removeListener('beforeExit', shutdownAtExit);
  process.once('beforeExit', shutdownAtExit);
  return holdProcessUntil(p).finally(() => {
    starting = undefined;
  });
}

/** The script's work is done and it did not call shutdown(): stop the workers (and leave the cluster). */
function shutdownAtExit(): void {
  if (slot.core) shutdown().catch((err: unknown) => logger.warn(`raybus: shutdown at exit failed: ${(err as Error).message}`));
}

/** Make `core` this process's runtime (what the API functions reach through `requireCore`). */
function install(core: CoreWorker, jobId: JobId, namespace: string, nodeId: NodeId | null): void {
  slot.core = core;
  slot.process = { jobId, nodeId, namespace, workerId: null, assignedResources: {}, gpuIds: [], actorId: null, wasCurrentActorReconstructed: false };
}

/** Join a cluster on a broker (`raybus start` nodes): this process is only a driver. */
function joinCluster(address: string, opts: ReturnType<typeof normalizeInitOptions>): Promise<RuntimeInfo> {
  parseClusterAddress(address); // a malformed address throws synchronously
  const p = joinBrokerCluster(address, {
    ...(opts.transport ? { transport: opts.transport } : {}),
    ...(opts.namespace ? { namespace: opts.namespace } : {}),
    ...(opts.runtimeEnv ? { runtimeEnv: opts.runtimeEnv } : {}),
    ...(opts.clusterKey ? { clusterKey: opts.clusterKey } : {}),
    ...(opts.encrypt ? { encrypt: true } : {}),
    ...(opts.insecure ? { insecure: true } : {}),
    ...(opts.caFile ? { caFile: opts.caFile } : {}),
    ...(opts.logToDriver === false ? { logToDriver: false } : {}),
    install: (core, jobId, namespace) => install(core, jobId, namespace, null),
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
  starting = startingUntil(p);
  return starting.then(() => info());
}

/** Join a raybus/testing Cluster on the in-process bus: this process is only a driver. */
function attachToMemoryCluster(address: string, opts: ReturnType<typeof normalizeInitOptions>): Promise<RuntimeInfo> {
  const driver = attachMemoryDriver(address, { namespace: opts.namespace, runtimeEnv: opts.runtimeEnv, logToDriver: opts.logToDriver });
  if (!driver) return Promise.reject(new RaySystemError(`raybus: no test cluster at ${address} (it was shut down, or started in another process)`));
  install(driver.core, driver.jobId, driver.namespace, driver.nodeId ?? null);
  starting = startingUntil(driver.started);
  return starting.then(() => ({ ...info(), address }));
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
export function shutdown(): Promise<void> {
  process.removeListener('beforeExit', shutdownAtExit);
  // Stopping waits for worker processes to exit, which alone would not keep the process alive.
  return holdProcessUntil(stop());
}

async function stop(): Promise<void> {
  if (starting) await starting.catch(() => undefined);
  await stopDashboard();
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
  await rt.stop('raybus was shut down before this completed');
}

/** @internal The embedded runtime's node (tests use it to find worker pids). */
export function embeddedNode(): NodeManager | undefined {
  return runtime?.node;
}

/** Start the embedded default when `.remote()` is used before `init()` (as Ray does). */
slot.autoInit = () => {
  // Joining a cluster (RAYBUS_ADDRESS) takes a connection first: that needs `await ray.init()`.
  if (slot.core || starting || process.env.RAYBUS_WORKER_ID || process.env.RAYBUS_ADDRESS) return;
  init().catch((err: unknown) => logger.warn(`raybus: automatic init failed: ${(err as Error).message}`));
};
