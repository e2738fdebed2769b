/**
 * Option table rows shared by several kinds of options, and the resource fields they share.
 */
import type { SchedulingStrategy } from '../scheduling-strategy';
import { option } from './option-table';
import {
  checkAcceleratorType,
  checkGpuQuantity,
  checkResources,
  checkResourceQuantity,
  type ResourceQuantities,
} from './resource-checks';
import { checkRuntimeEnvOption } from './runtime-env';
import {
  checkBackpressure,
  checkCountWithInfinity,
  checkMetadata,
  checkNumReturns,
  checkRetryExceptions,
  checkSchedulingStrategy,
  type OptionMetadata,
} from './value-checks';

/** Resource requests shared by tasks, actors and `init` (where they describe the local node). */
export interface ResourceOptionFields {
  /** Logical CPUs (tasks default to 1; actors: see `resolveActorResources`). */
  readonly numCpus?: number | null;
  /** Logical GPUs; fractions below 1 share one GPU, above 1 must be whole. */
  readonly numGpus?: number | null;
  /** Logical heap memory in bytes (rounded down); a reservation, not a limit. */
  readonly memory?: number | null;
  /** Custom resources, e.g. `{ disk: 1 }`; not CPU, GPU, memory, object_store_memory or bundle. */
  readonly resources?: ResourceQuantities | null;
  /** Accelerator type, e.g. `'A100'`; asks for resource `accelerator_type:A100` (0.001). */
  readonly acceleratorType?: string | null;
}

/** Placement and environment fields shared by tasks and actors. */
export interface PlacementOptionFields<Env> {
  /** Runtime environment of the worker (task-level fields override job-level ones). */
  readonly runtimeEnv?: Env | null;
  /** `'DEFAULT'`, `'SPREAD'`, or a NodeAffinity / PlacementGroup strategy instance. */
  readonly schedulingStrategy?: SchedulingStrategy | null;
  /** Opaque library metadata; `.options()` merges it per top-level key. */
  readonly _metadata?: OptionMetadata | null;
}

/** Rows for {@link ResourceOptionFields}. */
export const RESOURCE_OPTIONS = {
  numCpus: option('num_cpus', checkResourceQuantity),
  numGpus: option('num_gpus', checkGpuQuantity),
  memory: option('memory', checkResourceQuantity),
  resources: option('resources', checkResources),
  acceleratorType: option('accelerator_type', checkAcceleratorType),
} as const;

/** Rows for {@link PlacementOptionFields}. */
export const PLACEMENT_OPTIONS = {
  runtimeEnv: option('runtime_env', checkRuntimeEnvOption),
  schedulingStrategy: option('scheduling_strategy', checkSchedulingStrategy),
  _metadata: option('_metadata', checkMetadata),
} as const;

/** Rows shared by remote functions and actor methods. */
export const CALL_OPTIONS = {
  numReturns: option('num_returns', checkNumReturns),
  retryExceptions: option('retry_exceptions', checkRetryExceptions),
  backpressure: option('_generator_backpressure_num_objects', checkBackpressure),
} as const;

/** `maxTaskRetries`, shared by actors and actor methods. */
export const MAX_TASK_RETRIES_OPTION = option('max_task_retries', checkCountWithInfinity);
