/**
 * The registry's side of actor reference counting and of names taken at `.remote()`. Ray:
 * a non-detached actor whose handles are all gone is destroyed after the calls it holds
 * (GcsActorManager::HandleReportActorOutOfScope → DestroyActor without force_kill;
 * python/ray/tests/test_actor.py::test_actor_deletion), its name is free again
 * (test_actor_advanced.py), detached actors are never collected; a named actor is registered
 * synchronously at `.remote()` (actor_creator.cc RegisterActor), so `get_actor` finds it at once.
 */
import type { ActorId, ReplyQueue, WorkerId } from '../../../src/protocol/ids';
import type { WireError } from '../../../src/protocol/wire';
import { actorQueue } from '../../../src/protocol/queues';
import { BrokerHarness, actorSpec, type Inbox, type Msg } from './broker-harness';

let h: BrokerHarness;
afterEach(async () => {
  await h.stop();
});

const state = (id: string): string | undefined => h.server.clusterState().actors.find((a) => a.actorId === id)?.state;
const resultError = (m: Msg | undefined): WireError => (m?.rets as Array<{ e: WireError }>)[0]!.e;

async function aliveActor(id: string, node: Inbox, options: Parameters<typeof actorSpec>[1] = {}): Promise<Msg> {
  await h.send({ t: 'create-actor', req: `c-${id}` as never, spec: actorSpec(id, options) });
  const start = node.of('start-actor').filter((m) => (m.spec as { actorId: string }).actorId === id).pop()!;
  await h.send({ t: 'actor-ready', actor: id as ActorId, worker: `w-${id}` as WorkerId });
  return start;
}

const outOfScope = (actor: string, owner: ReplyQueue) => ({ t: 'actor-out-of-scope' as const, actor: actor as ActorId, owner });

test('out of scope: a live actor gets __ray_terminate__ queued after its calls, then dies without restart; its name is free', async () => {
  h = await BrokerHarness.start();
  const n1 = await h.node('n1', { CPU: 2 });
  const o = await h.owner('o');
  await aliveActor('a1', n1, { name: 'n', owner: o.queue, maxRestarts: 5 });
  // A call already in the mailbox stays ahead of the terminate call.
  await h.call('a1', o.queue, 'earlier');
  const mailbox = await h.listen(actorQueue('a1' as ActorId));
  await h.send(outOfScope('a1', o.queue));
  expect(mailbox.messages.map((m) => m.method)).toEqual(['m', '__ray_terminate__']);
  expect(mailbox.messages[1]).toEqual(expect.objectContaining({ t: 'call', nret: 1, retries: 0, owner: o.queue }));
  // The host exits after the terminate call (intentionally): dead, not restarted.
  await h.send({ t: 'actor-failed', actor: 'a1' as ActorId, err: { name: 'RayActorError', message: 'exited' }, intentional: true, initFailed: false });
  expect(state('a1')).toBe('DEAD');
  expect(n1.of('start-actor')).toHaveLength(1);
  await h.send({ t: 'get-actor', req: 'g1' as never, reply: o.queue, name: 'n', namespace: 'ns' });
  expect(o.inbox.of('actor-info')).toEqual([expect.objectContaining({ req: 'g1', err: expect.anything() })]);
});

test('out of scope while it crashes or before it was placed: dead, never restarted', async () => {
  h = await BrokerHarness.start();
  const n1 = await h.node('n1', { CPU: 1 });
  const o = await h.owner('o');
  const start = await aliveActor('a1', n1, { owner: o.queue, maxRestarts: -1 });
  await h.send(outOfScope('a1', o.queue));
  await h.send({ t: 'worker-died', node: 'n1' as never, worker: 'w-a1' as WorkerId, lease: start.lease as never, actor: 'a1' as ActorId, reason: 'SIGKILL' });
  expect(state('a1')).toBe('DEAD');
  expect(n1.of('start-actor')).toHaveLength(1);

  // Not placed yet (the node is full): it dies at once, and its calls say why.
  await h.node('busy', { CPU: 0 });
  await h.send({ t: 'create-actor', req: 'c2' as never, spec: actorSpec('a2', { owner: o.queue, placement: { CPU: 2 } }) });
  expect(state('a2')).toBe('PENDING_CREATION');
  await h.send(outOfScope('a2', o.queue));
  expect(state('a2')).toBe('DEAD');
  await h.call('a2', o.queue, 't2');
  expect(resultError(o.inbox.of('result').find((m) => m.task === 't2')).message).toContain('all references to the actor were removed');
});

test('only its owner may say an actor is out of scope; detached actors are never collected', async () => {
  h = await BrokerHarness.start();
  const n1 = await h.node('n1', { CPU: 2 });
  const o = await h.owner('o');
  const other = await h.owner('other');
  await aliveActor('a1', n1, { owner: o.queue });
  await aliveActor('d1', n1, { owner: o.queue, detached: true });
  await h.send(outOfScope('a1', other.queue));
  await h.send(outOfScope('d1', o.queue));
  const mailboxA = await h.listen(actorQueue('a1' as ActorId));
  const mailboxD = await h.listen(actorQueue('d1' as ActorId));
  expect(mailboxA.messages).toEqual([]);
  expect(mailboxD.messages).toEqual([]);
  expect([state('a1'), state('d1')]).toEqual(['ALIVE', 'ALIVE']);
});

test('register-actor takes the name at once: getActor finds it, its create-actor keeps it, a rival is refused', async () => {
  h = await BrokerHarness.start();
  const n1 = await h.node('n1', { CPU: 2 });
  const o = await h.owner('o');
  const spec = actorSpec('a1', { name: 'early', owner: o.queue });
  await h.send({ t: 'register-actor', owner: o.queue, meta: spec.meta });
  await h.send({ t: 'get-actor', req: 'g1' as never, reply: o.queue, name: 'early', namespace: 'ns' });
  expect(o.inbox.of('actor-info')[0]).toEqual(expect.objectContaining({ req: 'g1', meta: expect.objectContaining({ actorId: 'a1' }) }));
  await h.send({ t: 'create-actor', req: 'c2' as never, spec: actorSpec('rival', { name: 'early', owner: o.queue }) });
  expect(state('rival')).toBe('DEAD');
  await aliveActor('a1', n1, { name: 'early', owner: o.queue });
  expect(state('a1')).toBe('ALIVE');
});

test('a registered name is free again when its creation never comes (arguments failed, owner died)', async () => {
  h = await BrokerHarness.start();
  await h.node('n1', { CPU: 2 });
  const o = await h.owner('o');
  await h.send({ t: 'register-actor', owner: o.queue, meta: actorSpec('a1', { name: 'x' }).meta });
  await h.send(outOfScope('a1', o.queue));
  await h.send({ t: 'get-actor', req: 'g1' as never, reply: o.queue, name: 'x', namespace: 'ns' });
  expect(o.inbox.of('actor-info')[0]).toEqual(expect.objectContaining({ err: expect.anything() }));

  await h.send({ t: 'register-actor', owner: o.queue, meta: actorSpec('a2', { name: 'y' }).meta });
  await h.send({ t: 'owner-exit', owner: o.queue });
  await h.send({ t: 'get-actor', req: 'g2' as never, reply: o.queue, name: 'y', namespace: 'ns' });
  expect(o.inbox.of('actor-info')[1]).toEqual(expect.objectContaining({ req: 'g2', err: expect.anything() }));
});
