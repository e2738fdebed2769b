/**
 * `raybus/testing`: helpers for testing code that uses raybus, and for writing a transport
 * adapter — the conformance suite every Transport must pass (`describeTransport`), runnable
 * under node:test, jest or vitest.
 */
export { embeddedNode } from '../api/init';
export { Cluster, type ClusterNode, type ClusterNodeOptions, type ClusterOptions } from './cluster';
/** An in-process bus (any capabilities you give it), to test an adapter that wraps a transport, or code that uses one. */
export { InMemoryBus, type InMemoryBusOptions } from '../transport/in-memory-transport';
export {
  describeTransport,
  CONFORMANCE_CASES,
  ALL_CAPABILITIES,
  Inbox,
  uniqueName,
  type ConformanceOptions,
  type SuiteCapabilities,
  type TestRunner,
  type TransportPair,
} from './conformance';
