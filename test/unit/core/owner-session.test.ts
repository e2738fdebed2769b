/**
 * A driver's session with the broker leader: registration, resync after a new leader is
 * elected (ask again for pending leases, report held ones), and a clean exit that does not
 * wait forever for a broker that no longer answers (on the session's clock).
 */
import { FakeWorker, settle, startCore, submit, type Harness } from './core-harness';
import { OwnerSession } from '../../../src/core/owner-session';
import { encodeEnvelope } from '../../../src/serialization/serializer';
import { BROKER_ELECTED_TOPIC, presenceQueue } from '../../../src/protocol/queues';
import type { Transport } from '../../../src/transport/transport';

let h: Harness;
let session: OwnerSession;
beforeEach(async () => {
  h = await startCore();
});
afterEach(async () => {
  await session?.exit(0);
  await h.stop();
});

function startSession(transport: Transport = h.core.transport): Promise<void> {
  const core = h.core;
  session = new OwnerSession(
    { address: core.address, presence: 'driver-x', isClosed: false, resyncLeases: () => core.submitter.resync() },
    transport,
    h.clock,
  );
  return session.start();
}

test('registers with the broker on start, with its presence queue', async () => {
  await startSession();
  await settle();
  expect(h.broker.inbox.of('owner-register')).toEqual([{ t: 'owner-register', owner: h.core.address, presence: 'driver-x' }]);
  expect(h.bus.hasQueue(presenceQueue('driver-x'))).toBe(true);
});

test('a new leader (once per epoch) makes it register again, ask again for leases, and report held ones', async () => {
  await startSession();
  const w = await FakeWorker.start(h.bus, 'w1');
  submit(h.core, { key: 'a' });
  submit(h.core, { key: 'b', demand: { CPU: 2 } });
  await settle();
  const lease = h.broker.grant(h.broker.requests[0]!.req, w);
  await settle();
  h.broker.inbox.clear();
  const elected = encodeEnvelope({ t: 'broker-elected', epoch: 'e2' });
  await h.broker.inbox.transport.broadcast(BROKER_ELECTED_TOPIC, elected);
  // The same notice also reaches the presence queue: one resync per epoch.
  h.broker.inbox.transport.publishSync(presenceQueue('driver-x'), elected);
  await settle();
  expect(h.broker.inbox.of('owner-register')).toHaveLength(1);
  expect(h.broker.requests.map((r) => r.demand)).toEqual([{ CPU: 2 }]);
  expect(h.broker.inbox.of('leases-held')).toEqual([{ t: 'leases-held', owner: h.core.address, leases: [[lease, 'node-1']] }]);
});

test('exit tells the broker, but waits at most timeoutMs of clock time for the publish', async () => {
  const stuck = Object.assign(Object.create(h.core.transport) as Transport, {
    publish: () => new Promise<void>(() => undefined),
  });
  await startSession(stuck);
  let done = false;
  const exiting = session.exit(2000).then(() => (done = true));
  await h.clock.advance(1999);
  expect(done).toBe(false);
  await h.clock.advance(1);
  await exiting;
  expect(done).toBe(true);
});
