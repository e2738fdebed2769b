/**
 * Liveness and membership of a broker leader on simulated time: nodes and drivers are watched
 * through their presence queues, a process is dead once its queue has been missing for the
 * fail window, and nobody is declared dead during the grace after an election. After Ray's
 * python/ray/tests/test_gcs_fault_tolerance.py and test_failure.py (node death detection with
 * health_check_period_ms / health_check_failure_threshold).
 */
import type { ActorId, LeaseId, NodeId, ReplyQueue, WorkerId } from '../../../src/protocol/ids';
import type { BrokerClusterOptions } from '../../../src/broker/cluster-membership';
import { BrokerServer } from '../../../src/broker/broker-server';
import { BrokerHarness, actorSpec } from './broker-harness';

let h: BrokerHarness;
afterEach(async () => {
  await h.stop();
});

const cluster = (over: Partial<BrokerClusterOptions> = {}): BrokerClusterOptions => ({
  epoch: 'e1',
  restoreGraceMs: 0,
  probeIntervalMs: 1000,
  failWindowMs: 2000,
  ...over,
});

const alive = (node: string): boolean | undefined => h.server.clusterInfo().nodes.find((n) => n.nodeId === node)?.alive;

test('a node whose presence queue vanishes is declared dead after the fail window, and not before', async () => {
  h = await BrokerHarness.start({ cluster: cluster() });
  const n1 = await h.node('n1', { CPU: 1 });
  const presence = await h.presence('node-n1');
  const a = await h.owner('a');
  await h.requestLease(a.queue, 'r1', { CPU: 1 });
  expect(n1.of('start-lease')).toHaveLength(1);
  await h.advance(500);
  // Probes at t=1000..2000 find the queue; the node "dies" just after (its consumers go).
  await h.advance(1600);
  expect(alive('n1')).toBe(true);
  await presence.cancel();
  // First probe that misses it: t=3000. Dead once it has been missing for 2000 ms: t=5000.
  await h.advance(2899);
  expect(alive('n1')).toBe(true);
  expect(a.inbox.of('lease-lost')).toEqual([]);
  await h.advance(1);
  expect(alive('n1')).toBe(false);
  expect(a.inbox.of('lease-lost')).toEqual([expect.objectContaining({ lease: n1.of('start-lease')[0]!.lease, reason: 'its node n1 died' })]);
  expect(h.warnings.some((w) => w.includes('node n1 is gone'))).toBe(true);
});

test('a node that is alive is never declared dead', async () => {
  h = await BrokerHarness.start({ cluster: cluster() });
  await h.node('n1', { CPU: 1 });
  await h.presence('node-n1');
  await h.advance(60_000);
  expect(alive('n1')).toBe(true);
});

test('nobody is declared dead during the grace after an election', async () => {
  h = await BrokerHarness.start({ cluster: cluster({ restoreGraceMs: 5000 }) });
  // Registered, but its presence queue never shows up (it is still reconnecting).
  await h.node('n1', { CPU: 1 });
  await h.advance(4999);
  expect(alive('n1')).toBe(true);
  await h.advance(1);
  expect(alive('n1')).toBe(false);
});

test('a driver whose presence vanishes takes its non-detached actors with it', async () => {
  h = await BrokerHarness.start({ cluster: cluster() });
  const n1 = await h.node('n1', { CPU: 2 });
  await h.presence('node-n1');
  const d = await h.owner('d1');
  const driverPresence = await h.presence('driver-d1');
  await h.send({ t: 'owner-register', owner: d.queue, presence: 'driver-d1' });
  await h.send({ t: 'create-actor', req: 'c1' as never, spec: actorSpec('owned', { owner: d.queue }) });
  expect(n1.of('start-actor')).toHaveLength(1);
  await h.send({ t: 'actor-ready', actor: 'owned' as ActorId, worker: 'n1w1' as WorkerId });
  await h.advance(1000);
  await driverPresence.cancel();
  await h.advance(2000);
  expect(h.server.clusterState().actors[0]?.state).toBe('ALIVE');
  await h.advance(1000);
  expect(h.server.clusterState().actors[0]?.state).toBe('DEAD');
  expect(n1.of('kill-worker')).toEqual([{ t: 'kill-worker', lease: n1.of('start-actor')[0]!.lease }]);
});

test('after an election, a lease an owner holds that no node reported is declared lost', async () => {
  h = await BrokerHarness.start({ cluster: cluster({ restoreGraceMs: 3000 }) });
  const n1 = await h.node('n1', { CPU: 2 });
  await h.presence('node-n1');
  const a = await h.owner('a');
  // The owner held two leases from the previous leader; n1 reported neither, n9 never came back.
  const onN1 = 'g1aa@n1' as LeaseId;
  const onN9 = 'g2bb@n9' as LeaseId;
  await h.send({ t: 'leases-held', owner: a.queue as ReplyQueue, leases: [[onN1, 'n1' as NodeId], [onN9, 'n9' as NodeId]] });
  await h.advance(1000);
  expect(a.inbox.of('lease-lost')).toEqual([{ t: 'lease-lost', lease: onN1, reason: 'its node n1 no longer has it' }]);
  expect(n1.of('release-lease')).toEqual([{ t: 'release-lease', lease: onN1 }]);
  // n9's presence queue never appears: once the grace is over and the window passed, it is dead.
  await h.advance(1999);
  expect(a.inbox.of('lease-lost')).toHaveLength(1);
  await h.advance(1);
  expect(a.inbox.of('lease-lost')).toEqual([expect.anything(), { t: 'lease-lost', lease: onN9, reason: 'its node n9 died' }]);
});

test('invalid timing options throw at once, naming the option', async () => {
  h = await BrokerHarness.start();
  expect(() => new BrokerServer(h.bus.connect(), { cluster: cluster({ probeIntervalMs: 0 }) })).toThrow(/probeIntervalMs/);
  expect(() => new BrokerServer(h.bus.connect(), { cluster: cluster({ failWindowMs: Number.NaN }) })).toThrow(/failWindowMs/);
  expect(() => new BrokerServer(h.bus.connect(), { cluster: cluster({ restoreGraceMs: -1 }) })).toThrow(/restoreGraceMs/);
});
