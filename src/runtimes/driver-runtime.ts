/**
 * `init({ address: 'amqp://...' })`: this process joins a cluster on a broker as a driver. It
 * opens one broker connection — every message on it authenticated with the cluster key, when
 * there is one (open-transport.ts) — starts its CoreWorker on it and keeps an owner session
 * with the broker leader (presence, failover; see owner-session.ts). There is no local broker
 * or node: work runs on `raybus start` nodes.
 */
import { logger } from '../util/logger';
import { randomBytes } from 'node:crypto';
import { driverProcId, newJobId, type JobId } from '../protocol/ids';
import type { CoreWorker } from '../core/core-worker';
import type { OwnerSession } from '../core/owner-session';
import { BROKER_QUEUE } from '../protocol/queues';
import type { ClusterInfoMsg } from '../protocol/messages/reply';
import type { ClusterInfo } from '../protocol/wire';
import { RaySystemError } from '../errors/ray-errors';
import { parseClusterAddress } from '../transport/cluster-address';
import { openClusterTransport } from './open-transport';
import type { Transport } from '../transport/transport';
import { brokerQueueDeclaration } from '../transport/queue-policy';
import type { RuntimeEnv } from '../protocol/runtime-env';
import type { Clock, Timer } from '../util/clock';
import { clusterSettingsFor } from './cluster-keys';
import { CLUSTER_KEY_VAR, checkClusterSecurity } from './cluster-security';
import { createDriverContainer } from '../di/containers';
import { CORE_WORKER, OWNER_SESSION, SERIALIZER, TRANSPORT, resolve } from '../di/tokens';

/** How long `init` waits for a broker leader to answer (ms); RAYBUS_JOIN_TIMEOUT_MS overrides. */
const DEFAULT_JOIN_TIMEOUT_MS = 15_000;

/** A driver's membership of a cluster on a broker. */
export interface JoinedCluster {
  readonly core: CoreWorker;
  readonly transport: Transport;
  readonly session: OwnerSession;
  readonly address: string;
}

export interface JoinOptions {
  readonly namespace?: string | null;
  readonly runtimeEnv?: RuntimeEnv | null;
  readonly clusterKey?: string | null;
  /** Encrypt every message (AES-256-GCM; needs the key). */
  readonly encrypt?: boolean | null;
  /** Join without a key a bus that is not on this machine. */
  readonly insecure?: boolean | null;
  /** TLS (`amqps://`): a PEM file of the certificate authorities to trust. */
  readonly caFile?: string | null;
  /** Print the output of this driver's work here (default true). */
  readonly logToDriver?: boolean | null;
  /** A ready transport to use instead of opening one for `address` (tests). */
  readonly transport?: Transport;
  /** Called with the CoreWorker once it is usable (installs it as this process's runtime). */
  readonly install: (core: CoreWorker, jobId: JobId, namespace: string) => void;
  /** Every timer of the driver (default: real time). */
  readonly clock?: Clock;
}

/** Connect, start the driver's runtime, and wait until the broker leader answers. */
export async function joinBrokerCluster(address: string, options: JoinOptions): Promise<JoinedCluster> {
  const parsed = parseClusterAddress(address);
  // What init was given, else what a test Cluster at this address uses, else the environment's.
  const known = clusterSettingsFor(address);
  const clusterKey = options.clusterKey ?? known?.clusterKey ?? (process.env[CLUSTER_KEY_VAR] || undefined);
  const encrypt = options.encrypt ?? known?.encrypt ?? false;
  const caFile = options.caFile ?? known?.caFile ?? (process.env.RAYBUS_CA_FILE || undefined);
  const security = { ...(clusterKey ? { clusterKey } : {}), ...(encrypt ? { encrypt } : {}), ...(options.insecure ? { insecure: true } : {}) };
  const jobId = newJobId();
  const namespace = options.namespace ?? `anonymous-${jobId}`;
  if (!options.transport) {
    const warning = checkClusterSecurity(address, security);
    if (warning && options.insecure) logger.warn(warning);
  }
  const c = createDriverContainer({
    identity: { procId: driverProcId(jobId, randomBytes(3).toString('hex')), jobId, namespace },
    open: (o) => openClusterTransport(address, { ...o, ...(caFile ? { caFile } : {}), ...security }),
    ...(options.transport ? { transport: options.transport } : {}),
    session: true,
    ...(options.runtimeEnv ? { runtimeEnv: options.runtimeEnv } : {}),
    ...(options.logToDriver === false ? { logToDriver: false } : {}),
    ...(options.clock ? { clock: options.clock } : {}),
  });
  const transport = resolve(c, TRANSPORT);
  try {
    await transport.connect();
  } catch (err) {
    const message = (err as Error).message;
    // RabbitMQ says ACCESS_REFUSED; the NATS adapter already says it in words.
    const hint = /ACCESS.REFUSED/i.test(message) ? ' (the broker refused the user name or password)' : '';
    throw new RaySystemError(`raybus: cannot join the cluster at ${parsed.display}${hint}: ${message}`);
  }
  resolve(c, SERIALIZER);
  const core = resolve(c, CORE_WORKER);
  const session = resolve(c, OWNER_SESSION);
  try {
    await transport.assertQueue(BROKER_QUEUE, brokerQueueDeclaration(transport));
    await core.start();
    options.install(core, jobId, namespace);
    await session.start();
    const info = await waitForLeader(core, parsed.display);
    // This driver runs on no node: its DEFAULT work packs on one node, the same every time.
    core.submitter.setHomeNode(info.nodes.find((n) => n.alive)?.nodeId);
  } catch (err) {
    await core.stop().catch(() => undefined);
    await transport.close().catch(() => undefined);
    throw err;
  }
  return { core, transport, session, address };
}

/** Leave the cluster: the broker is told at once, then the connection closes. */
export async function leaveBrokerCluster(joined: JoinedCluster, reason: string): Promise<void> {
  await joined.session.exit();
  await joined.core.stop(reason);
  await joined.transport.close();
}

async function waitForLeader(core: CoreWorker, display: string): Promise<ClusterInfo> {
  const timeoutMs = Number(process.env.RAYBUS_JOIN_TIMEOUT_MS) || DEFAULT_JOIN_TIMEOUT_MS;
  let timer: Timer | undefined;
  const answered = core.request<ClusterInfoMsg>(BROKER_QUEUE, (req, reply) => ({ t: 'cluster-info-request', req, reply }));
  const timedOut = new Promise<never>((_, reject) => {
    timer = core.clock.setTimeout(
      () =>
        reject(
          new RaySystemError(
            `raybus: the broker at ${display} answers, but no raybus cluster does (no broker leader replied within ${timeoutMs} ms). ` +
              'Start nodes with `raybus start --address <address>`; if they run, this driver may not have their cluster key ' +
              '(messages with another key, or none, are refused): give it the same key (clusterKey, RAYBUS_CLUSTER_KEY) and encrypt setting.',
          ),
        ),
      timeoutMs,
    );
  });
  try {
    return (await Promise.race([answered, timedOut])).info;
  } finally {
    core.clock.clear(timer);
  }
}
