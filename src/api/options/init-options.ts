/**
 * Options of `init()` (Ray's `ray.init`): where to connect and how that connection is secured,
 * the job's namespace and runtime env, and the resources of the embedded default node.
 */
import { RESOURCE_OPTIONS, type ResourceOptionFields } from './common-options';
import { optionTypeError, quotedName, type OptionName } from './option-name';
import { normalizeOptionBag, option, type SnakeNamesOf, type WithSnakeAliases } from './option-table';
import { checkRuntimeEnvOption, type RuntimeEnv, type RuntimeEnvOptions } from './runtime-env';
import { checkBoolean, checkNonEmptyString, oneOf } from './value-checks';
import { redactAddress, type Transport } from '../../transport/transport';
import { isTransportAddress, registeredSchemes } from '../../transport/transport-registry';

import { LOG_LEVELS, type LogLevel } from '../../util/logger';
import { resolveDashboardOption, type DashboardOptions } from '../../dashboard/dashboard-options';

export type { LogLevel } from '../../util/logger';

/** `init` options with camelCase keys; `Env` is the runtime env shape (input or normalized). */
export interface InitOptionFields<Env> extends ResourceOptionFields {
  /**
   * The cluster's bus: `amqp://`/`amqps://` (RabbitMQ), `nats://` (NATS JetStream), a scheme a
   * module registered with `registerTransport`, or a raybus/testing Cluster's `memory://` address.
   * Absent: start the embedded default.
   */
  readonly address?: string | null;
  /** A ready transport instance to join a cluster on (tests); instead of `address`. */
  readonly transport?: Transport | null;
  /** The job's namespace (named actors live in one). */
  readonly namespace?: string | null;
  /** Job-level runtime env; task-level fields override it. */
  readonly runtimeEnv?: Env | null;
  /** Calling `init` again is a no-op instead of an error. */
  readonly ignoreReinitError?: boolean | null;
  /** How much raybus itself says in this process (its messages and warnings; default 'info'). */
  readonly logLevel?: LogLevel | null;
  /** Print the output of this driver's tasks and actors here, prefixed (default true). */
  readonly logToDriver?: boolean | null;
  /**
   * The cluster key: every message on the bus is authenticated with it, and nodes refuse what
   * is not (`raybus keygen` makes one). Default: RAYBUS_CLUSTER_KEY.
   */
  readonly clusterKey?: string | null;
  /** Encrypt every message on the bus too (AES-256-GCM, key derived from the cluster key). */
  readonly encrypt?: boolean | null;
  /** Join a bus that is not on this machine without a cluster key (a warning at every start). */
  readonly insecure?: boolean | null;
  /** TLS (`amqps://`, NATS TLS): a PEM file of the certificate authorities to trust. Default: RAYBUS_CA_FILE. */
  readonly caFile?: string | null;
  /**
   * Serve the dashboard (and /metrics) from this process: `true` for 127.0.0.1:8265, or
   * `{ port, host, token }` (Ray's `include_dashboard`). Its URL is printed and returned.
   */
  readonly dashboard?: boolean | DashboardOptions | null;
}

/** Normalized, frozen `init` options: camelCase keys only, only those the user gave. */
export type NormalizedInitOptions = InitOptionFields<RuntimeEnv>;

const INIT_OPTIONS = {
  address: option('address', checkAddress),
  namespace: option('namespace', checkNonEmptyString),
  runtimeEnv: option('runtime_env', checkRuntimeEnvOption),
  ignoreReinitError: option('ignore_reinit_error', checkBoolean),
  logLevel: option('log_level', oneOf<LogLevel>([...LOG_LEVELS])),
  logToDriver: option('log_to_driver', checkBoolean),
  ...RESOURCE_OPTIONS,
  clusterKey: option('cluster_key', checkNonEmptyString),
  encrypt: option('encrypt', checkBoolean),
  insecure: option('insecure', checkBoolean),
  caFile: option('ca_file', checkNonEmptyString),
  transport: option('transport', checkTransport),
  dashboard: option('include_dashboard', checkDashboard),
} as const;

/** Options of `init()` as users write them: camelCase or snake_case (`ignore_reinit_error`, ...). */
export type InitOptions = WithSnakeAliases<InitOptionFields<RuntimeEnvOptions>, SnakeNamesOf<typeof INIT_OPTIONS>>;

/**
 * Validates `init()` options and returns a frozen object with camelCase keys.
 *
 * @example
 * normalizeInitOptions({ address: 'amqp://localhost', log_level: 'warn' });
 * // → { address: 'amqp://localhost', logLevel: 'warn' }
 */
export function normalizeInitOptions(input: unknown): NormalizedInitOptions {
  return Object.freeze(normalizeOptionBag(input, INIT_OPTIONS, { what: 'init', noun: 'option' }));
}

function checkAddress(value: unknown, name: OptionName): string {
  if (typeof value !== 'string') throw optionTypeError(name, 'string', value);
  // memory://<id> addresses a test Cluster on the in-process bus (raybus/testing).
  if (/^[a-z][a-z0-9+.-]*:\/\/./i.test(value) && (/^memory:/i.test(value) || isTransportAddress(value))) return value;
  throw new RangeError(
    `The option ${quotedName(name)} must be the URL of a cluster's bus, one of ${registeredSchemes()
      .map((s) => `${s}://`)
      .join(', ')} (register other schemes with registerTransport; leave it out to start the embedded default), ` +
      `but received '${redactAddress(value)}'`,
  );
}

function checkDashboard(value: unknown, name: OptionName): false | DashboardOptions {
  if (value === false) return false;
  return resolveDashboardOption(value, quotedName(name));
}

function checkTransport(value: unknown, name: OptionName): Transport {
  const t = value as Partial<Transport> | null;
  if (typeof t !== 'object' || t === null || typeof t.publish !== 'function' || typeof t.consume !== 'function' || typeof t.connect !== 'function') {
    throw optionTypeError(name, 'Transport (an object with connect, publish, consume, ...)', value);
  }
  return t as Transport;
}


