/**
 * The actor registry inside the broker server, on the in-memory bus: creation, names,
 * getIfExists, ray.kill with and without restart, and dead actors' mailboxes. After Ray's
 * python/ray/tests/test_actor.py (named actors, get_if_exists) and test_actor_failures.py
 * (kill with no_restart, calls to dead actors raise ActorDiedError).
 */
import type { ActorId, WorkerId } from '../../../src/protocol/ids';
import type { WireError } from '../../../src/protocol/wire';
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

test('create: the actor is placed (1 CPU to place), started on a node, and alive once ready; its lifetime resources stay reserved', async () => {
  h = await BrokerHarness.start();
  const n1 = await h.node('n1', { CPU: 2 });
  await h.send({ t: 'create-actor', req: 'c1' as never, spec: actorSpec('a1', { lifetime: { CPU: 1 } }) });
  expect(state('a1')).toBe('PENDING_CREATION');
  expect(n1.of('start-actor')).toEqual([expect.objectContaining({ restart: false, gpuIds: [], spec: expect.objectContaining({ actorId: 'a1' }) })]);
  await h.send({ t: 'actor-ready', actor: 'a1' as ActorId, worker: 'w1' as WorkerId });
  expect(state('a1')).toBe('ALIVE');
  expect(h.server.clusterInfo().available).toEqual({ CPU: 1 });
  expect(h.server.clusterState().actors[0]).toEqual(expect.objectContaining({ nodeId: 'n1', workerId: 'w1', restarts: 0 }));
});

test('a name is taken while its actor lives; getIfExists returns the live one; the name is free once it is dead', async () => {
  h = await BrokerHarness.start();
  const n1 = await h.node('n1', { CPU: 4 });
  const o = await h.owner('o');
  await aliveActor('first', n1, { name: 'counter', owner: o.queue });

  // Same name again: the second actor dies at once, its calls fail with the "taken" error.
  await h.send({ t: 'create-actor', req: 'c2' as never, spec: actorSpec('second', { name: 'counter', owner: o.queue }) });
  expect(state('second')).toBe('DEAD');
  await h.call('second', o.queue, 't1');
  const taken = resultError(o.inbox.of('result')[0]);
  expect(taken.message).toContain('The name counter (namespace=ns) is already taken');

  // getIfExists: the existing actor's meta comes back, nothing new is created.
  await h.send({ t: 'create-actor', req: 'c3' as never, spec: actorSpec('third', { name: 'counter', owner: o.queue, getIfExists: true }) });
  expect(o.inbox.of('actor-info')).toEqual([expect.objectContaining({ req: 'c3', meta: expect.objectContaining({ actorId: 'first' }) })]);
  expect(state('third')).toBeUndefined();

  await h.send({ t: 'get-actor', req: 'g1' as never, reply: o.queue, name: 'counter', namespace: 'ns' });
  expect(o.inbox.of('actor-info')[1]).toEqual(expect.objectContaining({ req: 'g1', meta: expect.objectContaining({ actorId: 'first' }) }));
  await h.send({ t: 'get-actor', req: 'g2' as never, reply: o.queue, name: 'counter', namespace: 'other' });
  expect((o.inbox.of('actor-info')[2]?.err as WireError).message).toContain("Failed to look up actor with name 'counter' in namespace 'other'");

  await h.send({ t: 'kill-actor', actor: 'first' as ActorId, noRestart: true, req: 'k1' as never, reply: o.queue });
  await h.send({ t: 'get-actor', req: 'g3' as never, reply: o.queue, name: 'counter', namespace: 'ns' });
  expect(o.inbox.of('actor-info')[3]).toEqual(expect.objectContaining({ req: 'g3', err: expect.anything() }));
  await aliveActor('fourth', n1, { name: 'counter', owner: o.queue });
  expect(state('fourth')).toBe('ALIVE');
});

test('kill with noRestart: the worker is killed (the node answers the caller), the actor is dead and its calls fail with ActorDiedError', async () => {
  h = await BrokerHarness.start();
  const n1 = await h.node('n1', { CPU: 2 });
  const o = await h.owner('o');
  const start = await aliveActor('a1', n1, { maxRestarts: 3, owner: o.queue });
  await h.send({ t: 'kill-actor', actor: 'a1' as ActorId, noRestart: true, req: 'k1' as never, reply: o.queue });
  expect(n1.of('kill-worker')).toEqual([{ t: 'kill-worker', lease: start.lease, reply: o.queue, req: 'k1' }]);
  // The node acknowledges once the process is gone; the broker does not answer itself.
  expect(o.inbox.of('ack')).toEqual([]);
  expect(state('a1')).toBe('DEAD');
  expect(n1.of('start-actor')).toHaveLength(1);

  await h.call('a1', o.queue, 't1');
  const [result] = o.inbox.of('result');
  expect(result).toEqual(expect.objectContaining({ task: 't1' }));
  expect(resultError(result)).toEqual(expect.objectContaining({ rayClass: 'ActorDiedError' }));
  expect(resultError(result).message).toContain('The actor was killed by ray.kill()');
});

test('kill without noRestart restarts the actor while maxRestarts allows', async () => {
  h = await BrokerHarness.start();
  const n1 = await h.node('n1', { CPU: 2 });
  const o = await h.owner('o');
  await aliveActor('a1', n1, { maxRestarts: 1, owner: o.queue });
  await h.send({ t: 'kill-actor', actor: 'a1' as ActorId, noRestart: false, req: 'k1' as never, reply: o.queue });
  expect(state('a1')).toBe('RESTARTING');
  expect(n1.of('start-actor').map((m) => m.restart)).toEqual([false, true]);
  await h.send({ t: 'actor-ready', actor: 'a1' as ActorId, worker: 'w2' as WorkerId });
  expect(h.server.clusterState().actors[0]).toEqual(expect.objectContaining({ state: 'ALIVE', restarts: 1 }));

  // Restarts spent: the next kill is final.
  await h.send({ t: 'kill-actor', actor: 'a1' as ActorId, noRestart: false, req: 'k2' as never, reply: o.queue });
  expect(state('a1')).toBe('DEAD');
  expect(n1.of('start-actor')).toHaveLength(2);
});

test('killing an unknown actor is acknowledged by the broker', async () => {
  h = await BrokerHarness.start();
  const o = await h.owner('o');
  await h.send({ t: 'kill-actor', actor: 'nobody' as ActorId, noRestart: true, req: 'k1' as never, reply: o.queue });
  expect(o.inbox.of('ack')).toEqual([{ t: 'ack', req: 'k1' }]);
});

test('a creation task that fails kills the actor without restart; calls report the constructor error', async () => {
  h = await BrokerHarness.start();
  await h.node('n1', { CPU: 1 });
  const o = await h.owner('o');
  await h.send({ t: 'create-actor', req: 'c1' as never, spec: actorSpec('a1', { maxRestarts: 5, owner: o.queue }) });
  const err: WireError = { name: 'RayTaskError', message: 'ctor failed', cause: { name: 'Error', message: 'boom' } };
  await h.send({ t: 'actor-failed', actor: 'a1' as ActorId, err, intentional: false, initFailed: true });
  expect(state('a1')).toBe('DEAD');
  await h.call('a1', o.queue, 't1');
  expect(resultError(o.inbox.of('result')[0]).message).toContain('died because of an error raised in its creation task: boom');
  expect(h.server.clusterInfo().available).toEqual({ CPU: 1 });
});

test('a malformed call in a dead mailbox is dropped, the ones after it are answered', async () => {
  h = await BrokerHarness.start();
  const n1 = await h.node('n1', { CPU: 1 });
  const o = await h.owner('o');
  await aliveActor('a1', n1, { owner: o.queue });
  await h.send({ t: 'kill-actor', actor: 'a1' as ActorId, noRestart: true, req: 'k1' as never, reply: o.queue });
  await h.client.publish('raybus.actor.a1', new Uint8Array([0xc1, 0x00]));
  await h.call('a1', o.queue, 't2');
  expect(o.inbox.of('result').map((m) => m.task)).toEqual(['t2']);
});

// Ray's GCS keeps destroyed actors up to maximum_gcs_destroyed_actor_cached_count, forgetting
// the oldest (gcs_actor_manager.cc, AddDestroyedActorToCache; gcs_client_test.cc sets it to 10).
test('dead actors are remembered up to maxDeadActors, the oldest forgotten first; a live one never is', async () => {
  h = await BrokerHarness.start({ maxDeadActors: 2 });
  const n1 = await h.node('n1', { CPU: 4 });
  const o = await h.owner('o');
  await aliveActor('live', n1, { owner: o.queue });
  for (const id of ['d1', 'd2', 'd3']) {
    await aliveActor(id, n1, { owner: o.queue });
    await h.send({ t: 'kill-actor', actor: id as ActorId, noRestart: true, req: `k-${id}` as never, reply: o.queue });
    expect(state(id)).toBe('DEAD');
  }
  expect(h.server.clusterState().actors.map((a) => [a.actorId, a.state])).toEqual([
    ['live', 'ALIVE'],
    ['d2', 'DEAD'],
    ['d3', 'DEAD'],
  ]);
  // What the state API shows of a dead actor stays; the reason of its death too.
  expect(h.server.clusterState().actors[2]).toEqual(expect.objectContaining({ className: 'Box', namespace: 'ns', owner: o.queue, restarts: 0 }));
  // A remembered dead actor's calls are answered, with no stack of the registry's own.
  await h.call('d3', o.queue, 't3');
  const died = resultError(o.inbox.of('result')[0]);
  expect(died).toEqual(expect.objectContaining({ rayClass: 'ActorDiedError' }));
  expect(died.message).toContain('The actor was killed by ray.kill()');
  expect(died.stack).toBeUndefined();
  // The forgotten one's mailbox was deleted with it: nothing answers there any more.
  await h.call('d1', o.queue, 't1');
  expect(o.inbox.of('result').map((m) => m.task)).toEqual(['t3']);
  expect(state('live')).toBe('ALIVE');
});
