/**
 * Argument parsing of the `raybus` commands: `--flag value` and `--flag=value`; `--import`
 * takes one or more modules. Misuse throws a UsageError with a one-line message.
 */
import { readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { parseClusterAddress, redactAddress } from '../transport/cluster-address';
import { LIST_KINDS, type ListKind, type StateFilter } from '../protocol/state';
import { resolveFilters, resolveListOptions } from '../observability/state-query';
import { LOG_LEVELS, type LogLevel } from '../util/logger';

export class UsageError extends Error {
  override name = 'UsageError';
}

/** The options of one command, validated. */
export interface ParsedArgs {
  readonly address: string;
  readonly numCpus?: number;
  readonly numGpus?: number;
  readonly memory?: number;
  readonly resources?: Record<string, number>;
  readonly acceleratorType?: string;
  readonly labels?: Record<string, string>;
  /** Resolved module specifiers (absolute paths or package entry files). */
  readonly imports: string[];
  readonly clusterKey?: string;
  /** The key file is readable by other users (start warns). */
  readonly keyFileShared?: boolean;
  /** Encrypt every message (`--encrypt`). */
  readonly encrypt: boolean;
  /** Run without a key on a bus that is not on this machine (`--insecure`). */
  readonly insecure: boolean;
  /** TLS: a PEM file of the certificate authorities to trust (`--ca-file`, RAYBUS_CA_FILE). */
  readonly caFile?: string;
  readonly drainTimeoutMs: number;
  readonly json: boolean;
  /** `list` only: what to list. */
  readonly what?: ListKind;
  /** `summary` only: what to summarize. */
  readonly summarize?: 'tasks' | 'actors';
  /** `list`: the filters (`--filter k=v`, `--filter k!=v`). */
  readonly filters: StateFilter[];
  /** `list`: all columns. */
  readonly detail: boolean;
  /** `list`: the page size. */
  readonly limit?: number;
  /** `list`: the page after this cursor. */
  readonly cursor?: string;
  /** `logs`: the actor or task whose worker's log to print. */
  readonly actor?: string;
  readonly task?: string;
  /** `logs`: keep printing what is appended. */
  readonly follow: boolean;
  /** `timeline`: the file to write. */
  readonly out?: string;
  /** raybus's own messages (`--log-level`). */
  readonly logLevel?: LogLevel;
  /** `dashboard`: where to listen, and the token to ask for. */
  readonly port?: number;
  readonly host?: string;
  readonly token?: string;
}

const SECURITY = ['cluster-key-file', 'encrypt', 'insecure', 'ca-file'];
const FLAGS: Record<string, readonly string[]> = {
  start: ['address', 'num-cpus', 'num-gpus', 'memory', 'resources', 'accelerator-type', 'import', 'drain-timeout', 'labels', 'log-level', ...SECURITY],
  status: ['address', 'json', 'log-level', ...SECURITY],
  list: ['address', 'json', 'filter', 'detail', 'limit', 'cursor', 'log-level', ...SECURITY],
  summary: ['address', 'json', 'log-level', ...SECURITY],
  logs: ['address', 'actor', 'task', 'follow', 'log-level', ...SECURITY],
  timeline: ['address', 'out', 'log-level', ...SECURITY],
  dashboard: ['address', 'port', 'host', 'token', 'log-level', ...SECURITY],
};
const BOOLEAN = new Set(['json', 'detail', 'follow', 'encrypt', 'insecure']);
/** Options that may be given several times. */
const REPEATABLE = new Set(['import', 'filter']);

export function parseArgs(cmd: string, argv: readonly string[], cwd = process.cwd()): ParsedArgs {
  const allowed = FLAGS[cmd] ?? [];
  const values = new Map<string, string[]>();
  const positional: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('--')) {
      positional.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = arg.slice(2, eq < 0 ? undefined : eq);
    if (!allowed.includes(name)) throw new UsageError(`unknown option '--${name}' (options: ${allowed.map((a) => `--${a}`).join(', ')})`);
    const list = values.get(name) ?? [];
    values.set(name, list);
    if (BOOLEAN.has(name)) {
      list.push('true');
      continue;
    }
    if (eq >= 0) {
      list.push(arg.slice(eq + 1));
      continue;
    }
    // --import takes every following argument up to the next option.
    const take = name === 'import' ? Infinity : 1;
    let taken = 0;
    while (taken < take && i + 1 < argv.length && !argv[i + 1]!.startsWith('--')) {
      list.push(argv[++i]!);
      taken++;
    }
    if (taken === 0) throw new UsageError(`option '--${name}' needs a value`);
  }
  const one = (name: string): string | undefined => {
    const v = values.get(name);
    if (v && v.length > 1 && !REPEATABLE.has(name)) throw new UsageError(`option '--${name}' was given more than once`);
    return v?.[0];
  };
  const address = one('address') ?? process.env.RAYBUS_ADDRESS;
  if (!address) throw new UsageError(`needs --address amqp://user:pass@host:5672/vhost, nats://host:4222, ... (or RAYBUS_ADDRESS)`);
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(address) || /^memory:/i.test(address)) {
    throw new UsageError(`--address must be the URL of a message bus (amqp://, amqps://, nats://, or a scheme registered by an --import module), got '${redactAddress(address)}'`);
  }
  try {
    parseClusterAddress(address);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  let what: ParsedArgs['what'];
  if (cmd === 'list') {
    const w = positional.shift();
    if (!w || !(LIST_KINDS as readonly string[]).includes(w)) throw new UsageError(`what to list: ${LIST_KINDS.join(' | ')}${w ? ` (got '${w}')` : ''}`);
    what = w as ParsedArgs['what'];
  }
  let summarize: ParsedArgs['summarize'];
  if (cmd === 'summary') {
    const w = positional.shift();
    if (w !== 'tasks' && w !== 'actors') throw new UsageError(`what to summarize: tasks | actors${w ? ` (got '${w}')` : ''}`);
    summarize = w;
  }
  if (positional.length > 0) throw new UsageError(`unexpected argument '${positional[0]}'`);
  const state = parseStateArgs(cmd, what, values, one);
  const keyFile = one('cluster-key-file');
  const fromFile = keyFile !== undefined ? readKeyFile(keyFile, cwd) : undefined;
  const clusterKey = fromFile?.key ?? (process.env.RAYBUS_CLUSTER_KEY || undefined);
  const encrypt = values.has('encrypt');
  if (encrypt && !clusterKey) throw new UsageError('--encrypt needs a cluster key (--cluster-key-file or RAYBUS_CLUSTER_KEY): the encryption key is derived from it');
  const caFile = one('ca-file') ?? (process.env.RAYBUS_CA_FILE || undefined);
  const numCpus = number(one('num-cpus'), 'num-cpus', { integer: false });
  const numGpus = number(one('num-gpus'), 'num-gpus', { integer: false });
  const memory = number(one('memory'), 'memory', { integer: true });
  const drain = number(one('drain-timeout'), 'drain-timeout', { integer: false });
  const resources = parseResources(one('resources'));
  const acceleratorType = one('accelerator-type');
  const labels = parseLabels(one('labels'));
  const port = number(one('port'), 'port', { integer: true });
  if (port !== undefined && port > 65535) throw new UsageError(`--port must be from 0 to 65535, got ${port}`);
  const host = one('host');
  const token = one('token') ?? (process.env.RAYBUS_DASHBOARD_TOKEN || undefined);
  return {
    address,
    ...(numCpus !== undefined ? { numCpus } : {}),
    ...(numGpus !== undefined ? { numGpus } : {}),
    ...(memory !== undefined ? { memory } : {}),
    ...(resources ? { resources } : {}),
    ...(acceleratorType ? { acceleratorType } : {}),
    ...(labels ? { labels } : {}),
    imports: (values.get('import') ?? []).map((m) => resolveImport(m, cwd)),
    ...(clusterKey ? { clusterKey } : {}),
    ...(fromFile?.shared ? { keyFileShared: true } : {}),
    encrypt,
    insecure: values.has('insecure'),
    ...(caFile ? { caFile: path.resolve(cwd, caFile) } : {}),
    drainTimeoutMs: drain !== undefined ? drain * 1000 : 30_000,
    json: values.has('json'),
    ...(what ? { what } : {}),
    ...(summarize ? { summarize } : {}),
    ...(port !== undefined ? { port } : {}),
    ...(host ? { host } : {}),
    ...(token ? { token } : {}),
    ...state,
  };
}

/** The options of `list`, `logs`, `timeline` and `--log-level`. */
function parseStateArgs(
  cmd: string,
  what: ListKind | undefined,
  values: Map<string, string[]>,
  one: (name: string) => string | undefined,
): Pick<ParsedArgs, 'filters' | 'detail' | 'limit' | 'cursor' | 'actor' | 'task' | 'follow' | 'out' | 'logLevel'> {
  const raw = (values.get('filter') ?? []).map((f): StateFilter => {
    const m = /^([^=!]+)(!?=)(.*)$/.exec(f);
    if (!m) throw new UsageError(`--filter must be column=value or column!=value, got '${f}'`);
    return [m[1]!.trim(), m[2] === '!=' ? '!=' : '=', m[3]!];
  });
  let filters: StateFilter[] = [];
  let limit: number | undefined;
  try {
    if (what) filters = resolveFilters(what, raw, `raybus list ${what}`);
    const l = one('limit');
    if (l !== undefined) limit = resolveListOptions(what ?? 'tasks', { limit: Number(l) }, '--limit').limit;
  } catch (err) {
    throw new UsageError((err as Error).message.replace(/^raybus list \w[\w-]*: /, '').replace(/^--limit: 'limit'/, '--limit'));
  }
  const actor = one('actor');
  const task = one('task');
  if (cmd === 'logs' && (actor === undefined) === (task === undefined)) throw new UsageError('give --actor ID or --task ID (one of them)');
  const out = one('out');
  if (cmd === 'timeline' && !out) throw new UsageError('needs --out FILE (the Chrome trace to write)');
  const level = one('log-level');
  if (level !== undefined && !(LOG_LEVELS as readonly string[]).includes(level)) throw new UsageError(`--log-level must be one of ${LOG_LEVELS.join(', ')}, got '${level}'`);
  const cursor = one('cursor');
  return {
    filters,
    detail: values.has('detail'),
    follow: values.has('follow'),
    ...(limit !== undefined ? { limit } : {}),
    ...(cursor ? { cursor } : {}),
    ...(actor ? { actor } : {}),
    ...(task ? { task } : {}),
    ...(out ? { out } : {}),
    ...(level ? { logLevel: level as LogLevel } : {}),
  };
}

function number(raw: string | undefined, name: string, o: { integer: boolean }): number | undefined {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(n) || n < 0 || (o.integer && !Number.isInteger(n))) {
    throw new UsageError(`--${name} must be a non-negative ${o.integer ? 'integer' : 'number'}, got '${raw}'`);
  }
  return n;
}

function parseResources(raw: string | undefined): Record<string, number> | undefined {
  if (raw === undefined) return undefined;
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch {
    throw new UsageError(`--resources must be a JSON object such as '{"X":2}', got '${raw}'`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new UsageError(`--resources must be a JSON object such as '{"X":2}'`);
  for (const [k, n] of Object.entries(v)) {
    if (typeof n !== 'number' || !Number.isFinite(n) || n < 0) throw new UsageError(`--resources: '${k}' must be a non-negative number`);
    if (k === 'CPU' || k === 'GPU' || k === 'memory') throw new UsageError(`--resources: use --num-cpus, --num-gpus or --memory for '${k}'`);
  }
  return v as Record<string, number>;
}

function parseLabels(raw: string | undefined): Record<string, string> | undefined {
  if (raw === undefined) return undefined;
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch {
    v = undefined;
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v) || Object.values(v).some((x) => typeof x !== 'string')) {
    throw new UsageError(`--labels must be a JSON object of strings such as '{"zone":"a"}', got '${raw}'`);
  }
  return v as Record<string, string>;
}

/**
 * A key file holds the cluster key on one line (`raybus keygen` writes 64 hex characters);
 * `shared` when other users may read it.
 */
function readKeyFile(file: string, cwd: string): { key: string; shared: boolean } {
  const full = path.resolve(cwd, file);
  let text: string;
  let mode: number;
  try {
    text = readFileSync(full, 'utf8');
    mode = statSync(full).mode;
  } catch (err) {
    throw new UsageError(`cannot read --cluster-key-file '${file}': ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== '');
  if (lines.length === 0) throw new UsageError(`--cluster-key-file '${file}' is empty`);
  if (lines.length > 1) throw new UsageError(`--cluster-key-file '${file}' must hold the key on one line (it has ${lines.length})`);
  return { key: lines[0]!.trim(), shared: process.platform !== 'win32' && (mode & 0o077) !== 0 };
}

/** A module for `--import`: paths against the cwd, package names from the cwd (as Node would). */
function resolveImport(spec: string, cwd: string): string {
  if (/^[a-zA-Z][a-zA-Z+.-]*:/.test(spec) && !/^[a-zA-Z]:[\\/]/.test(spec)) return spec;
  const asPath = spec.startsWith('.') || path.isAbsolute(spec) ? path.resolve(cwd, spec) : undefined;
  try {
    return createRequire(path.join(cwd, 'noop.js')).resolve(asPath ?? spec);
  } catch {
    if (asPath) throw new UsageError(`--import '${spec}': no such module (looked for ${asPath})`);
    // Perhaps an ES-module-only package: the workers import it by name from this directory.
    return spec;
  }
}
