/**
 * `ray.util.placementGroup` and friends: reserve bundles of resources atomically across the
 * cluster, then schedule tasks and actors into them with `PlacementGroupSchedulingStrategy`.
 */
import { placementGroupReadyId, type PlacementGroupId } from '../protocol/ids';
import { requireCore, type RuntimeCore } from '../core/runtime-state';
import { BROKER_QUEUE } from '../protocol/queues';
import type { AckMsg, PgTableReplyMsg } from '../protocol/messages/reply';
import type { PlacementGroupInfo, Resources } from '../protocol/wire';
import type { ObjectRef } from '../refs/object-ref';
import { EXT_PLACEMENT_GROUP, encodeValue, serializer } from '../serialization/serializer';
import { encodeError } from '../serialization/error-codec';
import { RayValueError } from '../errors/ray-errors';
import { validateBundles, validatePlacementGroupStrategy, type PlacementGroupStrategy } from '../scheduling/placement/validate-bundles';
import { formatResources } from '../scheduling/ledger/resource-set';

const PG_MARKER = Symbol.for('raybus.PlacementGroup');

/** Placement groups created by this process, so `pg-ready` can resolve their refs. */
const created = new Map<string, PlacementGroup>();

/**
 * A reserved set of resource bundles.
 *
 * @example
 * const pg = ray.util.placementGroup([{ CPU: 1 }, { CPU: 1 }], { strategy: 'STRICT_SPREAD' });
 * await ray.get(pg.ready());
 * const a = Actor.options({ schedulingStrategy: new PlacementGroupSchedulingStrategy({ placementGroup: pg }) }).remote();
 */
export class PlacementGroup {
  /** @internal */
  readyRef?: ObjectRef<PlacementGroup>;

  /** @internal Created by `placementGroup()` or received from another process. */
  constructor(
    readonly id: PlacementGroupId,
    readonly bundleSpecs: ReadonlyArray<Readonly<Resources>>,
    readonly strategy: PlacementGroupStrategy,
    readonly name: string,
  ) {}

  /** An ObjectRef that resolves (to this group) once every bundle is reserved. */
  ready(): ObjectRef<PlacementGroup> {
    if (!this.readyRef) throw new Error('ready() is only available in the process that created the placement group');
    return this.readyRef;
  }

  /** Wait up to `timeoutMs` for the group to be ready; resolves true if it is. */
  async wait(timeoutMs?: number): Promise<boolean> {
    if (timeoutMs !== undefined && (typeof timeoutMs !== 'number' || timeoutMs < 0)) throw new RangeError('pg.wait: timeoutMs must be a non-negative number');
    const core = requireCore();
    const [ready] = await core.wait([this.ready() as ObjectRef<unknown>], 1, timeoutMs);
    return ready.length === 1;
  }

  toString(): string {
    return `PlacementGroup(${this.id})`;
  }

  static [Symbol.hasInstance](v: unknown): boolean {
    return typeof v === 'object' && v !== null && (v as Record<symbol, unknown>)[PG_MARKER] === true;
  }
}
Object.defineProperty(PlacementGroup.prototype, PG_MARKER, { value: true });

serializer.registerExtension({
  Class: PlacementGroup,
  type: EXT_PLACEMENT_GROUP,
  write: (pg: PlacementGroup) => [pg.id, pg.bundleSpecs, pg.strategy, pg.name],
  read: (data: unknown) => {
    const [id, bundles, strategy, name] = data as [PlacementGroupId, Resources[], PlacementGroupStrategy, string];
    return new PlacementGroup(id, bundles, strategy, name);
  },
});

/** True for placement groups from any copy of raybus. */
function isPlacementGroup(v: unknown): v is PlacementGroup {
  return v instanceof PlacementGroup;
}

/** Options of `placementGroup`. */
export interface PlacementGroupOptions {
  readonly strategy?: PlacementGroupStrategy;
  readonly name?: string;
  readonly lifetime?: 'detached' | null;
}

/** Reserve `bundles` with `strategy` (default PACK). Returns at once; `ready()` tells when. */
export function placementGroup(bundles: Array<Record<string, number>>, options: PlacementGroupOptions = {}): PlacementGroup {
  validateBundles(bundles);
  if (typeof options !== 'object' || options === null) throw new TypeError('placementGroup: options must be an object');
  for (const k of Object.keys(options)) {
    if (!['strategy', 'name', 'lifetime'].includes(k)) throw new TypeError(`placementGroup: unknown option '${k}'. Valid options: strategy, name, lifetime`);
  }
  const strategy = options.strategy ?? 'PACK';
  validatePlacementGroupStrategy(strategy);
  if (options.name !== undefined && typeof options.name !== 'string') throw new TypeError('placementGroup: name must be a string');
  if (options.lifetime !== undefined && options.lifetime !== null && options.lifetime !== 'detached') {
    throw new RangeError("placementGroup: lifetime must be 'detached' or null");
  }
  const core = requireCore();
  routePlacementGroupReady(core);
  const id = core.newId<PlacementGroupId>();
  const pg = new PlacementGroup(id, bundles.map((b) => ({ ...b })), strategy, options.name ?? '');
  pg.readyRef = core.ownedRef<PlacementGroup>(placementGroupReadyId(id));
  created.set(id, pg);
  core.sendToBroker({
    t: 'create-pg',
    owner: core.address,
    pg: { id, bundles: pg.bundleSpecs.map((b) => ({ ...b })), strategy, name: pg.name, detached: options.lifetime === 'detached' },
  });
  return pg;
}


/** Runtimes whose `pg-ready` replies reach the groups created here. */
const routed = new WeakSet<RuntimeCore>();

/** Route `core`'s `pg-ready` replies (the broker reserved every bundle) to `ready()`. */
function routePlacementGroupReady(core: RuntimeCore): void {
  if (routed.has(core)) return;
  routed.add(core);
  core.registerReplyHandler('pg-ready', (msg) => {
    const pg = created.get(msg.pg);
    if (!pg) return;
    created.delete(msg.pg);
    core.objects.fulfil(placementGroupReadyId(msg.pg), { d: encodeValue(pg) });
  });
}

/** Remove a placement group: kills its actors, fails its running tasks, frees its resources. */
export function removePlacementGroup(pg: PlacementGroup): Promise<void> {
  if (!isPlacementGroup(pg)) throw new TypeError('removePlacementGroup expects a PlacementGroup');
  const core = requireCore();
  created.delete(pg.id);
  return core.request<AckMsg>(BROKER_QUEUE, (req, reply) => ({ t: 'remove-pg', pg: pg.id, req, reply })).then(() => {
    // Removed before it was ready: ready() rejects instead of waiting forever (no-op if ready).
    core.objects.fulfil(placementGroupReadyId(pg.id), { e: encodeError(new RayValueError(`Placement group ${pg.id} was removed before it became ready`)) });
  });
}

/** Every placement group the cluster knows, by id (or one group's entry). */
export async function placementGroupTable(pg?: PlacementGroup): Promise<Record<string, PlacementGroupInfo>> {
  const core = requireCore();
  const reply = await core.request<PgTableReplyMsg>(BROKER_QUEUE, (req, r) => ({ t: 'pg-table', req, reply: r }));
  const table = reply.table ?? {};
  if (pg) return table[pg.id] ? { [pg.id]: table[pg.id]! } : {};
  return table;
}

/**
 * Check at `.remote()` that `demand` can fit the targeted bundle (or some bundle when the
 * index is -1), as Ray validates placement-group shapes synchronously.
 */
export function checkFitsPlacementGroup(demand: Resources, bundles: ReadonlyArray<Readonly<Resources>>, index: number): void {
  const fits = (b: Readonly<Resources>): boolean => Object.entries(demand).every(([k, v]) => v <= 0 || (b[k] ?? 0) >= v);
  const candidates = index >= 0 ? [bundles[index]!] : bundles;
  if (!candidates.some(fits)) {
    throw new RangeError(
      `Cannot schedule a task or actor needing ${formatResources(demand)} into ${index >= 0 ? `bundle ${index}` : 'any bundle'} of the placement group: ` +
        `bundles are ${bundles.map((b, i) => `#${i} ${formatResources(b)}`).join(', ')}`,
    );
  }
}
