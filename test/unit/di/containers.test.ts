/**
 * The composition roots (src/di/containers.ts): each runtime gets a child container of its
 * own, parts are built once, the injected clock reaches every part, the serializer's envelope
 * limit follows the transport's message limit, and a node tells its workers what its bus can
 * do. Nothing is started: the parts are only resolved.
 */
// The containers module loads reflect-metadata before tsyringe: import it first.
import {
  createDriverContainer,
  createEmbeddedContainer,
  createNodeContainer,
  createTestClusterContainer,
} from '../../../src/di/containers';
import { createWorkerContainer } from '../../../src/di/worker-container';
import { container as rootContainer } from 'tsyringe';
import {
  BROKER_CANDIDATE,
  BROKER_SERVER,
  CAPABILITIES,
  CLOCK,
  CORE_WORKER,
  NODE_FACTORY,
  NODE_MANAGER,
  OWNER_SESSION,
  SERIALIZER,
  TRANSPORT,
  resolve,
} from '../../../src/di/tokens';
import { InMemoryBus } from '../../../src/transport/in-memory-transport';
import { serializer } from '../../../src/serialization/serializer';
import { BUS_CAPABILITIES_VAR, readBusCapabilities } from '../../../src/transport/message-limit';
import { FULL_CAPABILITIES, type Transport, type TransportCapabilities } from '../../../src/transport/transport';
import { SimulatedClock } from '../../../src/util/simulated-clock';
import type { JobId, NodeId, ProcId, WorkerId } from '../../../src/protocol/ids';

const identity = { procId: 'driver-x' as ProcId, jobId: 'job1' as JobId, namespace: 'ns', nodeId: 'n'.repeat(28) as NodeId };
/** A private field of a part (the tests check what reached it). */
const field = (o: object, name: string): unknown => (o as Record<string, unknown>)[name];

/** An in-memory transport that reports the capabilities of a bus with a small message limit. */
function limitedTransport(caps: Partial<TransportCapabilities>): Transport {
  const t = new InMemoryBus().connect();
  Object.defineProperty(t, 'capabilities', { value: { ...FULL_CAPABILITIES, ...caps } });
  return t;
}

const saved = serializer.currentLimits;
afterEach(() => serializer.configure(saved));

test('every runtime gets a child container of its own, never the global one', () => {
  const a = createEmbeddedContainer({ resources: { CPU: 1 }, identity });
  const b = createEmbeddedContainer({ resources: { CPU: 1 }, identity });
  expect(rootContainer.isRegistered(CORE_WORKER, true)).toBe(false);
  expect(a.isRegistered(CORE_WORKER)).toBe(true);
  // Built once per container, never shared between two.
  expect(resolve(a, CORE_WORKER)).toBe(resolve(a, CORE_WORKER));
  expect(resolve(a, CORE_WORKER)).not.toBe(resolve(b, CORE_WORKER));
});

test('embedded: the injected clock reaches the CoreWorker, the broker and the node', () => {
  const clock = new SimulatedClock();
  const c = createEmbeddedContainer({ resources: { CPU: 2 }, identity, clock });
  expect(resolve(c, CLOCK)).toBe(clock);
  expect(resolve(c, CORE_WORKER).clock).toBe(clock);
  expect(field(field(resolve(c, BROKER_SERVER), 'options') as object, 'clock')).toBe(clock);
  expect(field(resolve(c, NODE_MANAGER), 'clock')).toBe(clock);
  expect(resolve(c, CORE_WORKER).options.isDriver).toBe(true);
});

test("a driver: the serializer's envelope limit is the transport's message limit", () => {
  const clock = new SimulatedClock();
  const transport = limitedTransport({ maxMessageBytes: 4096 });
  const c = createDriverContainer({ identity, transport, session: true, clock });
  expect(resolve(c, TRANSPORT)).toBe(transport);
  expect(resolve(c, SERIALIZER)).toBe(serializer);
  expect(serializer.currentLimits.maxEnvelopeBytes).toBe(4096);
  expect(() => serializer.decodeEnvelope(new Uint8Array(5000))).toThrow(/4096/);
  expect(resolve(c, CORE_WORKER).clock).toBe(clock);
  expect(field(resolve(c, OWNER_SESSION), 'clock')).toBe(clock);
  // A driver of a test cluster in this process keeps no session with a broker leader.
  const local = createDriverContainer({ identity, transport: new InMemoryBus().connect(), session: false });
  expect(local.isRegistered(OWNER_SESSION)).toBe(false);
});

test('a driver opens its connection through the opener it is given', () => {
  const opened: unknown[] = [];
  const c = createDriverContainer({
    identity,
    open: (o) => {
      opened.push(o);
      return new InMemoryBus().connect();
    },
    session: true,
  });
  resolve(c, TRANSPORT);
  resolve(c, TRANSPORT);
  expect(opened).toEqual([expect.objectContaining({ connectAttempts: 4, connectionName: expect.stringMatching(/^raybus driver pid \d+$/) })]);
});

test('a node: one control connection, the clock everywhere, the bus capabilities handed to workers', async () => {
  const clock = new SimulatedClock();
  const caps = { singleActiveConsumer: false, requeueAtHead: false, queueExpiry: false, maxMessageBytes: 1 << 20, leases: true };
  const names: string[] = [];
  const c = createNodeContainer({
    nodeId: identity.nodeId,
    resources: { CPU: 3 },
    open: (o) => {
      names.push(o.connectionName ?? '');
      return limitedTransport(caps);
    },
    authenticated: true,
    clock,
  });
  expect(resolve(c, CAPABILITIES)).toEqual(caps);
  expect(field(resolve(c, BROKER_CANDIDATE), 'clock')).toBe(clock);
  const node = resolve(c, NODE_MANAGER);
  expect(field(node, 'clock')).toBe(clock);
  const env = (field(node, 'options') as { workerEnv: Record<string, string> }).workerEnv;
  expect(readBusCapabilities({ [BUS_CAPABILITIES_VAR]: env[BUS_CAPABILITIES_VAR] })).toEqual(caps);
  expect(env.RAYBUS_REQUIRE_SIGNED_CODE).toBe('1');
  // The key itself never reaches a worker's environment.
  expect(Object.values(env)).not.toContain('k'.repeat(64));
  expect(env.RAYBUS_CLUSTER_KEY).toBeUndefined();
  expect(names).toEqual([expect.stringMatching(/broker candidate$/)]);
});

test('a worker: its CoreWorker on the link it is given, not a driver', () => {
  const transport = new InMemoryBus().connect();
  const clock = new SimulatedClock();
  const c = createWorkerContainer({ identity: { ...identity, procId: `${identity.nodeId}0001` as WorkerId }, transport, clock });
  const core = resolve(c, CORE_WORKER);
  expect(core.transport).toBe(transport);
  expect(core.clock).toBe(clock);
  expect(core.options.isDriver).toBe(false);
});

test('a test cluster: its nodes are made on its bus with its clock', () => {
  const clock = new SimulatedClock();
  const c = createTestClusterContainer({ clock });
  const node = resolve(c, NODE_FACTORY)({ nodeId: identity.nodeId, resources: { CPU: 1 }, jobId: identity.jobId, namespace: 'default' });
  expect(field(node, 'clock')).toBe(clock);
  expect(field(field(resolve(c, BROKER_SERVER), 'options') as object, 'clock')).toBe(clock);
});

test('a malformed bus capabilities variable is ignored: the worker assumes everything', () => {
  expect(readBusCapabilities({ [BUS_CAPABILITIES_VAR]: '{nope' })).toBe(FULL_CAPABILITIES);
  expect(readBusCapabilities({})).toBe(FULL_CAPABILITIES);
});
