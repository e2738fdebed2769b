/**
 * The cluster's resource ledger: per node totals, availability and GPU ids, in fixed-point
 * units (see `fixed-point.ts`). Pure bookkeeping — no I/O, no clock — owned by the broker.
 */
import { fromUnits } from './fixed-point';
import { GpuInstances } from './gpu-instances';
import {
  fromUnitMap,
  GPU,
  toUnitDemand,
  toUnitTotals,
  type ResourceSet,
  type UnitDemand,
} from './resource-set';

export type { ResourceSet } from './resource-set';

/**
 * Ray's critical resources for the hybrid policy score (`hybrid_scheduling_policy.cc`): GPU and custom
 * resources decide feasibility and availability, not utilization.
 */
const CRITICAL_RESOURCES: readonly string[] = ['CPU', 'memory', 'object_store_memory'];

/** GPU ids assigned by a reservation (empty when no GPU was asked for). */
export interface GpuAssignment {
  readonly gpuIds: number[];
}

interface NodeState {
  readonly totals: Map<string, number>;
  readonly available: Map<string, number>;
  readonly labels: Readonly<Record<string, string>>;
  readonly gpus: GpuInstances | null;
  /** GPU ids of `reserve()` calls, by GPU units, so `release()` frees the right ids. */
  readonly anonymousGpu: Map<number, number[][]>;
  alive: boolean;
}

/**
 * Nodes and their resources. Dead nodes stay known (releases of work that ran there are still
 * accepted) but take no new reservations and count in no cluster sums.
 *
 * @example
 * const ledger = new ResourceLedger();
 * ledger.addNode('n1', { CPU: 4, GPU: 2 });
 * ledger.reserveWithIds('n1', { CPU: 1, GPU: 0.5 }); // { gpuIds: [0] }
 */
export class ResourceLedger {
  private readonly nodes = new Map<string, NodeState>();
  private aliveIds: readonly string[] | null = null;

  /**
   * Adds a node with all of `totals` available. Zero totals are dropped.
   * @throws Error when an alive node has that id (a dead one is replaced and moves last);
   *   TypeError/RangeError for bad amounts.
   */
  addNode(nodeId: string, totals: ResourceSet, labels: Record<string, string> = {}): void {
    if (this.nodes.get(nodeId)?.alive === true) throw new Error(`node ${nodeId} already exists`);
    const unitTotals = toUnitTotals(totals);
    const gpuUnits = unitTotals.get(GPU) ?? 0;
    this.nodes.delete(nodeId);
    this.nodes.set(nodeId, {
      totals: unitTotals,
      available: new Map(unitTotals),
      labels: { ...labels },
      gpus: gpuUnits > 0 ? new GpuInstances(gpuUnits) : null,
      anonymousGpu: new Map(),
      alive: true,
    });
    this.aliveIds = null;
  }

  /** Marks a node dead. Unknown ids are ignored. */
  removeNode(nodeId: string): void {
    const node = this.nodes.get(nodeId);
    if (node === undefined) return;
    node.alive = false;
    this.aliveIds = null;
  }

  /**
   * Forget a node entirely: for pseudo-nodes that never come back (the bundles of a removed
   * placement group). Releases on it are then refused as for any unknown node.
   */
  forgetNode(nodeId: string): void {
    if (this.nodes.delete(nodeId)) this.aliveIds = null;
  }

  /** Whether the node was ever added (alive or dead) and not forgotten. */
  hasNode(nodeId: string): boolean {
    return this.nodes.has(nodeId);
  }

  /** Whether the node is known and alive. */
  isAlive(nodeId: string): boolean {
    return this.nodes.get(nodeId)?.alive === true;
  }

  /** Alive node ids in insertion order. The array is shared until membership changes. */
  nodeIds(): readonly string[] {
    if (this.aliveIds === null) {
      this.aliveIds = Object.freeze([...this.nodes].filter(([, n]) => n.alive).map(([id]) => id));
    }
    return this.aliveIds;
  }

  /** The node's labels. @throws Error for an unknown node. */
  labels(nodeId: string): Readonly<Record<string, string>> {
    return this.node(nodeId).labels;
  }

  /** The node's totals. @throws Error for an unknown node. */
  totals(nodeId: string): ResourceSet {
    return fromUnitMap(this.node(nodeId).totals, false);
  }

  /**
   * The node's available amounts; resources with 0 available are omitted, as Ray's
   * `available_resources()` does. @throws Error for an unknown node.
   */
  available(nodeId: string): ResourceSet {
    return fromUnitMap(this.node(nodeId).available, true);
  }

  /** Free GPU amount per id (index = GPU id), in user units. @throws Error for an unknown node. */
  gpuFree(nodeId: string): number[] {
    return (this.node(nodeId).gpus?.freeUnits() ?? []).map(fromUnits);
  }

  /** Totals summed over alive nodes (`ray.cluster_resources()`). */
  clusterTotals(): ResourceSet {
    return this.sum((n) => n.totals, false);
  }

  /** Availability summed over alive nodes; zero entries omitted (`ray.available_resources()`). */
  clusterAvailable(): ResourceSet {
    return this.sum((n) => n.available, true);
  }

  /** Whether the demand fits the node's availability now (false for dead/unknown nodes). */
  fits(nodeId: string, demand: ResourceSet): boolean {
    const node = this.nodes.get(nodeId);
    return node !== undefined && node.alive && fitsIn(node, node.available, toUnitDemand(demand), false);
  }

  /** Whether the demand fits the node's totals, i.e. could ever run there. */
  feasibleOn(nodeId: string, demand: ResourceSet): boolean {
    const node = this.nodes.get(nodeId);
    return node !== undefined && node.alive && fitsIn(node, node.totals, toUnitDemand(demand), true);
  }

  /** Whether some alive node's totals fit the demand (else it is infeasible, in Ray's "Resources" docs' terms). */
  isFeasible(demand: ResourceSet): boolean {
    const unit = toUnitDemand(demand);
    for (const node of this.nodes.values()) {
      if (node.alive && fitsIn(node, node.totals, unit, true)) return true;
    }
    return false;
  }

  /** Reserves all of the demand or nothing. GPU ids are remembered for `release`. */
  reserve(nodeId: string, demand: ResourceSet): boolean {
    const assignment = this.reserveWithIds(nodeId, demand);
    if (assignment === null) return false;
    if (assignment.gpuIds.length > 0) {
      const node = this.node(nodeId);
      const units = toUnitDemand(demand).gpuUnits;
      const stack = node.anonymousGpu.get(units) ?? [];
      stack.push(assignment.gpuIds);
      node.anonymousGpu.set(units, stack);
    }
    return true;
  }

  /**
   * Reserves all of the demand or nothing and returns the GPU ids assigned; null when the
   * node is dead/unknown or the demand does not fit now.
   */
  reserveWithIds(nodeId: string, demand: ResourceSet): GpuAssignment | null {
    const node = this.nodes.get(nodeId);
    if (node === undefined || !node.alive) return null;
    const unit = toUnitDemand(demand);
    if (!fitsIn(node, node.available, unit, false)) return null;
    const gpuIds = unit.gpuUnits > 0 && node.gpus !== null ? node.gpus.allocate(unit.gpuUnits) : [];
    if (gpuIds === null) return null; // unreachable: fitsIn checked the instances
    for (const [name, units] of unit.entries) {
      node.available.set(name, (node.available.get(name) ?? 0) - units);
    }
    return { gpuIds };
  }

  /**
   * Takes `demand` back from a node even when it is not available (availability may go
   * negative for a while): a task that waited in `get` with its CPU lent out goes on at once
   * when its wait ends (Ray's ReturnCpuResourcesToUnblockedWorker). GPUs are never lent out,
   * so they cannot be taken back this way.
   * @throws Error for an unknown node or a GPU amount.
   */
  reserveOverdraw(nodeId: string, demand: ResourceSet): void {
    const node = this.node(nodeId);
    const unit = toUnitDemand(demand);
    if (unit.gpuUnits > 0) throw new Error('GPUs cannot be taken back beyond availability');
    for (const [name, units] of unit.entries) {
      node.available.set(name, (node.available.get(name) ?? 0) - units);
    }
  }

  /**
   * Releases a demand taken with `reserve` (its GPU ids are found again by amount).
   * @throws Error for an unknown node, a GPU amount never reserved with `reserve`, or an
   *   amount that would lift availability above totals.
   */
  release(nodeId: string, demand: ResourceSet): void {
    const node = this.node(nodeId);
    const units = toUnitDemand(demand).gpuUnits;
    let gpuIds: number[] = [];
    if (units > 0) {
      const stack = node.anonymousGpu.get(units);
      const top = stack?.pop();
      if (top === undefined) {
        throw new Error(`release of GPU ${fromUnits(units)} on ${nodeId} was never reserved with reserve()`);
      }
      gpuIds = top;
    }
    try {
      this.releaseWithIds(nodeId, demand, gpuIds);
    } catch (err) {
      if (units > 0) node.anonymousGpu.get(units)?.push(gpuIds);
      throw err;
    }
  }

  /**
   * Releases a demand taken with `reserveWithIds`, checking everything before changing anything.
   * @throws Error for an unknown node, ids that do not match, or availability above totals.
   */
  releaseWithIds(nodeId: string, demand: ResourceSet, gpuIds: readonly number[]): void {
    const node = this.node(nodeId);
    const unit = toUnitDemand(demand);
    for (const [name, units] of unit.entries) {
      const total = node.totals.get(name) ?? 0;
      if ((node.available.get(name) ?? 0) + units > total) {
        throw new Error(`release of ${name} on ${nodeId} would exceed its total: it was never reserved`);
      }
    }
    if (unit.gpuUnits > 0) {
      if (node.gpus === null) throw new Error(`node ${nodeId} has no GPUs to release`);
      node.gpus.release(unit.gpuUnits, gpuIds);
    } else if (gpuIds.length > 0) {
      throw new Error(`GPU ids [${gpuIds.join(', ')}] released without a GPU amount`);
    }
    for (const [name, units] of unit.entries) {
      node.available.set(name, (node.available.get(name) ?? 0) + units);
    }
  }

  /**
   * Critical resource utilization in [0, 1]: the max over CPU, memory and
   * object_store_memory that the node has of used/total — Ray's hybrid score before its
   * threshold clamp (`hybrid_scheduling_policy.cc`). 0 for a node with none of them.
   * @throws Error for an unknown node.
   */
  utilization(nodeId: string): number {
    const node = this.node(nodeId);
    let max = 0;
    for (const name of CRITICAL_RESOURCES) {
      const total = node.totals.get(name);
      if (total === undefined) continue;
      const used = (total - (node.available.get(name) ?? 0)) / total;
      if (used > max) max = used;
    }
    return max;
  }

  /**
   * A copy of the alive nodes, for planning without touching this ledger. With
   * `resetAvailable` every resource of the copy is free (to test feasibility).
   */
  clone(options: { resetAvailable?: boolean } = {}): ResourceLedger {
    const reset = options.resetAvailable === true;
    const copy = new ResourceLedger();
    for (const [id, node] of this.nodes) {
      if (!node.alive) continue;
      copy.nodes.set(id, {
        totals: node.totals,
        available: new Map(reset ? node.totals : node.available),
        labels: node.labels,
        gpus: node.gpus?.clone(reset) ?? null,
        anonymousGpu: reset ? new Map() : new Map([...node.anonymousGpu].map(([u, s]) => [u, s.map((ids) => [...ids])])),
        alive: true,
      });
    }
    return copy;
  }

  private node(nodeId: string): NodeState {
    const node = this.nodes.get(nodeId);
    if (node === undefined) throw new Error(`unknown node ${nodeId}`);
    return node;
  }

  private sum(pick: (n: NodeState) => ReadonlyMap<string, number>, omitZero: boolean): ResourceSet {
    const total = new Map<string, number>();
    for (const node of this.nodes.values()) {
      if (!node.alive) continue;
      // An overdrawn node (a blocked task's CPU taken back) has none available, not less.
      for (const [name, units] of pick(node)) total.set(name, (total.get(name) ?? 0) + (omitZero ? Math.max(0, units) : units));
    }
    return fromUnitMap(total, omitZero);
  }
}

function fitsIn(
  node: NodeState,
  pool: ReadonlyMap<string, number>,
  unit: UnitDemand,
  againstTotals: boolean,
): boolean {
  for (const [name, units] of unit.entries) {
    if ((pool.get(name) ?? 0) < units) return false;
  }
  if (unit.gpuUnits === 0) return true;
  if (node.gpus === null) return false;
  return againstTotals ? node.gpus.feasible(unit.gpuUnits) : node.gpus.canAllocate(unit.gpuUnits);
}
