/**
 * Resource-aware scheduling on a multi-node test Cluster: placement is observed through
 * `getRuntimeContext().nodeId`, concurrency through timestamps recorded inside tasks.
 */
import type * as Ray from '../../src/index';
import { waitUntil } from '../support/wait-until';
import { expectWarnings } from '../support/expected-warnings';
import type * as Testing from '../../src/testing/index';
import { isAlive } from '../support/processes';

const ray: typeof Ray = require('raybus');
const { Cluster }: typeof Testing = require('raybus/testing');

const whereAmI = ray.remote(() => ray.getRuntimeContext().nodeId);

const Where = ray.remote(
  class Where {
    node() {
      return ray.getRuntimeContext().nodeId;
    }
    assigned() {
      return ray.getRuntimeContext().getAssignedResources();
    }
  },
);

const span = ray.remote(async (ms: number) => {
  const start = Date.now();
  await new Promise((r) => setTimeout(r, ms));
  return [start, Date.now()];
});

/** Most intervals open at once. */
function maxOverlap(intervals: number[][]): number {
  const events = intervals.flatMap(([s, e]) => [
    [s!, 1],
    [e!, -1],
  ]);
  events.sort((a, b) => a[0]! - b[0]! || a[1]! - b[1]!);
  let open = 0;
  let max = 0;
  for (const [, d] of events) max = Math.max(max, (open += d!));
  return max;
}

describe('scheduling on a two-node cluster', () => {
  let cluster: Testing.Cluster;
  let a: Testing.ClusterNode;
  let b: Testing.ClusterNode;

  beforeAll(async () => {
    cluster = await Cluster.start({ nodes: [{ numCpus: 2, resources: { CustomA: 1 } }, { numCpus: 2 }] });
    [a, b] = cluster.nodes as [Testing.ClusterNode, Testing.ClusterNode];
    await ray.init({ address: cluster.address });
  });

  afterAll(async () => {
    await ray.shutdown();
    await cluster.shutdown();
  });

  it('reports the cluster and its nodes', async () => {
    const nodes = await ray.nodes();
    expect(nodes.map((n) => n.nodeId).sort()).toEqual([a.nodeId, b.nodeId].sort());
    expect(nodes.every((n) => n.alive)).toBe(true);
    const total = await ray.clusterResources();
    expect(total.CPU).toBe(4);
    expect(total.CustomA).toBe(1);
  });

  // Ray: test_scheduling.py::test_spread_scheduling_strategy
  it('SPREAD places 8 actors 4 and 4', async () => {
    const actors = Array.from({ length: 8 }, () => Where.options({ schedulingStrategy: 'SPREAD' }).remote());
    const nodes = await ray.get(actors.map((h) => h.node.remote()));
    const counts = new Map<string, number>();
    for (const n of nodes) counts.set(n!, (counts.get(n!) ?? 0) + 1);
    expect(counts.get(a.nodeId)).toBe(4);
    expect(counts.get(b.nodeId)).toBe(4);
    await Promise.all(actors.map((h) => ray.kill(h)));
  });

  it('custom resources place work on the node that has them', async () => {
    const refs = Array.from({ length: 3 }, () => whereAmI.options({ resources: { CustomA: 0.5 } }).remote());
    expect(await ray.get(refs)).toEqual([a.nodeId, a.nodeId, a.nodeId]);
  });

  // Ray: test_scheduling.py node affinity cases
  it('node affinity: hard to a live node, soft fallback, hard to an unknown node fails', async () => {
    const hard = whereAmI.options({ schedulingStrategy: new ray.NodeAffinitySchedulingStrategy({ nodeId: b.nodeId, soft: false }) });
    expect(await ray.get([hard.remote(), hard.remote()])).toEqual([b.nodeId, b.nodeId]);
    const soft = whereAmI.options({ schedulingStrategy: new ray.NodeAffinitySchedulingStrategy({ nodeId: 'f'.repeat(28), soft: true }) });
    expect([a.nodeId, b.nodeId]).toContain(await ray.get(soft.remote(), { timeoutMs: 20000 }));
    const missing = whereAmI.options({ schedulingStrategy: new ray.NodeAffinitySchedulingStrategy({ nodeId: 'e'.repeat(28), soft: false }) });
    await expect(ray.get(missing.remote(), { timeoutMs: 20000 })).rejects.toBeInstanceOf(ray.TaskUnschedulableError);
  });

  it('never runs more 1-CPU tasks at once than the cluster has CPUs', async () => {
    const intervals = (await ray.get(Array.from({ length: 10 }, () => span.remote(150)))) as number[][];
    expect(maxOverlap(intervals)).toBeLessThanOrEqual(4);
    expect(maxOverlap(intervals)).toBeGreaterThanOrEqual(2);
    const heavy = (await ray.get(Array.from({ length: 4 }, () => span.options({ numCpus: 2 }).remote(120)))) as number[][];
    expect(maxOverlap(heavy)).toBeLessThanOrEqual(2);
  });

  // Ray: test_basic.py::test_many_fractional_resources
  it('fractional amounts come back exactly after many tasks', async () => {
    const before = await ray.clusterResources();
    await waitUntil(async () => JSON.stringify(await ray.availableResources()) === JSON.stringify(before));
    let seed = 7;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const refs = Array.from({ length: 120 }, () =>
      whereAmI.options({ numCpus: Math.round(rand() * 10000) / 10000 || 0.0001, resources: rand() < 0.5 ? { CustomA: Math.round(rand() * 10000) / 10000 || 0.0001 } : {} }).remote(),
    );
    await ray.get(refs);
    // Leases go back to the broker just after the last result arrives.
    await waitUntil(async () => JSON.stringify(await ray.availableResources()) === JSON.stringify(before));
    expect(await ray.availableResources()).toEqual(before);
  });

  // Ray: test_basic.py::test_submit_api with NonexistentCustom (infeasible work)
  it('infeasible work waits visibly without blocking feasible work, and runs when a node that fits joins', async () => {
    expectWarnings(/^raybus: a task needing \{Nonexistent: 1\b.* is infeasible/);
    // jest's sandboxed `process` does not forward 'warning' events: watch emitWarning itself.
    const spy = jest.spyOn(process, 'emitWarning');
    const warnings = () => spy.mock.calls.map((c) => String(c[0]));
    try {
      const infeasible = whereAmI.options({ resources: { Nonexistent: 1 } }).remote();
      expect(await ray.get(whereAmI.remote())).toMatch(/^[0-9a-f]+$/);
      const [ready] = await ray.wait([infeasible], { timeoutMs: 100 });
      expect(ready).toEqual([]);
      expect(warnings().filter((m) => m.includes('infeasible') && m.includes('Nonexistent'))).toHaveLength(1);
      const c = await cluster.addNode({ numCpus: 1, resources: { Nonexistent: 1 } });
      expect(await ray.get(infeasible, { timeoutMs: 20000 })).toBe(c.nodeId);
      await cluster.removeNode(c);
    } finally {
      spy.mockRestore();
    }
  });

  // Ray's actor resource defaults: 1 CPU to place, 0 to run; naming a resource holds 1 CPU for life.
  it('actor resource defaults', async () => {
    const free = await ray.availableResources();
    const plain = Array.from({ length: 6 }, () => Where.remote());
    await ray.get(plain.map((h) => h.node.remote()));
    expect((await ray.availableResources()).CPU).toBe(free.CPU);
    expect(await ray.get(plain[0]!.assigned.remote())).toEqual({});
    const holding = Where.options({ resources: { CustomA: 0.5 } }).remote();
    expect(await ray.get(holding.node.remote())).toBe(a.nodeId);
    expect(await ray.get(holding.assigned.remote())).toEqual({ CPU: 1, CustomA: 0.5 });
    expect((await ray.availableResources()).CPU).toBe((free.CPU ?? 0) - 1);
    await Promise.all([...plain, holding].map((h) => ray.kill(h)));
    await waitUntil(async () => (await ray.availableResources()).CPU === free.CPU);
  });

  // Ray: test_placement_group.py (pack, strict spread, removal)
  it('placement groups: ready, bundle placement, strict spread pending, removal frees everything', async () => {
    const before = await ray.availableResources();
    const pg = ray.util.placementGroup([{ CPU: 1 }, { CPU: 1 }], { strategy: 'STRICT_SPREAD', name: 'pair' });
    expect(await pg.wait(20000)).toBe(true);
    const table = await ray.util.placementGroupTable(pg);
    const entry = table[pg.id]!;
    expect(entry.state).toBe('CREATED');
    expect(new Set(Object.values(entry.bundlesToNodeId)).size).toBe(2);
    const inBundle = (i: number) =>
      whereAmI.options({ numCpus: 1, schedulingStrategy: new ray.PlacementGroupSchedulingStrategy({ placementGroup: pg, placementGroupBundleIndex: i }) });
    expect(await ray.get(inBundle(0).remote())).toBe(entry.bundlesToNodeId[0]);
    expect(await ray.get(inBundle(1).remote())).toBe(entry.bundlesToNodeId[1]);
    expect(() => whereAmI.options({ numCpus: 2, schedulingStrategy: new ray.PlacementGroupSchedulingStrategy({ placementGroup: pg }) }).remote()).toThrow(
      /bundle/,
    );
    const actor = Where.options({ schedulingStrategy: new ray.PlacementGroupSchedulingStrategy({ placementGroup: pg, placementGroupBundleIndex: 0 }) }).remote();
    expect(await ray.get(actor.node.remote())).toBe(entry.bundlesToNodeId[0]);
    expectWarnings(/^raybus: placement group \w+ with bundles \{CPU: 1\}, \{CPU: 1\}, \{CPU: 1\} \(STRICT_SPREAD\) is infeasible/);
    const tooWide = ray.util.placementGroup([{ CPU: 1 }, { CPU: 1 }, { CPU: 1 }], { strategy: 'STRICT_SPREAD' });
    expect(await tooWide.wait(200)).toBe(false);
    expect((await ray.util.placementGroupTable(tooWide))[tooWide.id]!.state).toBe('PENDING');
    await ray.util.removePlacementGroup(tooWide);
    await ray.util.removePlacementGroup(pg);
    await expect(ray.get(actor.node.remote(), { timeoutMs: 20000 })).rejects.toBeInstanceOf(ray.RayActorError);
    expect((await ray.util.placementGroupTable(pg))[pg.id]!.state).toBe('REMOVED');
    await waitUntil(async () => JSON.stringify(await ray.availableResources()) === JSON.stringify(before));
  });

  it('bundle validation throws synchronously', () => {
    expect(() => ray.util.placementGroup([])).toThrow();
    expect(() => ray.util.placementGroup([{ CPU: 0 }])).toThrow();
    expect(() => ray.util.placementGroup([{ CPU: 1 }], { strategy: 'NOPE' as never })).toThrow(/strategy/i);
  });
});

describe('node failure', () => {
  it('a removed node kills its workers; its actors restart elsewhere and its tasks retry', async () => {
    const cluster = await Cluster.start({ nodes: [{ numCpus: 2 }, { numCpus: 2, resources: { Doomed: 1 } }] });
    await ray.init({ address: cluster.address });
    try {
      const [keep, doomed] = cluster.nodes as [Testing.ClusterNode, Testing.ClusterNode];
      const actor = Where.options({ maxRestarts: 1, schedulingStrategy: new ray.NodeAffinitySchedulingStrategy({ nodeId: doomed.nodeId, soft: true }) }).remote();
      expect(await ray.get(actor.node.remote())).toBe(doomed.nodeId);
      const pids = cluster.workerPids(doomed);
      expect(pids.length).toBeGreaterThan(0);
      await cluster.removeNode(doomed);
      for (const pid of pids) expect(isAlive(pid)).toBe(false);
      expect(await ray.get(actor.node.remote(), { timeoutMs: 20000 })).toBe(keep.nodeId);
      expect((await ray.nodes()).find((n) => n.nodeId === doomed.nodeId)?.alive).toBe(false);
    } finally {
      await ray.shutdown();
      await cluster.shutdown();
    }
  });
});
