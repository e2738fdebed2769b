/**
 * How a process of a cluster on a bus is secured: the cluster key every message is
 * authenticated with (transport/auth-transport.ts), optional encryption, the CA file of a TLS
 * broker, and the rule that a key is the default on a network — a driver, node or tool whose
 * bus is not on this machine refuses to start without a key unless told `insecure`.
 */
import { RaySystemError } from '../errors/ray-errors';
import { parseClusterAddress } from '../transport/cluster-address';

/** Security settings of one process's connections to a cluster. */
export interface ClusterSecurity {
  /** The cluster key (every message sealed and checked with it); absent: unauthenticated. */
  readonly clusterKey?: string;
  /** Encrypt every message too (AES-256-GCM, with a key derived from the cluster key). */
  readonly encrypt?: boolean;
  /** Run without a key on a bus that is not on this machine (a warning at every start). */
  readonly insecure?: boolean;
}

export { CLUSTER_KEY_VAR } from '../protocol/worker-process';

const LOOPBACK_V4 = /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/;

/** True when `address`'s host is this machine: 127.0.0.0/8, ::1 or localhost. */
export function isLoopbackAddress(address: string): boolean {
  let host: string;
  try {
    host = new URL(parseClusterAddress(address).brokerUrl).hostname.toLowerCase();
  } catch {
    return false;
  }
  host = host.replace(/^\[|\]$/g, '');
  return host === 'localhost' || host === '::1' || LOOPBACK_V4.test(host);
}

/**
 * Check the network rule for a process about to connect to `address`; throws RaySystemError
 * when it has no key, is not `insecure`, and the bus is not on this machine. Returns the
 * warning to print at start (running without a key), or undefined.
 */
export function checkClusterSecurity(address: string, security: ClusterSecurity): string | undefined {
  if (security.encrypt && !security.clusterKey) {
    throw new RaySystemError('raybus: encrypt needs a cluster key (the encryption key is derived from it): give clusterKey (RAYBUS_CLUSTER_KEY, --cluster-key-file)');
  }
  if (security.clusterKey) return undefined;
  const { display } = parseClusterAddress(address);
  if (isLoopbackAddress(address)) {
    return `raybus: no cluster key: messages on ${display} are not authenticated (anyone with access to the broker can run code on this cluster's nodes); fine on one machine, use a key (raybus keygen) elsewhere`;
  }
  if (!security.insecure) {
    throw new RaySystemError(
      `raybus: refusing to connect to ${display} without a cluster key: the broker is not on this machine, so anyone who can reach it ` +
        'could run code on the cluster and forge its messages. Give every driver and node the same key (init({ clusterKey }) or ' +
        'RAYBUS_CLUSTER_KEY; raybus start --cluster-key-file FILE; make one with `raybus keygen`), or pass insecure: true (--insecure) to run without one.',
    );
  }
  return `raybus: WARNING: insecure: running without a cluster key on ${display}: anyone who can reach the broker can run code on this cluster and forge its messages`;
}
