/**
 * The broker server's own duties: decoding what arrives on `raybus.broker`, rejecting what is
 * malformed without stopping, and answering queries on the asker's reply queue.
 */
import { BROKER_QUEUE } from '../../../src/protocol/queues';
import { encodeEnvelope } from '../../../src/serialization/serializer';
import { BrokerHarness, settle } from './broker-harness';

let h: BrokerHarness;
afterEach(async () => {
  await h.stop();
});

test('malformed messages are rejected (dropped, one warning per 100) and valid work goes on', async () => {
  h = await BrokerHarness.start();
  const n1 = await h.node('n1', { CPU: 1 });
  const a = await h.owner('a');
  for (let i = 0; i < 150; i++) {
    const body = i % 3 === 0 ? new Uint8Array([0xc1]) : i % 3 === 1 ? encodeEnvelope([1, 2, 3]) : encodeEnvelope({ no: 'tag' });
    await h.client.publish(BROKER_QUEUE, body);
  }
  await settle();
  await h.requestLease(a.queue, 'r1', { CPU: 1 });
  expect(n1.of('start-lease')).toHaveLength(1);
  const rejected = h.warnings.filter((w) => w.includes('rejected a malformed message'));
  expect(rejected).toHaveLength(2);
  expect(rejected[1]).toContain('(101 so far)');
  // Dropped, not requeued: nothing is left in the broker queue.
  expect(h.bus.queueDepth(BROKER_QUEUE)).toBe(0);
});

test('cluster-info and cluster-state requests are answered on the reply queue', async () => {
  h = await BrokerHarness.start();
  await h.node('n1', { CPU: 2, GPU: 1 });
  const a = await h.owner('a');
  await h.requestLease(a.queue, 'r1', { CPU: 1 });
  await h.send({ t: 'cluster-info-request', req: 'q1' as never, reply: a.queue });
  await h.send({ t: 'cluster-state-request', req: 'q2' as never, reply: a.queue });
  expect(a.inbox.of('cluster-info')).toEqual([
    {
      t: 'cluster-info',
      req: 'q1',
      info: { nodes: [{ nodeId: 'n1', alive: true, resources: { CPU: 2, GPU: 1 }, labels: {} }], total: { CPU: 2, GPU: 1 }, available: { CPU: 1, GPU: 1 } },
    },
  ]);
  const [state] = a.inbox.of('cluster-state');
  expect(state).toEqual(
    expect.objectContaining({
      req: 'q2',
      state: expect.objectContaining({
        leader: { epoch: 'embedded', electedAt: 0 },
        nodes: [expect.objectContaining({ nodeId: 'n1', alive: true, draining: false, available: { CPU: 1, GPU: 1 } })],
        leases: [expect.objectContaining({ nodeId: 'n1', owner: a.queue, demand: { CPU: 1 } })],
      }),
    }),
  );
});

test('a draining node takes no new work but still counts as alive in the cluster state', async () => {
  h = await BrokerHarness.start();
  const n1 = await h.node('n1', { CPU: 1 });
  const a = await h.owner('a');
  await h.send({ t: 'node-draining', node: 'n1' as never });
  await h.requestLease(a.queue, 'r1', { CPU: 1 });
  expect(n1.of('start-lease')).toEqual([]);
  expect(h.server.clusterState().nodes).toEqual([expect.objectContaining({ nodeId: 'n1', alive: true, draining: true })]);
  const n2 = await h.node('n2', { CPU: 1 });
  expect(n2.of('start-lease')).toHaveLength(1);
});
