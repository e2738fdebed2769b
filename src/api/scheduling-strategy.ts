/**
 * Scheduling strategies a task or actor can ask for (Ray's "Scheduling" docs).
 *
 * `'DEFAULT'` and `'SPREAD'` are plain strings; node affinity and placement-group placement
 * are small immutable data classes that validate their fields when constructed, so a bad
 * strategy throws where the user builds it, not later at `.remote()`.
 *
 * `instanceof` is answered by a `Symbol.for` brand rather than the prototype chain: jest and
 * bundlers can load two copies of this module, and a strategy built by one copy must still
 * be recognised by the other.
 */

const NODE_AFFINITY_BRAND = Symbol.for('raybus.NodeAffinitySchedulingStrategy');
const PLACEMENT_GROUP_BRAND = Symbol.for('raybus.PlacementGroupSchedulingStrategy');

/**
 * What a placement-group strategy needs from a placement group: its id and its bundles.
 * `ray.util.placementGroup(...)` handles satisfy it; so does any object of this shape.
 */
export interface PlacementGroupRef {
  readonly id: string;
  readonly bundleSpecs: ReadonlyArray<Record<string, number>>;
}

/** Constructor argument of {@link NodeAffinitySchedulingStrategy} (camelCase or snake_case). */
export type NodeAffinitySchedulingStrategyInit =
  | { readonly nodeId: string; readonly soft?: boolean }
  | { readonly node_id: string; readonly soft?: boolean };

/** Constructor argument of {@link PlacementGroupSchedulingStrategy} (camelCase or snake_case). */
export type PlacementGroupSchedulingStrategyInit =
  | {
      readonly placementGroup: PlacementGroupRef;
      readonly placementGroupBundleIndex?: number;
      readonly placementGroupCaptureChildTasks?: boolean | null;
    }
  | {
      readonly placement_group: PlacementGroupRef;
      readonly placement_group_bundle_index?: number;
      readonly placement_group_capture_child_tasks?: boolean | null;
    };

/**
 * Run only on the node `nodeId` while it is alive and feasible. When it is not: `soft: true`
 * schedules elsewhere, `soft: false` (default) fails the work with
 * `TaskUnschedulableError` / `ActorUnschedulableError` (Ray's `NodeAffinitySchedulingStrategy`).
 *
 * @example
 * const pinned = f.options({ schedulingStrategy: new NodeAffinitySchedulingStrategy({ nodeId, soft: true }) });
 */
export class NodeAffinitySchedulingStrategy {
  readonly kind = 'NODE_AFFINITY' as const;
  readonly nodeId: string;
  readonly soft: boolean;

  constructor(init: NodeAffinitySchedulingStrategyInit) {
    const fields = readFields('NodeAffinitySchedulingStrategy', init, [
      ['nodeId', 'node_id'],
      ['soft', 'soft'],
    ]);
    const nodeId = fields.get('nodeId');
    if (nodeId === undefined) {
      throw new TypeError("NodeAffinitySchedulingStrategy: 'nodeId' is required (the hex id of a node)");
    }
    if (typeof nodeId.value !== 'string') {
      throw new TypeError(
        `NodeAffinitySchedulingStrategy: '${nodeId.spelled}' must be a string, but received ${typeName(nodeId.value)}`,
      );
    }
    if (nodeId.value === '') {
      throw new RangeError(`NodeAffinitySchedulingStrategy: '${nodeId.spelled}' cannot be an empty string`);
    }
    const soft = fields.get('soft');
    if (soft !== undefined && typeof soft.value !== 'boolean') {
      throw new TypeError(
        `NodeAffinitySchedulingStrategy: 'soft' must be a boolean, but received ${typeName(soft.value)}`,
      );
    }
    this.nodeId = nodeId.value;
    this.soft = soft === undefined ? false : (soft.value as boolean);
    Object.defineProperty(this, NODE_AFFINITY_BRAND, { value: true });
    Object.freeze(this);
  }

  /** Brand check, so instances from another copy of this module are recognised. */
  static [Symbol.hasInstance](value: unknown): boolean {
    return isNodeAffinitySchedulingStrategy(value);
  }
}

/**
 * Run inside a placement group's reserved resources: in bundle `placementGroupBundleIndex`
 * (-1, the default, means any bundle with room). With `placementGroupCaptureChildTasks`
 * the work's own children default to the same group (Ray's `PlacementGroupSchedulingStrategy`).
 *
 * @example
 * new PlacementGroupSchedulingStrategy({ placementGroup: pg, placementGroupBundleIndex: 0 });
 */
export class PlacementGroupSchedulingStrategy {
  readonly kind = 'PLACEMENT_GROUP' as const;
  readonly placementGroup: PlacementGroupRef;
  readonly placementGroupBundleIndex: number;
  readonly placementGroupCaptureChildTasks: boolean;

  constructor(init: PlacementGroupSchedulingStrategyInit) {
    const fields = readFields('PlacementGroupSchedulingStrategy', init, [
      ['placementGroup', 'placement_group'],
      ['placementGroupBundleIndex', 'placement_group_bundle_index'],
      ['placementGroupCaptureChildTasks', 'placement_group_capture_child_tasks'],
    ]);
    const group = fields.get('placementGroup');
    if (group === undefined) {
      throw new TypeError("PlacementGroupSchedulingStrategy: 'placementGroup' is required");
    }
    if (!isPlacementGroupRef(group.value)) {
      throw new TypeError(
        `PlacementGroupSchedulingStrategy: '${group.spelled}' must be a placement group ` +
          `(an object with a string 'id' and an array 'bundleSpecs'), but received ${typeName(group.value)}`,
      );
    }
    const bundleCount = group.value.bundleSpecs.length;
    const index = fields.get('placementGroupBundleIndex');
    let bundleIndex = -1;
    if (index !== undefined) {
      if (typeof index.value !== 'number') {
        throw new TypeError(
          `PlacementGroupSchedulingStrategy: '${index.spelled}' must be a number, but received ${typeName(index.value)}`,
        );
      }
      bundleIndex = index.value;
    }
    if (!Number.isInteger(bundleIndex) || bundleIndex < -1 || bundleIndex >= bundleCount) {
      // Ray's wording (`_configure_placement_group_based_on_context`).
      const valid = bundleCount === 0 ? 'none (the group has no bundles)' : `0 to ${bundleCount - 1}`;
      throw new RangeError(
        `PlacementGroupSchedulingStrategy: placement group bundle index ${String(bundleIndex)} is invalid. ` +
          `Valid placement group indexes: ${valid}, or -1 for any bundle.`,
      );
    }
    const capture = fields.get('placementGroupCaptureChildTasks');
    if (capture !== undefined && capture.value !== null && typeof capture.value !== 'boolean') {
      throw new TypeError(
        `PlacementGroupSchedulingStrategy: '${capture.spelled}' must be a boolean, but received ${typeName(capture.value)}`,
      );
    }
    this.placementGroup = group.value;
    this.placementGroupBundleIndex = bundleIndex;
    this.placementGroupCaptureChildTasks = capture?.value === true;
    Object.defineProperty(this, PLACEMENT_GROUP_BRAND, { value: true });
    Object.freeze(this);
  }

  /** Brand check, so instances from another copy of this module are recognised. */
  static [Symbol.hasInstance](value: unknown): boolean {
    return isPlacementGroupSchedulingStrategy(value);
  }
}

/**
 * Where a task or actor may run: `'DEFAULT'` (pack, then spread past 50% utilisation),
 * `'SPREAD'`, node affinity or a placement group. `null`/absent means DEFAULT, or the
 * parent's placement group when the parent captures child tasks.
 */
export type SchedulingStrategy =
  | 'DEFAULT'
  | 'SPREAD'
  | NodeAffinitySchedulingStrategy
  | PlacementGroupSchedulingStrategy;

/** The string strategies, in the order error messages list them. */
export const SCHEDULING_STRATEGY_NAMES: readonly ['DEFAULT', 'SPREAD'] = ['DEFAULT', 'SPREAD'];

/** True for a {@link NodeAffinitySchedulingStrategy} built by any copy of this module. */
export function isNodeAffinitySchedulingStrategy(value: unknown): value is NodeAffinitySchedulingStrategy {
  return hasBrand(value, NODE_AFFINITY_BRAND);
}

/** True for a {@link PlacementGroupSchedulingStrategy} built by any copy of this module. */
export function isPlacementGroupSchedulingStrategy(value: unknown): value is PlacementGroupSchedulingStrategy {
  return hasBrand(value, PLACEMENT_GROUP_BRAND);
}

/** True for any valid {@link SchedulingStrategy} value (not for null/undefined). */
export function isSchedulingStrategy(value: unknown): value is SchedulingStrategy {
  return (
    value === 'DEFAULT' ||
    value === 'SPREAD' ||
    isNodeAffinitySchedulingStrategy(value) ||
    isPlacementGroupSchedulingStrategy(value)
  );
}

function hasBrand(value: unknown, brand: symbol): boolean {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[brand] === true;
}

function isPlacementGroupRef(value: unknown): value is PlacementGroupRef {
  if (typeof value !== 'object' || value === null) return false;
  const candidate = value as { id?: unknown; bundleSpecs?: unknown };
  return typeof candidate.id === 'string' && Array.isArray(candidate.bundleSpecs);
}

interface FieldValue {
  readonly spelled: string;
  readonly value: unknown;
}

/**
 * Reads the constructor fields by their camelCase or snake_case names. Unknown fields and
 * both spellings of one field throw; `undefined` counts as absent.
 */
function readFields(
  className: string,
  init: unknown,
  names: ReadonlyArray<readonly [camel: string, snake: string]>,
): Map<string, FieldValue> {
  if (typeof init !== 'object' || init === null || Array.isArray(init)) {
    throw new TypeError(`${className} expects an options object, but received ${typeName(init)}`);
  }
  const bySpelling = new Map<string, string>();
  for (const [camel, snake] of names) {
    bySpelling.set(camel, camel);
    bySpelling.set(snake, camel);
  }
  const fields = new Map<string, FieldValue>();
  for (const key of Object.keys(init)) {
    const camel = bySpelling.get(key);
    if (camel === undefined) {
      const valid = names.map(([c, s]) => (c === s ? c : `${c} (${s})`)).join(', ');
      throw new TypeError(`${className}: unknown field '${key}'. Valid fields are: ${valid}`);
    }
    const value = (init as Record<string, unknown>)[key];
    if (value === undefined) continue;
    const previous = fields.get(camel);
    if (previous !== undefined) {
      throw new TypeError(
        `${className}: field '${camel}' was given twice, as '${previous.spelled}' and '${key}'; use one spelling`,
      );
    }
    fields.set(camel, { spelled: key, value });
  }
  return fields;
}

function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}
