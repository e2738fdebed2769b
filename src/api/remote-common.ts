/**
 * What remote functions and actor classes share (remote.ts, actor-class.ts): the markers on
 * functions and classes, scheduling strategies as they travel, and the metadata a task carries.
 */
import { slot } from '../core/runtime-state';
import type { WireStrategy } from '../protocol/wire';
import type { NodeId, PlacementGroupId } from '../protocol/ids';
import { NodeAffinitySchedulingStrategy, PlacementGroupSchedulingStrategy } from './scheduling-strategy';
import { checkFitsPlacementGroup } from './placement-group';

export const METHOD_OPTIONS = Symbol.for('raybus.methodOptions');
/** Metadata key under which a capturing placement group travels to child tasks. */
const PG_CAPTURE_KEY = '__raybus_pg_capture';

/** Validate a placement-group strategy against the demand now, and mark capture. */
export function checkStrategy(strategy: unknown, demand: Record<string, number>): Record<string, unknown> | undefined {
  if (!(strategy instanceof PlacementGroupSchedulingStrategy)) return undefined;
  checkFitsPlacementGroup(demand, strategy.placementGroup.bundleSpecs, strategy.placementGroupBundleIndex);
  return strategy.placementGroupCaptureChildTasks ? { [PG_CAPTURE_KEY]: { pg: strategy.placementGroup.id } } : undefined;
}
export const ACTOR_CLASS = Symbol.for('raybus.ActorClass');

export type AnyFn = (...args: never[]) => unknown;
export type AnyClass = abstract new (...args: never[]) => unknown;

export function isClass(fn: unknown): fn is AnyClass {
  return typeof fn === 'function' && /^class[\s{]/.test(Function.prototype.toString.call(fn));
}

export function isGeneratorFn(fn: unknown): boolean {
  const name = (fn as { constructor?: { name?: string } })?.constructor?.name;
  return name === 'GeneratorFunction' || name === 'AsyncGeneratorFunction';
}

export function isAsyncFn(fn: unknown): boolean {
  const name = (fn as { constructor?: { name?: string } })?.constructor?.name;
  return name === 'AsyncFunction' || name === 'AsyncGeneratorFunction';
}

/** The strategies without parameters, shared by every call (read only: a million queued tasks hold one). */
const DEFAULT_WIRE: WireStrategy = Object.freeze({ kind: 'DEFAULT' });
const SPREAD_WIRE: WireStrategy = Object.freeze({ kind: 'SPREAD' });

/** Convert a strategy option to its wire form. */
export function wireStrategy(s: unknown): WireStrategy {
  if (s === undefined || s === null) {
    // Child work inherits a placement group that captures child tasks (Ray semantics).
    const pg = slot.taskContext.getStore()?.metadata?.[PG_CAPTURE_KEY] as { pg: PlacementGroupId } | undefined;
    if (pg) return { kind: 'PLACEMENT_GROUP', pg: pg.pg, bundle: -1 };
  }
  if (s instanceof NodeAffinitySchedulingStrategy) return { kind: 'NODE_AFFINITY', nodeId: s.nodeId as NodeId, soft: s.soft };
  if (s instanceof PlacementGroupSchedulingStrategy) return { kind: 'PLACEMENT_GROUP', pg: s.placementGroup.id as PlacementGroupId, bundle: s.placementGroupBundleIndex };
  if (s === 'SPREAD') return SPREAD_WIRE;
  return DEFAULT_WIRE;
}

export function retryNames(v: unknown): boolean | string[] {
  if (v === undefined || v === null) return false;
  if (typeof v === 'boolean') return v;
  return (v as Array<string | { name: string }>).map((x) => (typeof x === 'string' ? x : x.name));
}

/**
 * The metadata a task carries: the user's, plus the capturing placement group (set by this
 * submission, or inherited unless the strategy is set explicitly, e.g. 'DEFAULT').
 */
export function withCapture(meta: Record<string, unknown> | undefined, capture: Record<string, unknown> | undefined, strategy: unknown): Record<string, unknown> | undefined {
  if (capture) return { ...(meta ?? {}), ...capture };
  const inherited = slot.taskContext.getStore()?.metadata?.[PG_CAPTURE_KEY];
  if (inherited && (strategy === undefined || strategy === null)) return { ...(meta ?? {}), [PG_CAPTURE_KEY]: inherited };
  return meta;
}
