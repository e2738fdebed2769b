/**
 * From options to the resource amounts a task or actor reserves (Ray's "Resources" docs), as
 * Ray's `resources_from_ray_options` and `ActorClass._remote` compute them.
 */
import type { ResourceOptionFields } from './common-options';
import {
  ACCELERATOR_TYPE_REQUEST_QUANTITY,
  ACCELERATOR_TYPE_RESOURCE_PREFIX,
  DEFAULT_TASK_NUM_CPUS,
} from './defaults';

/** A resolved resource request: resource name → amount > 0, frozen. */
export type ResourceSet = Readonly<Record<string, number>>;

/** Resources of an actor: what the node must have free to start it, and what it holds while alive. */
export interface ActorResources {
  readonly placement: ResourceSet;
  readonly lifetime: ResourceSet;
}

/**
 * Ray's `resources_from_ray_options`: the named resources, keys present even when 0.
 * `memory` is rounded down to whole bytes.
 */
function requestedResources(opts: ResourceOptionFields): Map<string, number> {
  const out = new Map<string, number>(Object.entries(opts.resources ?? {}));
  if (opts.numCpus != null) out.set('CPU', opts.numCpus);
  if (opts.numGpus != null) out.set('GPU', opts.numGpus);
  if (opts.memory != null) out.set('memory', Math.floor(opts.memory));
  if (opts.acceleratorType != null) {
    out.set(ACCELERATOR_TYPE_RESOURCE_PREFIX + opts.acceleratorType, ACCELERATOR_TYPE_REQUEST_QUANTITY);
  }
  return out;
}

/** Entries equal to 0 are dropped before submission (only amounts > 0 are sent). */
function toResourceSet(resources: Map<string, number>): ResourceSet {
  return Object.freeze(Object.fromEntries([...resources].filter(([, amount]) => amount > 0)));
}

/**
 * The resources a task holds while it runs: `numCpus` (default 1), `GPU`, `memory`, custom
 * resources and `accelerator_type:<T>: 0.001`; zero entries dropped.
 *
 * @example
 * resolveTaskResources({});                            // → { CPU: 1 }
 * resolveTaskResources({ numCpus: 0, numGpus: 0.5 });  // → { GPU: 0.5 }
 */
export function resolveTaskResources(opts: ResourceOptionFields): ResourceSet {
  const resources = requestedResources(opts);
  if (!resources.has('CPU')) resources.set('CPU', DEFAULT_TASK_NUM_CPUS);
  return toResourceSet(resources);
}

/**
 * An actor's resources, exactly as Ray's "Resources" docs give them:
 * - nothing but `memory` named → placement needs 1 CPU more than the lifetime request, and
 *   the live actor holds 0 CPU (`{ placement: { CPU: 1 }, lifetime: {} }` by default);
 * - any of `numCpus`, `numGpus`, `resources` (with at least one key) or `acceleratorType`
 *   named → the actor holds its request for life, with CPU 1 unless `numCpus` is given, and
 *   `placement === lifetime`.
 *
 * The "named" test looks at keys, as Ray does (`numCpus: 0` and `resources: { x: 0 }` count
 * as named; `resources: {}` does not).
 *
 * @example
 * resolveActorResources({});             // → { placement: { CPU: 1 }, lifetime: {} }
 * resolveActorResources({ numGpus: 1 }); // → both { CPU: 1, GPU: 1 }
 */
export function resolveActorResources(opts: ResourceOptionFields): ActorResources {
  const resources = requestedResources(opts);
  const namesAResource = [...resources.keys()].some((key) => key !== 'memory');
  if (namesAResource) {
    if (!resources.has('CPU')) resources.set('CPU', 1);
    const held = toResourceSet(resources);
    return Object.freeze({ placement: held, lifetime: held });
  }
  const lifetime = toResourceSet(resources);
  return Object.freeze({ placement: toResourceSet(new Map([...resources, ['CPU', 1]])), lifetime });
}
