/**
 * Option normalization and validation for remote functions, actors, actor methods, `init`
 * and runtime envs: pure functions, no I/O.
 */
export {
  normalizeTaskOptions,
  mergeTaskOptions,
  type TaskOptions,
  type TaskOptionFields,
  type RemoteFunctionOptions,
} from './task-options';
export {
  normalizeActorOptions,
  mergeActorOptions,
  type ActorOptions,
  type ActorOptionFields,
  type ActorClassOptions,
} from './actor-options';
export {
  normalizeMethodOptions,
  mergeMethodOptions,
  type MethodOptions,
  type ActorMethodOptions,
} from './method-options';
export {
  normalizeInitOptions,
  type InitOptions,
  type InitOptionFields,
  type NormalizedInitOptions,
  type LogLevel,
} from './init-options';
export { normalizeRuntimeEnv, mergeRuntimeEnv, type RuntimeEnv, type RuntimeEnvOptions } from './runtime-env';
export { mergeMetadata } from './merge-options';
export {
  resolveTaskResources,
  resolveActorResources,
  type ResourceSet,
  type ActorResources,
} from './resource-resolution';
export { validateNumReturnsFor, resolveNumReturns } from './num-returns';
export type { ResourceOptionFields, PlacementOptionFields } from './common-options';
export type { ResourceQuantities } from './resource-checks';
export {
  isErrorClass,
  type NumReturns,
  type ErrorClass,
  type RetryExceptions,
  type OptionMetadata,
  type ActorLifetime,
} from './value-checks';
export type { WithSnakeAliases } from './option-table';
export {
  DEFAULT_TASK_MAX_RETRIES,
  DEFAULT_TASK_NUM_CPUS,
  DEFAULT_ACTOR_MAX_RESTARTS,
  DEFAULT_ACTOR_MAX_TASK_RETRIES,
  DEFAULT_MAX_CONCURRENCY_ASYNC,
  DEFAULT_MAX_CONCURRENCY_SYNC,
  DEFAULT_MAX_PENDING_CALLS,
  RESOURCE_UNIT_SCALING,
  ACCELERATOR_TYPE_RESOURCE_PREFIX,
  ACCELERATOR_TYPE_REQUEST_QUANTITY,
} from './defaults';
