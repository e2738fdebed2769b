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
import { CoreWorker } from '../core/core-worker';
import { OwnerSession } from '../core/owner-session';
import { BROKER_QUEUE } from '../protocol/queues';
import type { ClusterInfoMsg } from '../protocol/messages/reply';
import { RaySystemError } from '../errors/ray-errors';
import { parseClusterAddress } from '../transport/cluster-address';
import { openClusterTransport } from './open-transport';
import type { Transport } from '../transport/transport';
import type { RuntimeEnv } from '../protocol/runtime-env';
import { clusterSettingsFor } from './cluster-keys';
import { CLUSTER_KEY_VAR, checkClusterSecurity } from './cluster-security';

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
  let transport = options.transport;
  if (!transport) {
    const warning = checkClusterSecurity(address, security);
    if (warning && options.insecure) logger.warn(warning);
    transport = openClusterTransport(address, {
      connectionName: `raybus driver pid ${process.pid}`,
      // Refused or unreachable: a clear error within seconds, after a few spaced attempts.
      connectAttempts: 4,
      connectTimeoutMs: 3000,
      ...(caFile ? { caFile } : {}),
      // The driver's CoreWorker holds the process while work is outstanding; an idle connection does not.
      keepAlive: false,
      ...security,
    });
  }
  try {
    await transport.connect();
  } catch (err) {
    const message = (err as Error).message;
    const hint = /ACCESS.REFUSED/i.test(message) ? ' (the broker refused the user name or password)' : '';
    throw new RaySystemError(`raybus: cannot join the cluster at ${parsed.display}${hint}: ${message}`);
  }
  const core = new CoreWorker({
    procId: driverProcId(jobId, randomBytes(3).toString('hex')),
    transport,
    jobId,
    namespace,
    isDriver: true,
    ...(options.runtimeEnv ? { runtimeEnv: options.runtimeEnv } : {}),
    ...(options.logToDriver === false ? { logToDriver: false } : {}),
  });
  const session = new OwnerSession(
    { address: core.address, presence: core.options.procId, get isClosed() { return core.isClosed; }, resyncLeases: () => core.submitter.resync() },
    transport,
    core.clock,
  );
  try {
    await transport.assertQueue(BROKER_QUEUE, { durable: true, singleActiveConsumer: true });
    await core.start();
    options.install(core, jobId, namespace);
    await session.start();
    await waitForLeader(core, parsed.display);
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

async function waitForLeader(core: CoreWorker, display: string): Promise<void> {
  const timeoutMs = Number(process.env.RAYBUS_JOIN_TIMEOUT_MS) || DEFAULT_JOIN_TIMEOUT_MS;
  let timer: NodeJS.Timeout | undefined;
  const answered = core.request<ClusterInfoMsg>(BROKER_QUEUE, (req, reply) => ({ t: 'cluster-info-request', req, reply }));
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(
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
    await Promise.race([answered, timedOut]);
  } finally {
    clearTimeout(timer);
  }
}
