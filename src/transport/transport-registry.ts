/**
 * Which transport serves which address: `registerTransport(scheme, factory)` adds one, and
 * `createTransport(address)` builds the (unconnected) transport raybus uses for an address,
 * wrapped for the cluster it names (cluster-transport.ts). The built-in broker adapters are
 * registered the same way, lazily: `amqp://`/`amqps://` load `raybus/amqp` (peer dependency
 * amqplib) and `nats://` loads `raybus/nats` (peer dependencies @nats-io/transport-node and
 * @nats-io/jetstream) the first time such an address is used, so the embedded default loads
 * neither. The registry is shared by every copy of raybus in the process.
 */
import { processGlobal } from '../util/process-global';
import type { Transport, TransportFactory, TransportOptions } from './transport';
import { parseClusterAddress, redactAddress } from './cluster-address';
import { ClusterTransport } from './cluster-transport';

interface Registry {
  readonly factories: Map<string, TransportFactory>;
}

const registry = processGlobal<Registry>('transports', () => ({ factories: new Map() }));

const SCHEME = /^[a-z][a-z0-9+.-]*$/;
/** Schemes raybus handles itself, never through a transport factory. */
const RESERVED = new Set(['memory']);

/**
 * Make `init({ address: '<scheme>://…' })`, `raybus start --address <scheme>://…` and
 * `Cluster.start({ address })` use `factory` for that scheme. Registering a scheme again
 * replaces its factory.
 *
 * @example
 * import { registerTransport, createTransport } from 'raybus';
 * // A transport that counts what it publishes, over any other address.
 * registerTransport('counting', (address, options) => countingTransport(createTransport(address.replace('counting', 'amqp'), options)));
 */
export function registerTransport(scheme: string, factory: TransportFactory): void {
  if (typeof scheme !== 'string' || !SCHEME.test(scheme)) {
    throw new TypeError(`registerTransport: scheme must be a lowercase URL scheme without '://' (e.g. 'mybus'), got ${JSON.stringify(scheme)}`);
  }
  if (RESERVED.has(scheme)) throw new RangeError(`registerTransport: '${scheme}://' is raybus's own and cannot be replaced`);
  if (typeof factory !== 'function') throw new TypeError('registerTransport: factory must be a function (address, options) => Transport');
  registry.factories.set(scheme, factory);
}

/** The schemes a transport is registered for (built-in and user ones). */
export function registeredSchemes(): string[] {
  return [...new Set(['memory', ...BUILT_IN_SCHEMES, ...registry.factories.keys()])].sort();
}

/** True when `address` names a cluster on a transport (any registered scheme but `memory`). */
export function isTransportAddress(address: string): boolean {
  const scheme = schemeOf(address);
  return scheme !== undefined && scheme !== 'memory' && (registry.factories.has(scheme) || BUILT_IN_SCHEMES.includes(scheme));
}

/**
 * The transport raybus would use for `address`, not yet connected: the registered factory's
 * transport, wrapped so that queue and topic names carry the cluster's prefix
 * (`?cluster=<name>`) and queues are declared by the broker queue policy. Throws, listing
 * the registered schemes, for an address no transport serves.
 *
 * @example
 * const t = createTransport('amqp://guest:guest@127.0.0.1:5672/?cluster=dev', { connectionName: 'tool' });
 * await t.connect();
 */
export function createTransport(address: string, options: TransportOptions = {}): Transport {
  return createClusterTransport(address, options);
}

/**
 * {@link createTransport}, with `wrap` applied to the adapter's transport inside the cluster's
 * naming: a wrapper (the AuthTransport) then sees every queue and topic by its full name on
 * the bus, the cluster prefix included.
 */
export function createClusterTransport(address: string, options: TransportOptions, wrap: (inner: Transport) => Transport = (t) => t): Transport {
  const scheme = schemeOf(address);
  if (scheme === undefined) throw new RangeError(`raybus: '${redactAddress(String(address))}' is not a URL (expected <scheme>://...)`);
  const factory = registry.factories.get(scheme) ?? builtIn(scheme);
  if (!factory) {
    throw new RangeError(
      `raybus: no transport is registered for '${scheme}://' (address '${redactAddress(address)}'); registered: ${registeredSchemes()
        .map((s) => `${s}://`)
        .join(', ')}. Register one with registerTransport('${scheme}', factory), or pass --import <module> to raybus start.`,
    );
  }
  const parsed = parseClusterAddress(address);
  const inner = factory(parsed.brokerUrl, options);
  if (!inner || typeof inner.publish !== 'function') throw new TypeError(`raybus: the transport factory for '${scheme}://' did not return a Transport`);
  return new ClusterTransport(wrap(inner), parsed);
}

function schemeOf(address: string): string | undefined {
  const m = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(String(address));
  return m ? m[1]!.toLowerCase() : undefined;
}

// ------------------------------------------------------------------ built-in adapters

interface BuiltIn {
  readonly module: string;
  readonly export: string;
  /** Peer dependencies the adapter needs, for the message when one is missing. */
  readonly peers: readonly string[];
  /** raybus's transport options in the adapter's own terms (default: as they are). */
  readonly adapt?: (options: TransportOptions) => Record<string, unknown>;
}

/**
 * The NATS client waits a fixed time between reconnection attempts (no backoff): raybus's
 * longest delay bounds that wait.
 */
function natsOptions(options: TransportOptions): Record<string, unknown> {
  const { maxDelayMs, ...rest } = options;
  return maxDelayMs === undefined ? rest : { ...rest, reconnectTimeWaitMs: Math.min(500, maxDelayMs) };
}

const BUILT_INS: Record<string, BuiltIn> = {
  amqp: { module: 'raybus/amqp', export: 'createAmqpTransport', peers: ['amqplib'] },
  amqps: { module: 'raybus/amqp', export: 'createAmqpTransport', peers: ['amqplib'] },
  nats: { module: 'raybus/nats', export: 'createNatsTransport', peers: ['@nats-io/transport-node', '@nats-io/jetstream'], adapt: natsOptions },
};
const BUILT_IN_SCHEMES = Object.keys(BUILT_INS);

/** The factory of a built-in adapter, loaded now (undefined for other schemes). */
function builtIn(scheme: string): TransportFactory | undefined {
  const b = BUILT_INS[scheme];
  if (!b) return undefined;
  let mod: Record<string, unknown>;
  try {
    // The package's own public entry (its `exports` map), as a user's adapter would be loaded.
    mod = require(b.module) as Record<string, unknown>;
  } catch (err) {
    const missing = missingPeer(err, b.peers);
    if (missing) {
      throw new Error(`raybus: ${scheme}:// addresses need the ${missing} package, which is not installed: npm install ${b.peers.join(' ')}`);
    }
    throw err;
  }
  const create = mod[b.export] as ((address: string, options: unknown) => Transport) | undefined;
  if (typeof create !== 'function') throw new Error(`raybus: ${b.module} does not export ${b.export}`);
  const adapt = b.adapt;
  const factory: TransportFactory = (address, options) => create(address, adapt ? adapt(options) : options);
  registry.factories.set(scheme, factory);
  return factory;
}

function missingPeer(err: unknown, peers: readonly string[]): string | undefined {
  const e = err as { code?: unknown; message?: unknown };
  if (e?.code !== 'MODULE_NOT_FOUND' || typeof e.message !== 'string') return undefined;
  return peers.find((p) => (e.message as string).includes(`'${p}'`));
}
