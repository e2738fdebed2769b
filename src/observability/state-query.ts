/**
 * The options of a state query (`{ filters, limit, detail, cursor }`), checked where they are
 * given (misuse throws synchronously, naming the argument), and what every holder of rows does
 * with them: filter, page by key (rows after the cursor, sorted by key), cut to the limit, and
 * drop the detail columns unless asked for.
 */
import type { ListKind, StateFilter, StateItems } from '../protocol/state';

/** Default page size (Ray's `limit`). */
export const DEFAULT_LIMIT = 100;
/** Largest page: one answer stays one bounded message. */
export const MAX_LIMIT = 10_000;

/** The columns each kind can be filtered on (Ray's names in camelCase). */
const FILTER_COLUMNS: { readonly [K in ListKind]: ReadonlyArray<keyof StateItems[K] & string> } = {
  tasks: ['taskId', 'attemptNumber', 'name', 'state', 'jobId', 'type', 'funcOrClassName', 'actorId', 'parentTaskId', 'nodeId', 'workerId', 'workerPid', 'errorType'],
  actors: ['actorId', 'className', 'state', 'jobId', 'name', 'nodeId', 'workerId', 'pid', 'rayNamespace', 'numRestarts', 'isDetached', 'placementGroupId'],
  nodes: ['nodeId', 'state', 'isHeadNode'],
  workers: ['workerId', 'workerType', 'isAlive', 'nodeId', 'pid', 'state', 'actorId'],
  objects: ['objectId', 'taskStatus', 'referenceType', 'owned', 'type', 'pid', 'nodeId'],
  'placement-groups': ['placementGroupId', 'name', 'state', 'strategy', 'isDetached'],
};

/** Columns shown without `detail` (the others are dropped from each row). */
export const BASE_COLUMNS: { readonly [K in ListKind]: ReadonlySet<string> } = {
  tasks: new Set(['taskId', 'attemptNumber', 'name', 'state', 'jobId', 'type', 'funcOrClassName', 'actorId', 'parentTaskId', 'nodeId', 'workerId', 'workerPid', 'errorType']),
  actors: new Set(['actorId', 'className', 'state', 'jobId', 'name', 'nodeId', 'workerId', 'pid', 'rayNamespace', 'numRestarts', 'deathCause']),
  nodes: new Set(['nodeId', 'state', 'isHeadNode', 'resourcesTotal', 'labels']),
  workers: new Set(['workerId', 'workerType', 'isAlive', 'nodeId', 'pid', 'state', 'actorId']),
  objects: new Set(['objectId', 'objectSize', 'taskStatus', 'referenceType', 'owned', 'type', 'pid', 'nodeId']),
  'placement-groups': new Set(['placementGroupId', 'name', 'state', 'strategy', 'isDetached', 'bundles']),
};

/** The key rows of each kind are paged by. */
export function rowKey(kind: ListKind, item: object): string {
  const row = item as Record<string, unknown>;
  switch (kind) {
    case 'tasks':
      return row.taskId as string;
    case 'actors':
      return row.actorId as string;
    case 'nodes':
      return row.nodeId as string;
    case 'workers':
      return row.workerId as string;
    case 'objects':
      // One row per process holding the object (its owner, its borrowers).
      return `${row.objectId as string}/${String(row.pid)}`;
    case 'placement-groups':
      return row.placementGroupId as string;
  }
}

/** Columns whose values are names in capitals: compared without regard to case. */
const ENUM_COLUMNS = new Set(['state', 'type', 'workerType', 'referenceType', 'taskStatus', 'errorType']);

/** A state query's options as the state API and `raybus list` take them. */
export interface ListOptions {
  /** `[column, '=' | '!=', value]`, all of which must hold. */
  readonly filters?: readonly StateFilter[];
  /** Most rows returned (default 100, at most 10 000). */
  readonly limit?: number;
  /** All columns (default: the main ones). */
  readonly detail?: boolean;
  /** Continue after the last page (its `nextCursor`). */
  readonly cursor?: string | null;
  /** Wait at most this long for answers (default 3 000 ms). */
  readonly timeoutMs?: number;
  /** Ray's spelling, in seconds. */
  readonly timeout?: number;
}

/** Checked options with defaults. */
export interface ResolvedListOptions {
  readonly filters: StateFilter[];
  readonly limit: number;
  readonly detail: boolean;
  readonly cursor?: string;
  readonly timeoutMs?: number;
}

const OPTION_NAMES = ['filters', 'limit', 'detail', 'cursor', 'timeoutMs', 'timeout'];

/** `task_id` → `taskId` (Ray's snake_case column names are accepted too). */
function camel(name: string): string {
  return name.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
}

/**
 * Check the options of `fn` listing `kind`; throws TypeError/RangeError naming the bad one.
 *
 * @example
 * resolveListOptions('tasks', { filters: [['state', '=', 'RUNNING']], limit: 10 }, 'listTasks');
 */
export function resolveListOptions(kind: ListKind, options: unknown, fn: string): ResolvedListOptions {
  if (options === undefined || options === null) return { filters: [], limit: DEFAULT_LIMIT, detail: false };
  if (typeof options !== 'object' || Array.isArray(options)) throw new TypeError(`${fn}: options must be an object, got ${describe(options)}`);
  const o = options as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    if (!OPTION_NAMES.includes(k)) throw new TypeError(`${fn}: unknown option '${k}'. Valid options: ${OPTION_NAMES.join(', ')}`);
  }
  const limit = o.limit ?? DEFAULT_LIMIT;
  if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) {
    throw new RangeError(`${fn}: 'limit' must be an integer from 1 to ${MAX_LIMIT}, got ${describe(o.limit)}`);
  }
  const detail = o.detail ?? false;
  if (typeof detail !== 'boolean') throw new TypeError(`${fn}: 'detail' must be a boolean, got ${describe(o.detail)}`);
  const cursor = o.cursor ?? undefined;
  if (cursor !== undefined && (typeof cursor !== 'string' || cursor.length === 0 || cursor.length > 1024)) {
    throw new TypeError(`${fn}: 'cursor' must be the nextCursor of an earlier page, got ${describe(o.cursor)}`);
  }
  if (o.timeoutMs !== undefined && o.timeout !== undefined) throw new TypeError(`${fn}: give either 'timeoutMs' or 'timeout', not both`);
  const timeoutMs = o.timeoutMs ?? (typeof o.timeout === 'number' ? o.timeout * 1000 : o.timeout);
  if (timeoutMs !== undefined && (typeof timeoutMs !== 'number' || !Number.isFinite(timeoutMs) || timeoutMs <= 0)) {
    throw new RangeError(`${fn}: '${o.timeoutMs !== undefined ? 'timeoutMs' : 'timeout'}' must be a number > 0, got ${describe(o.timeoutMs ?? o.timeout)}`);
  }
  return {
    filters: resolveFilters(kind, o.filters, fn),
    limit,
    detail,
    ...(cursor !== undefined ? { cursor: cursor as string } : {}),
    ...(timeoutMs !== undefined ? { timeoutMs: timeoutMs as number } : {}),
  };
}

/** Check `filters` for `kind`: unknown columns are listed with the valid ones. */
export function resolveFilters(kind: ListKind, filters: unknown, fn: string): StateFilter[] {
  if (filters === undefined || filters === null) return [];
  if (!Array.isArray(filters)) throw new TypeError(`${fn}: 'filters' must be an array of [column, '=' | '!=', value], got ${describe(filters)}`);
  const columns = FILTER_COLUMNS[kind] as readonly string[];
  const out: StateFilter[] = [];
  const unknown: string[] = [];
  filters.forEach((f: unknown, i) => {
    if (!Array.isArray(f) || f.length !== 3) throw new TypeError(`${fn}: filters[${i}] must be [column, '=' | '!=', value], got ${describe(f)}`);
    const [key, op, value] = f as unknown[];
    if (typeof key !== 'string') throw new TypeError(`${fn}: filters[${i}][0] must be a column name, got ${describe(key)}`);
    if (op !== '=' && op !== '!=') throw new TypeError(`${fn}: filters[${i}][1] must be '=' or '!=', got ${describe(op)}`);
    if (!['string', 'number', 'boolean'].includes(typeof value)) throw new TypeError(`${fn}: filters[${i}][2] must be a string, number or boolean, got ${describe(value)}`);
    const column = camel(key);
    if (!columns.includes(column)) unknown.push(key);
    else out.push([column, op, value as string | number | boolean]);
  });
  if (unknown.length > 0) {
    throw new RangeError(`${fn}: unknown filter column${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => `'${k}'`).join(', ')}. Columns of ${kind}: ${columns.join(', ')}`);
  }
  return out;
}

function normalize(column: string, v: unknown): string {
  const s = v === undefined || v === null ? '' : String(v);
  return ENUM_COLUMNS.has(column) ? s.toUpperCase() : s;
}

/** Does `row` pass `filter`? A missing value compares as ''. */
function passes(row: Record<string, unknown>, [column, op, value]: StateFilter): boolean {
  const equal = normalize(column, row[column]) === normalize(column, value);
  return op === '=' ? equal : !equal;
}

/** Does `row` pass every filter (except those `skip` says cannot be judged here)? */
export function matches(row: Record<string, unknown>, filters: readonly StateFilter[], skip?: (row: Record<string, unknown>, column: string) => boolean): boolean {
  for (const f of filters) {
    if (skip?.(row, f[0])) continue;
    if (!passes(row, f)) return false;
  }
  return true;
}

/** One holder's slice of rows. */
export interface Slice<T> {
  items: T[];
  /** Rows that matched (whatever the cursor). */
  total: number;
  /** Rows after the cursor beyond the limit. */
  more: boolean;
}

/** What a holder needs of a query to cut its slice. */
export interface SliceQuery {
  readonly filters: readonly StateFilter[];
  readonly limit: number;
  readonly cursor?: string;
  readonly detail: boolean;
}

/**
 * The rows a holder sends: those matching the filters, after the cursor, sorted by key, at
 * most `limit`, without detail columns unless asked for. `skip`: filters this holder cannot
 * judge for a row (the querier judges them once it has merged what others know).
 */
export function selectSlice<K extends ListKind>(
  kind: K,
  rows: Iterable<StateItems[K]>,
  q: SliceQuery,
  skip?: (row: Record<string, unknown>, column: string) => boolean,
): Slice<StateItems[K]> {
  const picked: Array<{ key: string; row: StateItems[K] }> = [];
  let total = 0;
  for (const row of rows) {
    const r = row as unknown as Record<string, unknown>;
    if (!matches(r, q.filters, skip)) continue;
    total += 1;
    const key = rowKey(kind, r);
    if (q.cursor !== undefined && key <= q.cursor) continue;
    picked.push({ key, row });
  }
  picked.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const items = picked.slice(0, q.limit).map((p) => (q.detail ? p.row : withoutDetail(kind, p.row)));
  return { items, total, more: picked.length > q.limit };
}

/** `row` with only the columns shown without `detail`. */
export function withoutDetail<K extends ListKind>(kind: K, row: StateItems[K]): StateItems[K] {
  const base = BASE_COLUMNS[kind];
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(row)) if (base.has(k)) out[k] = v;
  return out as unknown as StateItems[K];
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return `an array of ${v.length}`;
  if (typeof v === 'string') return `'${v.length > 64 ? `${v.slice(0, 64)}…` : v}'`;
  if (typeof v === 'object') return 'an object';
  return `${typeof v} ${String(v)}`;
}
