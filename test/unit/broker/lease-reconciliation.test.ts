/**
 * A broker leader reconciles the leases nodes report (cluster mode): a worker running for a
 * lease the leader never granted, or gave up, is stopped (`kill-worker`), so no worker outlives
 * a lease nobody holds; leases it knows are left alone, and nothing is stopped while the
 * registry is rebuilt after an election. The report also carries what the node refused, which
 * `raybus status` shows. Ray's raylet likewise releases leased workers the GCS does not know
 * (ReleaseUnusedActorWorkers / NodeManager::HandleReleaseUnusedBundles).
 */
import type { LeaseId, NodeId } from '../../../src/protocol/ids';
import { nodePresenceId } from '../../../src/protocol/queues';
import { BrokerHarness } from './broker-harness';

let h: BrokerHarness;
afterEach(async () => {
  await h.stop();
});

const N1 = 'n1' as NodeId;

test('leases the leader does not know are answered with kill-worker; granted ones are not', async () => {
  h = await BrokerHarness.start({ cluster: { epoch: 'e1', restoreGraceMs: 0 } });
  await h.advance(0);
  const n1 = await h.node(N1, { CPU: 2 });
  const a = await h.owner('a');
  await h.requestLease(a.queue, 'r1', { CPU: 1 });
  const granted = n1.of('start-lease')[0]!.lease as LeaseId;
  await h.send({ t: 'leases-report', node: N1, leases: [granted, 'forged@n1' as LeaseId] });
  expect(n1.of('kill-worker')).toEqual([{ t: 'kill-worker', lease: 'forged@n1' }]);
  // Given back: its worker is stopped too if the node still runs it.
  await h.send({ t: 'return-lease', lease: granted });
  n1.clear();
  await h.send({ t: 'leases-report', node: N1, leases: [granted] });
  expect(n1.of('kill-worker')).toEqual([{ t: 'kill-worker', lease: granted }]);
});

test('nothing is stopped while the registry is rebuilt after an election, nor on nodes it does not know', async () => {
  h = await BrokerHarness.start({ cluster: { epoch: 'e1', restoreGraceMs: 5000 } });
  await h.presence(nodePresenceId(N1));
  const n1 = await h.node(N1, { CPU: 2 });
  await h.send({ t: 'leases-report', node: N1, leases: ['l1@n1' as LeaseId] });
  expect(n1.of('kill-worker')).toEqual([]);
  await h.advance(5000);
  await h.send({ t: 'leases-report', node: N1, leases: ['l1@n1' as LeaseId] });
  expect(n1.of('kill-worker')).toHaveLength(1);
  const stranger = await h.listen('raybus.node.stranger');
  await h.send({ t: 'leases-report', node: 'stranger' as NodeId, leases: ['l2@stranger' as LeaseId] });
  expect(stranger.messages).toEqual([]);
});

test('the embedded broker (not cluster mode) ignores lease reports', async () => {
  h = await BrokerHarness.start();
  const n1 = await h.node(N1, { CPU: 2 });
  await h.send({ t: 'leases-report', node: N1, leases: ['l1@n1' as LeaseId] });
  expect(n1.of('kill-worker')).toEqual([]);
});

test('what a node refused shows in the cluster state', async () => {
  h = await BrokerHarness.start({ cluster: { epoch: 'e1', restoreGraceMs: 0 } });
  await h.advance(0);
  await h.node(N1, { CPU: 1 });
  await h.send({ t: 'leases-report', node: N1, leases: [], refused: { 'bad seal (another cluster key, or altered)': 3 }, malformed: 2 });
  const node = h.server.clusterState().nodes.find((n) => n.nodeId === N1)!;
  expect(node.refused).toEqual({ 'bad seal (another cluster key, or altered)': 3 });
  expect(node.malformed).toBe(2);
});
