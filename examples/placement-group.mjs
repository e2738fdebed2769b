// Resources and a placement group: reserve two bundles of {CPU: 1, trainer: 1} together,
// run one task in each bundle, and see that nothing else can take those resources meanwhile.
// On the embedded default the node gets a custom resource `trainer: 2`; on a cluster, start
// nodes with `raybus start --resources '{"trainer": 2}'`.
//   node examples/placement-group.mjs
import assert from 'node:assert/strict';
import ray from 'raybus';

await ray.init(process.env.RAYBUS_ADDRESS ? {} : { numCpus: 4, resources: { trainer: 2 } });
const pg = ray.util.placementGroup(
  [
    { CPU: 1, trainer: 1 },
    { CPU: 1, trainer: 1 },
  ],
  { strategy: 'PACK', name: 'training' },
);
await ray.get(pg.ready());
console.log('placement group ready:', Object.values(await ray.util.placementGroupTable())[0]?.state);

const train = ray.remote({ numCpus: 1, resources: { trainer: 1 } })((shard) => {
  const ctx = ray.getRuntimeContext();
  return { shard, node: ctx.nodeId.slice(0, 8), resources: ctx.getAssignedResources() };
});
const results = await ray.get(
  [0, 1].map((bundle) =>
    train.options({ schedulingStrategy: new ray.PlacementGroupSchedulingStrategy({ placementGroup: pg, placementGroupBundleIndex: bundle }) }).remote(bundle),
  ),
);
for (const r of results) console.log(`shard ${r.shard} ran on node ${r.node} with`, r.resources);
assert.deepEqual(results.map((r) => r.shard), [0, 1]);

// The group holds every `trainer`: a task asking for one outside it waits.
const outside = train.remote(99);
const [ready] = await ray.wait([outside], { timeoutMs: 500 });
assert.equal(ready.length, 0, 'a task outside the group must wait for the trainer resource');
await ray.util.removePlacementGroup(pg);
console.log('after removing the group:', (await ray.get(outside)).shard);
await ray.shutdown();
