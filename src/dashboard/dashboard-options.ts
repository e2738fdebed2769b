/**
 * The dashboard's options (`init({ dashboard })`, `raybus dashboard`): where it listens and the
 * token it asks for. Misuse throws synchronously, naming the option.
 */

/** Where the dashboard listens and what it asks of a browser. */
export interface DashboardOptions {
  /** TCP port (default 8265, Ray's; 0 picks a free one). */
  readonly port?: number;
  /** Interface to bind (default 127.0.0.1: this machine only). */
  readonly host?: string;
  /**
   * Required of every request (`Authorization: Bearer <token>`, or `?token=` once in a
   * browser). Bound to any other host than loopback, the dashboard asks for it — or for the
   * cluster key when no token is given — and refuses to start with neither.
   */
  readonly token?: string;
}

/** Ray's dashboard port. */
const DEFAULT_DASHBOARD_PORT = 8265;
const DEFAULT_DASHBOARD_HOST = '127.0.0.1';

const NAMES = ['port', 'host', 'token'];

/**
 * `dashboard` as `init` takes it: `true` (the defaults), `false`/absent (none), or options.
 * `what` names the option in messages (`dashboard`).
 *
 * @example
 * resolveDashboardOption({ port: 0 }, "'dashboard'"); // → { port: 0, host: '127.0.0.1' }
 */
export function resolveDashboardOption(value: unknown, what: string): Required<Pick<DashboardOptions, 'port' | 'host'>> & Pick<DashboardOptions, 'token'> {
  if (value === true) return { port: DEFAULT_DASHBOARD_PORT, host: DEFAULT_DASHBOARD_HOST };
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new TypeError(`The option ${what} must be true, false or an object { port, host, token }, but received ${describe(value)}`);
  }
  const o = value as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    if (!NAMES.includes(k)) throw new TypeError(`The option ${what} has no field '${k}'. Valid fields: ${NAMES.join(', ')}`);
  }
  const port = o.port ?? DEFAULT_DASHBOARD_PORT;
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new RangeError(`The option ${what}.port must be an integer from 0 to 65535 (0: any free port), but received ${describe(o.port)}`);
  }
  const host = o.host ?? DEFAULT_DASHBOARD_HOST;
  if (typeof host !== 'string' || host.length === 0 || host.length > 255 || /\s/.test(host)) {
    throw new TypeError(`The option ${what}.host must be a host name or address, but received ${describe(o.host)}`);
  }
  if (o.token !== undefined && o.token !== null && (typeof o.token !== 'string' || o.token.length === 0 || o.token.length > 1024)) {
    throw new TypeError(`The option ${what}.token must be a non-empty string, but received ${describe(o.token)}`);
  }
  return { port, host, ...(typeof o.token === 'string' ? { token: o.token } : {}) };
}

/** True for an address only this machine can reach. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d+\.\d+\.\d+$/.test(h);
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return `'${v.length > 40 ? `${v.slice(0, 40)}…` : v}'`;
  if (typeof v === 'object') return 'an object';
  return `${typeof v} ${String(v)}`;
}
