/**
 * What a well-formed message looks like, for every queue and topic (queues.ts): receivers
 * check each decoded message against its destination's schema before acting on it, and
 * dead-letter it with the problem when it does not match. Kept beside the message types in
 * messages/*.ts; a field added there is added here.
 */
import type { QueueKind, TopicKind } from './queues';
import { any, arr, bool, bytes, dict, int, lit, MAX_NAME, name, num, obj, opt, str, tagged, text, tuple, type Check } from './validate';

const BIG = 1_000_000_000;
/** Returns of one task: generators use -1 (streaming) and -2 (dynamic). */
const nret = int(-2, 10_000);
const path = str(4096);
const nonNegative: Check = (v, p) => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? undefined : `${p} must be a number >= 0`);
const resources = dict(nonNegative, 10_000);
const labels = dict(str(4096), 10_000);
const gpuIds = arr(int(0, 1_000_000), 1024);

const wireRef = tuple(name, name);
const MAX_SIZE = Number.MAX_SAFE_INTEGER;
const blobRef = obj({ id: name, size: int(0, MAX_SIZE), from: name });
const wireArg = obj({ d: bytes, r: opt(arr(wireRef)), b: opt(blobRef) });
const prim: Check = (v, p) => (v === null || ['string', 'number', 'boolean'].includes(typeof v) ? undefined : `${p} must be a string, number, boolean or null`);
// Checks are made once, not per message (an error's cause is checked by the same check).
const wireError: Check = (v, p) => wireErrorFields(v, p);
const wireErrorFields = obj({ name: name, message: text, stack: opt(text), rayClass: opt(name), props: opt(dict(prim, 1000)), cause: opt(wireError), origin: opt(tuple(path, name)) });
const failedOutcome = obj({ e: wireError });
const wireOutcome: Check = (v, p) => (typeof v === 'object' && v !== null && 'e' in v ? failedOutcome(v, p) : wireArg(v, p));

const code = obj({
  id: name,
  name: name,
  kind: lit('function', 'class'),
  source: opt(text),
  module: opt(path),
  freeNames: opt(arr(name, 10_000)),
});

const runtimeEnv = obj({ envVars: opt(dict(str(1_000_000), 10_000)), workingDir: opt(path), modules: opt(arr(path, 1000)) });

const strategy = tagged({
  DEFAULT: obj({}),
  SPREAD: obj({}),
  NODE_AFFINITY: obj({ nodeId: name, soft: bool }),
  PLACEMENT_GROUP: obj({ pg: name, bundle: int(-1, 1_000_000) }),
});
/** Strategies carry `kind`, not `t`. */
const wireStrategy: Check = (v, p) => {
  if (typeof v !== 'object' || v === null) return `${p} must be an object`;
  return strategy({ ...v, t: (v as { kind?: unknown }).kind }, p);
};

const returnCount = int(0, 10_000);
const numReturns: Check = (v, p) => (v === 'dynamic' || v === 'streaming' ? undefined : returnCount(v, p));
const exceptionNames = arr(name, 1000);
const retryExceptions: Check = (v, p) => (typeof v === 'boolean' ? undefined : exceptionNames(v, p));
const methodMeta = obj({
  numReturns: opt(numReturns),
  maxTaskRetries: opt(int(-1, BIG)),
  retryExceptions: opt(retryExceptions),
  isGenerator: opt(bool),
  backpressure: opt(int(-1, BIG)),
});
const actorMeta = obj({
  actorId: name,
  className: name,
  methods: dict(methodMeta, 10_000),
  isAsync: bool,
  maxTaskRetries: int(-1, BIG),
  maxPendingCalls: int(-1, BIG),
  namespace: name,
  name: opt(name),
});
/** A W3C `traceparent`: version, trace id, parent span id, flags (lower-case hex). */
const traceparent: Check = (v, p) => (typeof v === 'string' && /^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/.test(v) ? undefined : `${p} must be a W3C traceparent`);
const taskContext = obj({ jobId: name, namespace: name, attempt: int(0, BIG), metadata: opt(any), env: opt(runtimeEnv), res: opt(resources), nolog: opt(bool), tc: opt(traceparent) });
const actorSpec = obj({
  actorId: name,
  cls: code,
  args: arr(wireArg, 10_000),
  owner: name,
  meta: actorMeta,
  placement: resources,
  lifetime: resources,
  strategy: wireStrategy,
  maxRestarts: int(-1, BIG),
  detached: bool,
  maxConcurrency: int(1, 1_000_000),
  ctx: taskContext,
  getIfExists: bool,
  iso: opt(lit('shared')),
});
const leaseReport = obj({ lease: name, worker: name, demand: resources, gpuIds, owner: opt(name), req: opt(name), actor: opt(actorSpec), blocked: opt(bool) });
const pgInfo = obj({ placementGroupId: name, name: str(), strategy: name, state: lit('PENDING', 'CREATED', 'REMOVED'), bundles: dict(resources, 10_000), bundlesToNodeId: dict(name, 10_000) });
const clusterInfo = obj({
  nodes: arr(obj({ nodeId: name, alive: bool, resources, labels }), 100_000),
  total: resources,
  available: resources,
});
const count = int(0, Number.MAX_SAFE_INTEGER);
const refusals = dict(count, 1000);
const clusterState = obj({
  leader: obj({ epoch: name, electedAt: num, nodeId: opt(name), malformed: opt(count) }),
  nodes: arr(obj({ nodeId: name, alive: bool, draining: bool, resources, available: resources, labels, refused: opt(refusals), malformed: opt(count) })),
  actors: arr(obj({ actorId: name, className: name, namespace: name, state: name, owner: name, detached: bool, restarts: int(0, BIG) })),
  leases: arr(obj({ lease: name, nodeId: name, demand: resources })),
  pending: arr(obj({ id: name, kind: lit('task', 'actor', 'placement-group'), description: text, demand: resources, infeasible: bool })),
  placementGroups: dict(pgInfo),
});

const stateFilter = tuple(name, lit('=', '!='), (v, p) => (['string', 'number', 'boolean'].includes(typeof v) ? str(MAX_NAME)(String(v), p) : `${p} must be a string, number or boolean`));
const stateQuery = {
  req: name,
  reply: name,
  filters: arr(stateFilter, 100),
  limit: int(0, 1_000_000),
  cursor: opt(name),
  detail: bool,
};
const stateQueryKind = lit('tasks', 'actors', 'nodes', 'workers', 'objects', 'placement-groups', 'task-summary', 'timeline', 'metrics');
const taskSummaryEntry = obj({ funcOrClassName: name, type: name, stateCounts: dict(int(0, Number.MAX_SAFE_INTEGER), 16) });
const processMetrics = obj({
  proc: name,
  durations: opt(obj({ counts: arr(count, 64), sum: nonNegative, count })),
  transport: opt(obj({ sent: count, sentBytes: count, received: count, receivedBytes: count })),
});
const logLine = obj({ name: name, text: text, err: opt(bool) });

/** Every message each kind of queue may carry. */
export const QUEUE_SCHEMAS: Record<QueueKind, Check> = {
  broker: tagged({
    'request-lease': obj({ req: name, owner: name, demand: resources, strategy: wireStrategy, desc: text, pref: opt(name), env: opt(runtimeEnv) }),
    'return-lease': obj({ lease: name }),
    'cancel-lease-request': obj({ req: name }),
    'create-actor': obj({ req: name, spec: actorSpec }),
    'kill-actor': obj({ actor: name, noRestart: bool, req: name, reply: name }),
    'get-actor': obj({ req: name, reply: name, name: name, namespace: name }),
    'actor-ready': obj({ actor: name, worker: name, pid: opt(int(0, Number.MAX_SAFE_INTEGER)) }),
    'actor-failed': obj({ actor: name, err: wireError, intentional: bool, initFailed: bool }),
    'node-register': obj({ node: name, resources, labels, leases: opt(arr(leaseReport)), draining: opt(bool) }),
    'node-gone': obj({ node: name }),
    'worker-died': obj({ node: name, worker: name, lease: opt(name), actor: opt(name), reason: text }),
    'lease-blocked': obj({ node: name, lease: name, blocked: bool }),
    'actor-out-of-scope': obj({ actor: name, owner: name }),
    'register-actor': obj({ owner: name, meta: actorMeta }),
    'cluster-info-request': obj({ req: name, reply: name }),
    'create-pg': obj({ owner: name, pg: obj({ id: name, bundles: arr(resources, 10_000), strategy: name, name: str(), detached: bool }) }),
    'remove-pg': obj({ pg: name, req: name, reply: name }),
    'pg-table': obj({ req: name, reply: name }),
    'owner-register': obj({ owner: name, presence: name }),
    'owner-exit': obj({ owner: name }),
    'leases-held': obj({ owner: name, leases: arr(tuple(name, name)) }),
    'node-draining': obj({ node: name }),
    'lease-revoked': obj({ node: name, lease: name, reason: text }),
    'actor-record': obj({ spec: actorSpec, restarts: int(0, BIG), alive: bool, v: int(0, Number.MAX_SAFE_INTEGER) }),
    'cluster-state-request': obj({ req: name, reply: name }),
    'leases-report': obj({ node: name, leases: arr(name), refused: opt(refusals), malformed: opt(count) }),
    'state-request': obj({ ...stateQuery, what: lit('actors', 'nodes', 'placement-groups', 'actor-summary'), ids: opt(arr(name, 100_000)) }),
  }),
  election: tagged({ 'election-token': obj({ candidate: name, n: int(0, Number.MAX_SAFE_INTEGER) }) }),
  node: tagged({
    'start-lease': obj({ lease: name, req: name, owner: name, demand: resources, gpuIds, env: opt(runtimeEnv) }),
    'start-actor': obj({ lease: name, spec: actorSpec, gpuIds, restart: bool }),
    'release-lease': obj({ lease: name }),
    'kill-worker': obj({ lease: name, reply: opt(name), req: opt(name) }),
    'read-log': obj({ req: name, reply: name, worker: name, stream: lit('out', 'err'), offset: int(0, Number.MAX_SAFE_INTEGER), max: int(1, 64 * 1024 * 1024) }),
    'worker-blocked': obj({ lease: name, blocked: bool }),
  }),
  worker: tagged({
    task: obj({ task: name, fn: code, args: arr(wireArg, 10_000), nret, owner: name, ctx: taskContext, lease: name, bp: opt(int(-1, BIG)), mc: opt(int(0, BIG)) }),
    'host-actor': obj({ spec: actorSpec, restart: bool, nodeId: name }),
    'stop-actor': obj({ actor: name }),
  }),
  mailbox: tagged({
    call: obj({
      task: name,
      method: name,
      args: arr(wireArg, 10_000),
      nret,
      owner: name,
      ctx: taskContext,
      retries: int(-1, BIG),
      bp: opt(int(-1, BIG)),
      sq: opt(obj({ s: name, n: int(0, Number.MAX_SAFE_INTEGER), lo: int(0, Number.MAX_SAFE_INTEGER) })),
    }),
  }),
  reply: tagged({
    result: obj({ task: name, rets: arr(wireOutcome, 10_001), n: opt(int(0, Number.MAX_SAFE_INTEGER)), retire: opt(bool), us: opt(num) }),
    'tasks-returned': obj({ lease: name, tasks: arr(name, 10_000), blocked: opt(bool) }),
    'call-redelivered': obj({ task: name, reply: name }),
    'call-verdict': obj({ task: name, run: bool, attempt: int(0, BIG) }),
    'stream-item': obj({ task: name, seq: int(0, Number.MAX_SAFE_INTEGER), out: wireOutcome, from: name }),
    'stream-ack': obj({ task: name, consumed: opt(int(0, Number.MAX_SAFE_INTEGER)) }),
    'stream-release': obj({ task: name }),
    'stream-cancel': obj({ task: name }),
    'cancel-task': obj({ task: name, recursive: opt(bool) }),
    'lease-granted': obj({ req: name, lease: name, worker: name, node: name }),
    'lease-failed': obj({ req: name, err: wireError }),
    'lease-infeasible': obj({ req: name }),
    'lease-lost': obj({ lease: name, reason: text, fatal: opt(bool) }),
    'leases-wanted': obj({}),
    'pg-ready': obj({ pg: name }),
    'pg-table-reply': obj({ req: name, table: dict(pgInfo) }),
    'get-object': obj({ id: name, reply: name }),
    object: obj({ id: name, out: wireOutcome }),
    borrow: obj({ id: name, n: int(-BIG, BIG) }),
    'call-seq-query': obj({ s: name, reply: name }),
    'blob-get': obj({ id: name, off: int(0, MAX_SIZE), len: int(1, MAX_SIZE), reply: name }),
    'blob-chunk': obj({ id: name, off: int(0, MAX_SIZE), data: bytes, h: opt(name), err: opt(text) }),
    'blob-done': obj({ id: name }),
    'call-seq': obj({ s: name, lo: int(-1, Number.MAX_SAFE_INTEGER) }),
    'actor-info': obj({ req: name, meta: opt(actorMeta), err: opt(wireError) }),
    'cluster-info': obj({ req: name, info: clusterInfo }),
    'cluster-state': obj({ req: name, state: clusterState }),
    ack: obj({ req: name, err: opt(wireError) }),
    'state-answer': obj({
      req: name,
      from: obj({ kind: lit('driver', 'worker', 'node', 'broker'), id: name, nodeId: opt(name), pid: opt(int(0, Number.MAX_SAFE_INTEGER)) }),
      items: arr(dict(any, 1000), 1_000_000),
      total: int(0, Number.MAX_SAFE_INTEGER),
      more: bool,
      dropped: opt(int(0, Number.MAX_SAFE_INTEGER)),
      running: opt(arr(tuple(name, name), 1_000_000)),
      summary: opt(dict(taskSummaryEntry, 100_000)),
      counts: opt(dict(dict(int(0, Number.MAX_SAFE_INTEGER), 16), 100_000)),
      metrics: opt(processMetrics),
    }),
    'log-lines': obj({ pid: int(0, Number.MAX_SAFE_INTEGER), node: name, worker: name, lines: arr(logLine, 1_000_000) }),
    'log-chunk': obj({ req: name, data: text, next: int(0, Number.MAX_SAFE_INTEGER), size: int(0, Number.MAX_SAFE_INTEGER), err: opt(text) }),
  }),
  presence: tagged({ 'broker-elected': obj({ epoch: name }), probe: obj({}) }),
};

/** What each topic carries. */
export const TOPIC_SCHEMAS: Record<TopicKind, Check> = {
  'owner-died': obj({ owner: name }),
  cancel: obj({ task: name }),
  'broker-elected': obj({ t: lit('broker-elected'), epoch: name }),
  state: obj({ ...stateQuery, t: lit('state-query'), what: stateQueryKind }),
};
