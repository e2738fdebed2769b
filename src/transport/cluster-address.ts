/**
 * Cluster addresses: `<scheme>://…` of a registered transport (`amqp://user:pass@host:5672/vhost`,
 * `nats://host:4222`), optionally with `?cluster=<name>`, which puts every raybus queue and
 * topic of that cluster under the prefix `<name>:` so that several clusters (test clusters,
 * say) share one broker without seeing each other.
 */

/** A parsed broker address. */
export interface ClusterAddress {
  /** What the broker adapter connects to (the `cluster` parameter removed). */
  readonly brokerUrl: string;
  /** Queue and topic name prefix (`<name>:`), or '' for the vhost's one cluster. */
  readonly prefix: string;
  /** The address with its password hidden, for messages. */
  readonly display: string;
}

import { redactAddress } from './transport';

const CLUSTER_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

/**
 * @example
 * parseClusterAddress('amqp://guest:guest@127.0.0.1:5672/?cluster=t1').prefix; // 't1:'
 */
export function parseClusterAddress(address: string): ClusterAddress {
  let url: URL;
  try {
    url = new URL(address);
  } catch {
    throw new RangeError(`raybus: '${redactAddress(address)}' is not a valid cluster address (<scheme>://host...)`);
  }
  const name = url.searchParams.get('cluster');
  if (name !== null && !CLUSTER_NAME.test(name)) {
    throw new RangeError(`raybus: the cluster name '${name}' in the address must be 1-64 letters, digits, '_', '.' or '-'`);
  }
  url.searchParams.delete('cluster');
  return { brokerUrl: url.toString(), prefix: name ? `${name}:` : '', display: redactAddress(address) };
}

export { redactAddress } from './transport';
