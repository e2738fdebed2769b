/**
 * The composition roots of raybus, one per kind of runtime: every part of a process is
 * registered here, in a tsyringe child container of its own (never the global container, so
 * two runtimes in one process — a test cluster and a driver, say — share nothing by accident),
 * under the explicit tokens of tokens.ts. The runtimes (src/runtimes) create their container,
 * resolve the parts they start and stop, and hold no wiring of their own.
 *
 * Registrations are cached factories (`instanceCachingFactory`): a part is built the first
 * time it is resolved and the same instance is returned after. Parts that depend on a
 * connected transport (the serializer's envelope limit follows `capabilities.maxMessageBytes`,
 * which NATS learns from its server) are resolved by the runtime once it connected.
 *
 * @example
 * const c = createEmbeddedContainer({ resources: { CPU: 2 } });
 * const core = resolve(c, CORE_WORKER);
 */
import type { DependencyContainer } from 'tsyringe';
import { childContainer, coreWorker, factory, registerCommon, value } from './container-parts';
import type { Clock } from '../util/clock';
import type { Transport } from '../transport/transport';
import { InMemoryBus } from '../transport/in-memory-transport';
import { busCapabilitiesEnv } from '../transport/message-limit';
import { OwnerSession } from '../core/owner-session';
import { BrokerServer } from '../broker/broker-server';
import { BrokerCandidate } from '../broker/broker-election';
import { NodeManager } from '../node/node-manager';
import type { JobId, NodeId, ProcId } from '../protocol/ids';
import type { Resources } from '../protocol/wire';
import type { RuntimeEnv } from '../protocol/runtime-env';
import { REQUIRE_SIGNED_CODE_VAR } from '../protocol/worker-process';
import { WORKER_ENTRY } from './worker-entry';
import {
  BROKER_CANDIDATE,
  BROKER_SERVER,
  CAPABILITIES,
  CLOCK,
  CONNECTOR,
  CORE_WORKER,
  IDENTITY,
  IN_MEMORY_BUS,
  LOGGER,
  NODE_FACTORY,
  NODE_MANAGER,
  OWNER_SESSION,
  RUNTIME_OPTIONS,
  TRANSPORT,
  TRANSPORT_OPENER,
  WARN,
  resolve,
  type Identity,
  type Logger,
  type TransportOpener,
} from './tokens';

/** Env var of the number of warm workers a node keeps (Ray's worker pool prestart). */
const PRESTART_VAR = 'RAYBUS_PRESTART_WORKERS';

/**
 * Idle workers of the default runtime env a node keeps started: RAYBUS_PRESTART_WORKERS, else
 * one per CPU up to 2 (a burst of actors or leases starts on warm workers; more would hold
 * memory and start-up CPU a small machine needs).
 */
function prestartWorkers(resources: Resources): number {
  const raw = process.env[PRESTART_VAR];
  if (raw !== undefined && raw !== '') {
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 0) throw new RangeError(`${PRESTART_VAR} must be an integer >= 0, got '${raw}'`);
    return n;
  }
  return Math.min(2, Math.max(0, Math.floor(resources.CPU ?? 0)));
}

// ------------------------------------------------------------------ embedded (init() without an address)

/** Options of the embedded runtime. */
export interface EmbeddedContainerOptions {
  readonly resources: Resources;
  readonly identity: Identity & { readonly nodeId: NodeId };
  readonly runtimeEnv?: RuntimeEnv | null;
  /** Print the output of this driver's work here (default true). */
  readonly logToDriver?: boolean | null;
  readonly clock?: Clock;
}

/** An in-process bus, the broker, one local node and this process's CoreWorker as the driver. */
export function createEmbeddedContainer(options: EmbeddedContainerOptions): DependencyContainer {
  const c = childContainer();
  registerCommon(c, options);
  value(c, RUNTIME_OPTIONS, options);
  value(c, IDENTITY, options.identity);
  factory(c, IN_MEMORY_BUS, () => new InMemoryBus());
  factory(c, TRANSPORT, (k) => resolve(k, IN_MEMORY_BUS).connect());
  factory(c, CONNECTOR, (k) => async () => {
    const t = resolve(k, IN_MEMORY_BUS).connect();
    await t.connect();
    return t;
  });
  factory(c, BROKER_SERVER, (k) => new BrokerServer(resolve(k, IN_MEMORY_BUS).connect(), { preferredNodeId: options.identity.nodeId, clock: resolve(k, CLOCK) }));
  factory(c, NODE_MANAGER, (k) => {
    const { resources, identity } = options;
    return new NodeManager({
      nodeId: identity.nodeId,
      resources,
      jobId: identity.jobId,
      namespace: identity.namespace,
      connect: resolve(k, CONNECTOR),
      prestart: prestartWorkers(resources),
      workerEntry: WORKER_ENTRY,
      clock: resolve(k, CLOCK),
    });
  });
  factory(c, CORE_WORKER, (k) => coreWorker(k, { isDriver: true, runtimeEnv: options.runtimeEnv ?? null, logToDriver: options.logToDriver ?? null }));
  return c;
}

// ------------------------------------------------------------------ drivers (init({ address }))

/** Options of a driver: of a cluster on a bus (with a session), or of a test cluster in this process. */
export interface DriverContainerOptions {
  readonly identity: Identity;
  /** Opens the driver's connection (unless `transport` is given). */
  readonly open?: TransportOpener;
  /** A ready transport to use (a test cluster's in-process bus, or one given to init). */
  readonly transport?: Transport;
  /** Keep a session with the broker leader (presence, failover): drivers of a cluster on a bus. */
  readonly session: boolean;
  readonly runtimeEnv?: RuntimeEnv | null;
  /** Print the output of this driver's work here (default true). */
  readonly logToDriver?: boolean | null;
  readonly clock?: Clock;
}

/** A driver: its connection, its CoreWorker and, on a bus, its session with the broker leader. */
export function createDriverContainer(options: DriverContainerOptions): DependencyContainer {
  const c = childContainer();
  registerCommon(c, options);
  value(c, RUNTIME_OPTIONS, options);
  value(c, IDENTITY, options.identity);
  factory(c, TRANSPORT, (): Transport => {
    if (options.transport) return options.transport;
    if (!options.open) throw new TypeError('createDriverContainer: give open or transport');
    return options.open({
      connectionName: `raybus driver pid ${process.pid}`,
      // Refused or unreachable: a clear error within seconds, after a few spaced attempts.
      connectAttempts: 4,
      connectTimeoutMs: 3000,
      // The driver's CoreWorker holds the process while work is outstanding; an idle connection does not.
      keepAlive: false,
    });
  });
  factory(c, CORE_WORKER, (k) => coreWorker(k, { isDriver: true, runtimeEnv: options.runtimeEnv ?? null, logToDriver: options.logToDriver ?? null }));
  if (options.session) {
    factory(c, OWNER_SESSION, (k) => {
      const core = resolve(k, CORE_WORKER);
      return new OwnerSession(
        {
          address: core.address,
          presence: core.options.procId,
          get isClosed() {
            return core.isClosed;
          },
          resyncLeases: () => core.submitter.resync(),
        },
        resolve(k, TRANSPORT),
        resolve(k, CLOCK),
      );
    });
  }
  return c;
}

// ------------------------------------------------------------------ nodes (raybus start)

/** Options of a node process. */
export interface NodeContainerOptions {
  readonly nodeId: NodeId;
  readonly resources: Resources;
  readonly labels?: Record<string, string>;
  /** Opens the node's connections (with the cluster's security applied by the caller). */
  readonly open: TransportOpener;
  /** The node authenticates its bus: its workers take work and code only from what it opened. */
  readonly authenticated?: boolean;
  /** Unauthenticated messages this node process refused so far, by reason (reported to the broker). */
  readonly refusals?: () => Record<string, number>;
  /** How often the node reports its leases (and refusals) to the broker (ms). */
  readonly leaseReportMs?: number;
  readonly imports?: readonly string[];
  readonly log?: Logger;
  readonly clock?: Clock;
}

/**
 * A node: its control connection (broker candidate, and the broker while it leads), a
 * NodeManager whose workers each get a connection of their own, and the candidate.
 */
export function createNodeContainer(options: NodeContainerOptions): DependencyContainer {
  const c = childContainer();
  registerCommon(c, options);
  value(c, RUNTIME_OPTIONS, options);
  const short = options.nodeId.slice(0, 8);
  value(c, IDENTITY, { procId: `node-${options.nodeId}` as ProcId, jobId: 'cluster' as JobId, namespace: 'default', nodeId: options.nodeId });
  value(c, TRANSPORT_OPENER, options.open);
  // The first connection fails fast (wrong address or credentials); later ones wait out outages.
  factory(c, TRANSPORT, (k) => resolve(k, TRANSPORT_OPENER)({ connectionName: `raybus node ${short} broker candidate`, connectAttempts: 5 }));
  factory(c, CONNECTOR, (k) => {
    let first = true;
    return async () => {
      const role = first ? 'node' : 'worker';
      first = false;
      const t = resolve(k, TRANSPORT_OPENER)({ connectionName: `raybus node ${short} ${role}`, connectAttempts: 1000 });
      await t.connect();
      return t;
    };
  });
  factory(c, BROKER_CANDIDATE, (k) => new BrokerCandidate({ transport: resolve(k, TRANSPORT), candidateId: options.nodeId, log: resolve(k, LOGGER), clock: resolve(k, CLOCK), warn: resolve(k, WARN) }));
  // Resolved once the control connection is up: workers learn the bus's capabilities from it.
  factory(c, NODE_MANAGER, (k) => {
    const { resources } = options;
    return new NodeManager({
      nodeId: options.nodeId,
      resources,
      labels: options.labels ?? {},
      jobId: 'cluster' as JobId,
      namespace: 'default',
      connect: resolve(k, CONNECTOR),
      prestart: prestartWorkers(resources),
      cluster: true,
      workerEntry: WORKER_ENTRY,
      workerEnv: {
        // Its workers take work and code only from messages the node's connections opened.
        ...(options.authenticated ? { [REQUIRE_SIGNED_CODE_VAR]: '1' } : {}),
        ...busCapabilitiesEnv(resolve(k, CAPABILITIES)),
      },
      ...(options.refusals ? { refusals: options.refusals } : {}),
      ...(options.leaseReportMs ? { leaseReportMs: options.leaseReportMs } : {}),
      ...(options.imports?.length ? { imports: options.imports } : {}),
      clock: resolve(k, CLOCK),
    });
  });
  return c;
}

// ------------------------------------------------------------------ test clusters (raybus/testing)

/** Options of a test cluster on an in-process bus. */
export interface TestClusterContainerOptions {
  readonly clock?: Clock;
}

/** A test cluster on an in-process bus: the bus, its broker, and a factory of its nodes. */
export function createTestClusterContainer(options: TestClusterContainerOptions = {}): DependencyContainer {
  const c = childContainer();
  registerCommon(c, options);
  value(c, RUNTIME_OPTIONS, options);
  factory(c, IN_MEMORY_BUS, () => new InMemoryBus());
  factory(c, TRANSPORT, (k) => resolve(k, IN_MEMORY_BUS).connect());
  factory(c, CONNECTOR, (k) => async () => {
    const t = resolve(k, IN_MEMORY_BUS).connect();
    await t.connect();
    return t;
  });
  factory(c, BROKER_SERVER, (k) => new BrokerServer(resolve(k, TRANSPORT), { clock: resolve(k, CLOCK) }));
  factory(c, NODE_FACTORY, (k) => (node) => new NodeManager({ ...node, connect: resolve(k, CONNECTOR), workerEntry: WORKER_ENTRY, clock: resolve(k, CLOCK) }));
  return c;
}
