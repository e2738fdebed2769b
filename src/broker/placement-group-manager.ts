/**
 * Placement groups on the broker side: atomic reservation of all bundles (or none), bundles
 * as pseudo-nodes of a second ledger so that work scheduled into a group reserves from its
 * bundles, removal (kills the group's actors, fails its running tasks, frees its resources),
 * and the table `placementGroupTable()` reads.
 */
import type { NodeId, PlacementGroupId, ReplyQueue } from '../protocol/ids';
import type { ResourceLedger } from '../scheduling/ledger/resource-ledger';
import { planPlacementGroup } from '../scheduling/placement/plan-placement-group';
import { reserveBundles, releaseBundles, type ReservedBundle } from '../scheduling/placement/reserve-bundles';
import type { PlacementGroupStrategy } from '../scheduling/placement/validate-bundles';
import type { PlacementDecision } from '../scheduling/strategies/placement-strategy';
import { formatResources } from '../scheduling/ledger/resource-set';
import type { CreatePgMsg } from '../protocol/messages/broker';
import type { PlacementGroupInfo, Resources } from '../protocol/wire';
import type { PlacementGroupItem } from '../protocol/state';
import type { PendingPlacement } from './grants';
import type { Send } from './typed-send';
import { addBounded } from '../util/bounded-set';

/** What a {@link PlacementGroupManager} needs: the node ledger, the bundle ledger and the placement queue. */
export interface PlacementGroupManagerDeps {
  /** The node ledger, where bundles are reserved. */
  readonly nodes: ResourceLedger;
  /** Bundles as pseudo-nodes: tasks in a group reserve here, not on the node ledger. */
  readonly bundles: ResourceLedger;
  enqueue(p: PendingPlacement): void;
  removePending(p: PendingPlacement): void;
  readonly send: Send;
  /** Removed groups kept for the table (default MAX_REMOVED_GROUPS). */
  readonly maxRemoved?: number;
}

interface PgRecord {
  readonly id: PlacementGroupId;
  readonly name: string;
  readonly owner: ReplyQueue;
  readonly strategy: PlacementGroupStrategy;
  readonly bundles: Resources[];
  readonly detached: boolean;
  state: 'PENDING' | 'CREATED' | 'REMOVED';
  reserved?: ReservedBundle[];
  pending?: PendingPlacement;
}

/** Pseudo-node id of bundle `i` of group `pg` in the bundle ledger. */
const bundleKey = (pg: string, i: number): string => `${pg}#${i}`;

/**
 * Removed groups kept for the state API (`placementGroupTable` lists them as REMOVED): the
 * oldest is forgotten past this many, as Ray's GCS keeps a bounded cache of destroyed actors
 * and dead nodes. A program that makes and removes groups all day must not grow the broker.
 */
const MAX_REMOVED_GROUPS = 10_000;

/** Placement groups by id: their bundles, state and reservations. */
export class PlacementGroupManager {
  private readonly groups = new Map<string, PgRecord>();
  /** Ids of removed groups, oldest first. */
  private readonly removed = new Set<string>();
  private readonly bundles: ResourceLedger;

  constructor(private readonly deps: PlacementGroupManagerDeps) {
    this.bundles = deps.bundles;
  }

  create(msg: CreatePgMsg): void {
    const { pg } = msg;
    if (this.groups.has(pg.id)) return;
    const record: PgRecord = {
      id: pg.id,
      name: pg.name,
      owner: msg.owner,
      strategy: pg.strategy as PlacementGroupStrategy,
      bundles: pg.bundles,
      detached: pg.detached,
      state: 'PENDING',
    };
    this.groups.set(pg.id, record);
    const pending: PendingPlacement = {
      id: pg.id,
      demand: {},
      strategy: { kind: 'DEFAULT' },
      describe: `placement group ${pg.id}${pg.name ? ` ('${pg.name}')` : ''} with bundles ${pg.bundles.map(formatResources).join(', ')} (${pg.strategy})`,
      actorCreation: false,
      notify: msg.owner,
      attempt: () => this.tryReserve(record),
      place: () => undefined,
      fail: () => undefined,
    };
    record.pending = pending;
    this.deps.enqueue(pending);
  }

  private tryReserve(record: PgRecord): 'placed' | 'wait' | 'infeasible' {
    if (record.state !== 'PENDING') return 'placed';
    const plan = planPlacementGroup(this.deps.nodes, record.bundles, record.strategy);
    if (plan.kind !== 'placed') return plan.kind;
    const reserved = reserveBundles(this.deps.nodes, record.bundles, plan.nodeIds);
    if (!reserved) return 'wait';
    record.reserved = reserved;
    record.state = 'CREATED';
    record.pending = undefined;
    record.bundles.forEach((b, i) => this.bundles.addNode(bundleKey(record.id, i), b));
    this.deps.send(record.owner, { t: 'pg-ready', pg: record.id });
    return 'placed';
  }

  /** Where work scheduled into group `pg` (bundle `index`, -1 = any) goes now. */
  decide(pg: string, index: number, demand: Resources): PlacementDecision & { bundle?: string } {
    const record = this.groups.get(pg);
    if (!record || record.state === 'REMOVED') {
      return { kind: 'unschedulable', reason: `placement group ${pg} ${record ? 'was removed' : 'does not exist'}` };
    }
    if (record.state === 'PENDING') return { kind: 'wait' };
    const candidates = index >= 0 ? [index] : record.bundles.map((_, i) => i);
    let feasible = false;
    for (const i of candidates) {
      const key = bundleKey(pg, i);
      if (!this.bundles.feasibleOn(key, demand)) continue;
      feasible = true;
      if (this.bundles.fits(key, demand)) return { kind: 'node', nodeId: record.reserved![i]!.nodeId, bundle: key };
    }
    if (!feasible) {
      return { kind: 'unschedulable', reason: `the demand ${formatResources(demand)} fits no bundle of placement group ${pg}` };
    }
    return { kind: 'wait' };
  }

  /** GPU ids on the real node for a reservation made in a bundle. */
  realGpuIds(bundle: string, ids: number[]): number[] {
    const [pg, i] = bundle.split('#') as [string, string];
    const reserved = this.groups.get(pg)?.reserved?.[Number(i)];
    return ids.map((k) => reserved?.gpuIds[k] ?? k);
  }

  /** Remove a group and free its bundles; returns false if unknown. The server kills what runs in it. */
  remove(pg: string): boolean {
    const record = this.groups.get(pg);
    if (!record) return false;
    if (record.state === 'REMOVED') return true;
    if (record.pending) this.deps.removePending(record.pending);
    if (record.state === 'CREATED' && record.reserved) {
      releaseBundles(this.deps.nodes, record.bundles, record.reserved);
      // Bundles never come back: their pseudo-nodes go (the grants on them are released already
      // or release nothing, grants.ts).
      record.bundles.forEach((_, i) => this.bundles.forgetNode(bundleKey(pg, i)));
    }
    record.state = 'REMOVED';
    const forgotten = addBounded(this.removed, pg, this.deps.maxRemoved ?? MAX_REMOVED_GROUPS);
    if (forgotten !== undefined) this.groups.delete(forgotten);
    return true;
  }

  /** The groups, not detached and not removed, whose creator `owner` matches (their job ended with it). */
  ownedBy(owner: (o: ReplyQueue) => boolean): PlacementGroupId[] {
    const ids: PlacementGroupId[] = [];
    for (const r of this.groups.values()) if (!r.detached && r.state !== 'REMOVED' && owner(r.owner)) ids.push(r.id);
    return ids;
  }

  /** Every group as the state API lists them. */
  items(): PlacementGroupItem[] {
    return [...this.groups.values()].map((r) => ({
      placementGroupId: r.id,
      name: r.name,
      state: r.state,
      strategy: r.strategy,
      isDetached: r.detached,
      bundles: r.bundles.map((b, i) => ({ bundleId: i, ...(r.reserved?.[i] ? { nodeId: r.reserved[i].nodeId } : {}), unitResources: { ...b } })),
      creatorAddress: r.owner,
    }));
  }

  table(): Record<string, PlacementGroupInfo> {
    const out: Record<string, PlacementGroupInfo> = {};
    for (const r of this.groups.values()) {
      out[r.id] = {
        placementGroupId: r.id,
        name: r.name,
        strategy: r.strategy,
        state: r.state,
        bundles: Object.fromEntries(r.bundles.map((b, i) => [i, { ...b }])),
        bundlesToNodeId: r.reserved ? Object.fromEntries(r.reserved.map((b, i) => [i, b.nodeId as NodeId])) : {},
      };
    }
    return out;
  }
}
