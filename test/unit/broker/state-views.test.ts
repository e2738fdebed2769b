/**
 * The broker's answers to the state API (Ray's GCS serves `list_actors`, `list_nodes`,
 * `list_placement_groups` and `summarize_actors`): actors with their states and death causes,
 * nodes dead or alive with their times, placement groups with their bundles; answers go to
 * reply queues only.
 */
import { BrokerHarness, actorSpec, type Inbox } from './broker-harness';
import type { ActorId, NodeId, PlacementGroupId, ReplyQueue, RequestId, WorkerId } from '../../../src/protocol/ids';
import type { StateAnswerMsg, StateRequestMsg } from '../../../src/protocol/messages/state';
import type { ActorItem, NodeItem, PlacementGroupItem } from '../../../src/protocol/state';
import { encodeError } from '../../../src/serialization/error-codec';

let h: BrokerHarness;
afterEach(async () => {
  await h?.stop();
});

let reqs = 0;
async function ask(o: { queue: ReplyQueue; inbox: Inbox }, what: StateRequestMsg['what'], extra: Partial<StateRequestMsg> = {}): Promise<StateAnswerMsg> {
  const req = `s${++reqs}` as RequestId;
  await h.send({ t: 'state-request', req, reply: o.queue, what, filters: [], limit: 100, detail: true, ...extra });
  return o.inbox.of('state-answer').find((m) => m.req === req) as unknown as StateAnswerMsg;
}

test('actors: alive with node, worker and pid; dead with the cause of death', async () => {
  h = await BrokerHarness.start({ preferredNodeId: 'n1' });
  await h.node('n1', { CPU: 4 });
  const o = await h.owner('o');
  await h.send({ t: 'create-actor', req: 'c1' as never, spec: actorSpec('a1', { name: 'keeper', maxRestarts: 2, lifetime: { CPU: 1 } }) });
  await h.send({ t: 'actor-ready', actor: 'a1' as ActorId, worker: 'w1' as WorkerId, pid: 4242 });
  await h.send({ t: 'create-actor', req: 'c2' as never, spec: actorSpec('a2') });
  await h.send({ t: 'actor-failed', actor: 'a2' as ActorId, err: encodeError(new TypeError('constructor threw')), intentional: false, initFailed: true });
  await h.send({ t: 'create-actor', req: 'c3' as never, spec: actorSpec('a3') });
  await h.send({ t: 'actor-ready', actor: 'a3' as ActorId, worker: 'w3' as WorkerId, pid: 4343 });
  await h.send({ t: 'kill-actor', actor: 'a3' as ActorId, noRestart: true, req: 'k1' as never, reply: o.queue });

  const all = await ask(o, 'actors');
  const byId = new Map((all.items as ActorItem[]).map((a) => [a.actorId, a]));
  expect(byId.get('a1')).toEqual({
    actorId: 'a1',
    className: 'Box',
    state: 'ALIVE',
    jobId: 'j',
    name: 'keeper',
    nodeId: 'n1',
    workerId: 'w1',
    pid: 4242,
    rayNamespace: 'ns',
    numRestarts: 0,
    isDetached: false,
    maxRestarts: 2,
    requiredResources: { CPU: 1 },
    ownerAddress: 'raybus.reply.driver-x',
  });
  expect(byId.get('a2')).toMatchObject({ state: 'DEAD', deathCause: { reason: 'CREATION_TASK_FAILED', message: 'constructor threw' } });
  expect(byId.get('a3')).toMatchObject({ state: 'DEAD', deathCause: { reason: 'RAY_KILL', message: 'The actor was killed by ray.kill().' } });
  expect(byId.get('a3')).not.toHaveProperty('pid');

  const dead = await ask(o, 'actors', { filters: [['state', '=', 'DEAD']], detail: false });
  expect((dead.items as ActorItem[]).map((a) => a.actorId)).toEqual(['a2', 'a3']);
  expect(dead.items[0]).not.toHaveProperty('ownerAddress');
  const some = await ask(o, 'actors', { ids: ['a3', 'nope'] });
  expect((some.items as ActorItem[]).map((a) => a.actorId)).toEqual(['a3']);

  const summary = await ask(o, 'actor-summary');
  expect(summary.counts).toEqual({ Box: { ALIVE: 1, DEAD: 2, creationFailed: 1 } });
});

test('nodes: alive, draining and dead, with the head node and their times', async () => {
  h = await BrokerHarness.start({ preferredNodeId: 'n1' });
  await h.clock.advance(1000);
  await h.node('n1', { CPU: 2 });
  await h.node('n2', { CPU: 1, GPU: 1 });
  await h.node('n3', { CPU: 1 });
  await h.send({ t: 'node-draining', node: 'n2' as NodeId });
  await h.clock.advance(500);
  await h.send({ t: 'node-gone', node: 'n3' as NodeId });
  const o = await h.owner('o');
  const nodes = (await ask(o, 'nodes')).items as NodeItem[];
  expect(nodes.map((n) => [n.nodeId, n.state, n.isHeadNode])).toEqual([
    ['n1', 'ALIVE', true],
    ['n2', 'DRAINING', false],
    ['n3', 'DEAD', false],
  ]);
  expect(nodes[0]).toMatchObject({ resourcesTotal: { CPU: 2 }, resourcesAvailable: { CPU: 2 }, startTimeMs: 1000, labels: {} });
  expect(nodes[2]).toMatchObject({ startTimeMs: 1000, endTimeMs: 1500 });
});

test('placement groups with their bundles and where they are', async () => {
  h = await BrokerHarness.start();
  await h.node('n1', { CPU: 2 });
  const o = await h.owner('o');
  await h.send({ t: 'create-pg', owner: o.queue, pg: { id: 'pg1' as PlacementGroupId, bundles: [{ CPU: 1 }, { CPU: 1 }], strategy: 'PACK', name: 'training', detached: true } });
  await h.send({ t: 'create-pg', owner: o.queue, pg: { id: 'pg2' as PlacementGroupId, bundles: [{ CPU: 8 }], strategy: 'PACK', name: '', detached: false } });
  const pgs = (await ask(o, 'placement-groups')).items as PlacementGroupItem[];
  expect(pgs).toEqual([
    {
      placementGroupId: 'pg1',
      name: 'training',
      state: 'CREATED',
      strategy: 'PACK',
      isDetached: true,
      bundles: [
        { bundleId: 0, nodeId: 'n1', unitResources: { CPU: 1 } },
        { bundleId: 1, nodeId: 'n1', unitResources: { CPU: 1 } },
      ],
      creatorAddress: o.queue,
    },
    expect.objectContaining({ placementGroupId: 'pg2', state: 'PENDING', bundles: [{ bundleId: 0, unitResources: { CPU: 8 } }] }),
  ]);
});

test('a state request whose reply address is not a reply queue gets no answer', async () => {
  h = await BrokerHarness.start();
  const node = await h.node('n1', { CPU: 1 });
  await h.send({ t: 'state-request', req: 'x' as RequestId, reply: 'raybus.node.n1' as ReplyQueue, what: 'nodes', filters: [], limit: 10, detail: false });
  expect(node.of('state-answer')).toEqual([]);
});
