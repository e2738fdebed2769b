/**
 * raybus: Ray Core's programming model for TypeScript on Node.js.
 *
 * @example
 * import ray from 'raybus';
 * await ray.init();
 * const add = ray.remote((a: number, b: number) => a + b);
 * console.log(await ray.get(add.remote(1, 2)));
 * await ray.shutdown();
 */
import { init, shutdown, isInitialized } from './api/init';
import { remote, method } from './api/remote';
import {
  get,
  put,
  wait,
  kill,
  cancel,
  getActor,
  exitActor,
  getGpuIds,
  getRuntimeContext,
  clusterResources,
  availableResources,
  nodes,
} from './api/core-api';
import { ObjectRef } from './refs/object-ref';
import { ObjectRefGenerator } from './refs/object-ref-generator';
import { NodeAffinitySchedulingStrategy, PlacementGroupSchedulingStrategy } from './api/scheduling-strategy';
import {
  RayError,
  RayTaskError,
  RayActorError,
  ActorDiedError,
  ActorUnavailableError,
  WorkerCrashedError,
  TaskCancelledError,
  GetTimeoutError,
  ObjectLostError,
  OwnerDiedError,
  TaskUnschedulableError,
  ActorUnschedulableError,
  RuntimeEnvSetupError,
  PendingCallsLimitExceeded,
  RayValueError,
  RaySystemError,
} from './errors/ray-errors';
import { slot } from './core/runtime-state';
import { accelerators } from './api/accelerators';
import { PlacementGroup, placementGroup, removePlacementGroup, placementGroupTable } from './api/placement-group';
import { registerTransport, createTransport } from './transport/transport-registry';
import { state, timeline } from './api/state-api';

export { init, shutdown, isInitialized, remote, method, get, put, wait, kill, cancel, getActor, exitActor, getGpuIds, getRuntimeContext };
export { ObjectRefGenerator } from './refs/object-ref-generator';
export { clusterResources, availableResources, nodes, ObjectRef, NodeAffinitySchedulingStrategy, PlacementGroupSchedulingStrategy };
export {
  RayError,
  RayTaskError,
  RayActorError,
  ActorDiedError,
  ActorUnavailableError,
  WorkerCrashedError,
  TaskCancelledError,
  GetTimeoutError,
  ObjectLostError,
  OwnerDiedError,
  TaskUnschedulableError,
  ActorUnschedulableError,
  RuntimeEnvSetupError,
  PendingCallsLimitExceeded,
  RayValueError,
  RaySystemError,
};
export type { RuntimeInfo } from './api/init';
export type { GetOptions, WaitOptions, RuntimeContext, CancelOptions } from './api/core-api';
export type { RemoteFunction, ActorClass, ActorHandle, ActorMethod, RefOr, RemoteArgs } from './api/types';
export type { RemoteFunctionOptions, ActorClassOptions, ActorMethodOptions, InitOptions, RuntimeEnvOptions } from './api/options';
export type { SchedulingStrategy } from './api/scheduling-strategy';
export { registerTransport, createTransport, registeredSchemes } from './transport/transport-registry';
export { FULL_CAPABILITIES, NO_SUCH_QUEUE, isNoSuchQueue, capabilitiesOf } from './transport/transport';
export type {
  Transport,
  TransportFactory,
  TransportOptions,
  TransportCapabilities,
  TransportLease,
  TransportStatus,
  Delivery,
  MessageHeaders,
  QueueOptions,
  PublishOptions,
  ConsumeOptions,
  Subscription,
  QueueInspection,
} from './transport/transport';

/** `ray.util`: accelerator names, placement groups, and the state API (`ray.util.state`). */
export const util = { accelerators, placementGroup, removePlacementGroup, placementGroupTable, PlacementGroup, state };
export { timeline };
export type { ListOptions, ListResult } from './api/state-api';
export type {
  TaskItem,
  TaskState,
  TaskType,
  ActorItem,
  ActorState,
  ActorDeathReason,
  NodeItem,
  NodeState,
  WorkerItem,
  ObjectItem,
  ObjectReferenceType,
  PlacementGroupItem,
  StateFilter,
  TaskSummary,
  TaskSummaryEntry,
  ActorSummary,
  TimelineEvent,
} from './protocol/state';
export type { ChromeTraceEvent, ChromeTrace } from './observability/chrome-trace';
export type { LogLevel } from './util/logger';
export { PlacementGroup, placementGroup, removePlacementGroup, placementGroupTable };
export type { PlacementGroupOptions } from './api/placement-group';

/** The whole API as one object: `import ray from 'raybus'`. */
const ray = {
  init,
  shutdown,
  isInitialized,
  remote,
  method,
  get,
  put,
  wait,
  kill,
  cancel,
  getActor,
  exitActor,
  getGpuIds,
  getRuntimeContext,
  clusterResources,
  availableResources,
  nodes,
  registerTransport,
  createTransport,
  timeline,
  util,
  ObjectRef,
  ObjectRefGenerator,
  NodeAffinitySchedulingStrategy,
  PlacementGroupSchedulingStrategy,
  PlacementGroup,
  RayError,
  RayTaskError,
  RayActorError,
  ActorDiedError,
  ActorUnavailableError,
  WorkerCrashedError,
  TaskCancelledError,
  GetTimeoutError,
  ObjectLostError,
  OwnerDiedError,
  TaskUnschedulableError,
  ActorUnschedulableError,
  RuntimeEnvSetupError,
  PendingCallsLimitExceeded,
  RayValueError,
  RaySystemError,
};
slot.api ??= ray;
export default ray;
