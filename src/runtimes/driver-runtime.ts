/**
 * `init({ address: 'amqp://...' })`: this process joins a cluster on a broker as a driver. It
 * opens one broker connection, starts its CoreWorker on it, keeps an owner session with the
 * broker leader (presence, failover; see owner-session.ts) and signs code shipped by value
 * with the cluster key. There is no local broker or node: work runs on `raybus start` nodes.
 */
import { randomBytes } from 'node:crypto';
import { driverProcId, newJobId, type JobId } from '../protocol/ids';
import { CoreWorker } from '../core/core-worker';
import { OwnerSession } from '../core/owner-session';
import { BROKER_QUEUE } from '../protocol/queues';
import type { ClusterInfoMsg } from '../protocol/messages/reply';
import type { ClusterInfo } from '../protocol/wire';
import { RaySystemError } from '../errors/ray-errors';
import { CLUSTER_KEY_VAR, setClusterKey } from '../serialization/code-shipping';
import { parseClusterAddress } from '../transport/cluster-address';
import { openClusterTransport } from './open-transport';
import type { Transport } from '../transport/transport';
import type { RuntimeEnv } from '../protocol/runtime-env';
import { clusterKeyFor } from './cluster-keys';

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
  /** A ready transport to use instead of opening one for `address` (tests). */
  readonly transport?: Transport;
  /** Called with the CoreWorker once it is usable (installs it as this process's runtime). */
  readonly install: (core: CoreWorker, jobId: JobId, namespace: string) => void;
}

/** Connect, start the driver's runtime, and wait until the broker leader answers. */
export async function joinBrokerCluster(address: string, options: JoinOptions): Promise<JoinedCluster> {
  const parsed = parseClusterAddress(address);
  // The key given to init, else that of a test Cluster at this address, else the environment's.
  setClusterKey(options.clusterKey ?? clusterKeyFor(address) ?? (process.env[CLUSTER_KEY_VAR] || undefined));
  const jobId = newJobId();
  const namespace = options.namespace ?? `anonymous-${jobId}`;
  const transport = options.transport ?? openClusterTransport(address, {
    connectionName: `raybus driver pid ${process.pid}`,
    // Refused or unreachable: a clear error within seconds, after a few spaced attempts.
    connectAttempts: 4,
    connectTimeoutMs: 3000,
  });
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
  let timer: NodeJS.Timeout | undefined;
  const answered = core.request<ClusterInfoMsg>(BROKER_QUEUE, (req, reply) => ({ t: 'cluster-info-request', req, reply }));
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new RaySystemError(
            `raybus: the broker at ${display} answers, but no raybus cluster does (no broker leader replied within ${timeoutMs} ms). ` +
              'Start nodes with `raybus start --address <address>`.',
          ),
        ),
      timeoutMs,
    );
  });
  try {
    return (await Promise.race([answered, timedOut])).info;
  } finally {
    clearTimeout(timer);
  }
}
