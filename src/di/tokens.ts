/**
 * The injection tokens of raybus's composition roots (containers.ts): one explicit token per
 * part, so nothing depends on decorator metadata (`emitDecoratorMetadata`) and users never
 * need decorators or `reflect-metadata`. A token carries the type of what it resolves to;
 * `resolve(container, TOKEN)` returns that type.
 */
import type { DependencyContainer } from 'tsyringe';
import type { Clock } from '../util/clock';
import type { Serializer } from '../serialization/serializer';
import type { Transport, TransportCapabilities, TransportOptions } from '../transport/transport';
import type { InMemoryBus } from '../transport/in-memory-transport';
import type { CoreWorker } from '../core/core-worker';
import type { OwnerSession } from '../core/owner-session';
import type { BrokerServer } from '../broker/broker-server';
import type { BrokerCandidate } from '../broker/broker-election';
import type { NodeManager, NodeOptions } from '../node/node-manager';
import type { JobId, NodeId, ProcId, WorkerId } from '../protocol/ids';

declare const TYPE: unique symbol;
/** A token: a unique symbol that remembers the type registered under it. */
export type Token<T> = symbol & { readonly [TYPE]?: T };

function token<T>(name: string): Token<T> {
  return Symbol(`raybus.${name}`) as Token<T>;
}

/** Opens a transport to the runtime's cluster address (not yet connected). */
export type TransportOpener = (options: TransportOptions) => Transport;

/** Who this process is in its cluster. */
export interface Identity {
  readonly procId: ProcId | WorkerId;
  readonly jobId: JobId;
  readonly namespace: string;
  readonly nodeId?: NodeId;
}

/** Progress lines of a runtime (`raybus start` prints them). */
export type Logger = (line: string) => void;

/** Makes a node on a test cluster's in-process bus. */
export type NodeFactory = (options: Omit<NodeOptions, 'connect' | 'workerEntry' | 'clock'>) => NodeManager;

/** Every timer of every part: systemClock in production, a SimulatedClock in tests. */
export const CLOCK = token<Clock>('Clock');
/** The process's serializer, its envelope limit set from the transport's message limit. */
export const SERIALIZER = token<Serializer>('Serializer');
/** Opens transports to the cluster's address through the transport registry. */
export const TRANSPORT_OPENER = token<TransportOpener>('TransportOpener');
/** The process's main connection: the driver's, the node's control connection, a worker's IPC link. */
export const TRANSPORT = token<Transport>('Transport');
/** What the process's bus can do (`capabilitiesOf(TRANSPORT)`). */
export const CAPABILITIES = token<TransportCapabilities>('Capabilities');
/** Opens one more connection (a node's own and one per worker). */
export const CONNECTOR = token<() => Promise<Transport>>('Connector');
/** The in-process bus of the embedded runtime and of a test cluster. */
export const IN_MEMORY_BUS = token<InMemoryBus>('InMemoryBus');
/** The options the runtime was started with (each container its own kind). */
export const RUNTIME_OPTIONS = token<unknown>('RuntimeOptions');
export const IDENTITY = token<Identity>('Identity');
export const LOGGER = token<Logger>('Logger');
/** Where non-fatal problems go (default: raybus's logger). */
export const WARN = token<(message: string) => void>('Warn');
export const CORE_WORKER = token<CoreWorker>('CoreWorker');
export const OWNER_SESSION = token<OwnerSession>('OwnerSession');
export const BROKER_SERVER = token<BrokerServer>('BrokerServer');
export const BROKER_CANDIDATE = token<BrokerCandidate>('BrokerCandidate');
export const NODE_MANAGER = token<NodeManager>('NodeManager');
/** Makes the nodes of a test cluster. */
export const NODE_FACTORY = token<NodeFactory>('NodeFactory');

/** The part registered under `t`, typed. */
export function resolve<T>(c: DependencyContainer, t: Token<T>): T {
  return c.resolve<T>(t);
}
