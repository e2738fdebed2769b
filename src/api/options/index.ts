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
  type NumReturns,
  type ErrorClass,
  type RetryExceptions,
  type OptionMetadata,
  type ActorIsolation,
  type ActorLifetime,
} from './value-checks';
export type { WithSnakeAliases } from './option-table';
export {
  DEFAULT_TASK_MAX_RETRIES,
} from './defaults';
