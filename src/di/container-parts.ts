/**
 * What every composition root (containers.ts, worker-container.ts) is made of: a child
 * container of its own, registrations as values or cached factories, and the parts every
 * runtime registers. Kept apart so that a worker process's root loads none of the others'
 * modules (broker, node, in-memory bus).
 */
import 'reflect-metadata';
import { container as rootContainer, instanceCachingFactory, type DependencyContainer } from 'tsyringe';
import { systemClock, type Clock } from '../util/clock';
import { serializer } from '../serialization/serializer';
import { capabilitiesOf, type TransportCapabilities } from '../transport/transport';
import { CoreWorker } from '../core/core-worker';
import type { BlockedNotices } from '../core/blocked-waits';
import type { RuntimeEnv } from '../protocol/runtime-env';
import { logger } from '../util/logger';
import { CAPABILITIES, CLOCK, IDENTITY, LOGGER, SERIALIZER, TRANSPORT, WARN, resolve, type Logger, type Token } from './tokens';

/** A fresh child of the root container: what one runtime registers stays its own. */
export function childContainer(): DependencyContainer {
  return rootContainer.createChildContainer();
}

export function value<T>(c: DependencyContainer, t: Token<T>, v: T): void {
  c.register<T>(t, { useValue: v });
}

export function factory<T>(c: DependencyContainer, t: Token<T>, make: (c: DependencyContainer) => T): void {
  c.register<T>(t, { useFactory: instanceCachingFactory<T>(make) });
}

/** What every container registers: time, warnings, the serializer and the bus's capabilities. */
export function registerCommon(c: DependencyContainer, options: { clock?: Clock; warn?: (m: string) => void; log?: Logger }): void {
  value(c, CLOCK, options.clock ?? systemClock);
  value(c, WARN, options.warn ?? ((m: string) => logger.warn(m)));
  value(c, LOGGER, options.log ?? (() => undefined));
  factory(c, CAPABILITIES, (k): TransportCapabilities => capabilitiesOf(resolve(k, TRANSPORT)));
  // An envelope is one message of the process's bus (values larger than that travel as blobs):
  // resolved once the transport is connected, since some learn their limit from their server.
  factory(c, SERIALIZER, (k) => {
    serializer.configure({ maxEnvelopeBytes: resolve(k, CAPABILITIES).maxMessageBytes });
    return serializer;
  });
}

export function coreWorker(
  c: DependencyContainer,
  extra: { isDriver: boolean; runtimeEnv?: RuntimeEnv | null; logToDriver?: boolean | null; blockedNotices?: BlockedNotices },
): CoreWorker {
  const id = resolve(c, IDENTITY);
  return new CoreWorker({
    procId: id.procId,
    transport: resolve(c, TRANSPORT),
    jobId: id.jobId,
    namespace: id.namespace,
    ...(id.nodeId ? { nodeId: id.nodeId } : {}),
    isDriver: extra.isDriver,
    clock: resolve(c, CLOCK),
    ...(extra.runtimeEnv ? { runtimeEnv: extra.runtimeEnv } : {}),
    ...(extra.logToDriver === false ? { logToDriver: false } : {}),
    ...(extra.blockedNotices ? { blockedNotices: extra.blockedNotices } : {}),
  });
}

