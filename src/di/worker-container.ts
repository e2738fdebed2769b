/**
 * The composition root of a worker process (forked by a node): its link to the node and its
 * CoreWorker. Apart from containers.ts so that a worker loads no broker, node or bus code.
 */
import type { DependencyContainer } from 'tsyringe';
import type { Clock } from '../util/clock';
import type { Transport } from '../transport/transport';
import type { BlockedNotices } from '../core/blocked-waits';
import type { NodeId, WorkerId } from '../protocol/ids';
import type { RuntimeEnv } from '../protocol/runtime-env';
import { childContainer, coreWorker, factory, registerCommon, value } from './container-parts';
import { CORE_WORKER, IDENTITY, RUNTIME_OPTIONS, TRANSPORT, type Identity } from './tokens';

/** Options of a worker process. */
export interface WorkerContainerOptions {
  readonly identity: Identity & { readonly procId: WorkerId; readonly nodeId: NodeId };
  /** The worker's link to its node (an IpcTransport). */
  readonly transport: Transport;
  readonly runtimeEnv?: RuntimeEnv;
  /** Where a task that waits in `get`/`wait` says so (its node lends the lease's CPU out meanwhile). */
  readonly blockedNotices?: BlockedNotices;
  readonly clock?: Clock;
}

/** A worker: its link to the node and its CoreWorker. */
export function createWorkerContainer(options: WorkerContainerOptions): DependencyContainer {
  const c = childContainer();
  registerCommon(c, options);
  value(c, RUNTIME_OPTIONS, options);
  value(c, IDENTITY, options.identity);
  value(c, TRANSPORT, options.transport);
  factory(c, CORE_WORKER, (k) =>
    coreWorker(k, { isDriver: false, runtimeEnv: options.runtimeEnv ?? null, ...(options.blockedNotices ? { blockedNotices: options.blockedNotices } : {}) }),
  );
  return c;
}

