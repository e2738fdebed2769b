// The report: each raybus figure with its ratio to the matching anchor and to Ray's published
// figure, the speed targets (targets.mjs), the scaling table and the machine facts, as Markdown (printed,
// and written to benchmarks/RESULTS.md).
import { rayPublished, RAY_MACHINE, rayManyActorsPerS } from './ray-published.mjs';
import { embeddedTargets, embeddedShares, brokerShares } from './targets.mjs';

const ok = (r) => r && !r.na && !r.error && Number.isFinite(r.mean);

/** 12,345 / 123.4 / 1.23 / 0.0123 */
export function fmt(x) {
  if (!Number.isFinite(x)) return '-';
  const a = Math.abs(x);
  if (a >= 1000) return Math.round(x).toLocaleString('en-US');
  if (a >= 100) return x.toFixed(0);
  if (a >= 10) return x.toFixed(1);
  if (a >= 1) return x.toFixed(2);
  return x.toPrecision(2);
}

/** A latency in ms, shown in µs below 1 ms. */
const ms = (x) => (!Number.isFinite(x) ? '-' : x >= 100 ? `${x.toFixed(0)} ms` : x >= 1 ? `${x.toFixed(1)} ms` : `${(x * 1000).toFixed(x < 0.01 ? 2 : 0)} µs`);
const ratio = (a, b) => {
  if (!(Number.isFinite(a) && Number.isFinite(b) && b > 0)) return '-';
  const q = a / b;
  return `${q >= 10 ? q.toFixed(0) : q.toFixed(2)}×`;
};
const value = (r) => (r?.na ? `n/a (${r.na})` : r?.error ? `error: ${r.error}` : `${fmt(r.mean)} ± ${fmt(r.std)}`);

function table(header, rows) {
  const line = (cells) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

/** The anchor result of `kind` ('sync' | 'async') from one anchor's results. */
const anchorOf = (anchor, kind) => anchor.results?.find((r) => r.kind === kind);

/** The anchors each mode is held to: the raw one, and Moleculer on the same broker. */
const TARGET_ANCHORS = {
  embedded: { raw: 'fork', rawLabel: 'fork IPC' },
  rabbitmq: { raw: 'amqplib', rawLabel: 'amqplib', moleculer: 'moleculer' },
  nats: { raw: 'nats', rawLabel: '@nats-io', moleculer: 'moleculer-nats' },
};

/**
 * @param sameSitting  embedded only: the alternated ratios of embedded-ratios.mjs; where a row has
 *   one, its share of fork IPC is judged on that median, not on the anchor's later stage
 */
function targetCell(key, r, mode, anchors, sameSitting = []) {
  if (!ok(r)) return '';
  const parts = [];
  let pass = true;
  if (mode === 'embedded' && embeddedTargets[key] !== undefined) {
    const t = embeddedTargets[key];
    parts.push(`≥ ${fmt(t)}`);
    pass &&= r.mean >= t;
  }
  const share = (mode === 'embedded' ? embeddedShares : brokerShares)[key];
  if (share !== undefined) {
    const { raw, rawLabel, moleculer } = TARGET_ANCHORS[mode];
    const rawResult = anchorOf(anchors.find((a) => a.id === raw) ?? {}, r.kind);
    const alternated = sameSitting.find((x) => x.key === key);
    if (alternated) {
      parts.push(`≥ ${share}× ${rawLabel} in the same sitting (median ${alternated.median.toFixed(2)}×)`);
      pass &&= alternated.median >= share;
    } else if (!ok(rawResult)) parts.push(`≥ ${share}× ${rawLabel} (anchor missing)`);
    else {
      parts.push(`≥ ${share}× ${rawLabel} (${fmt(share * rawResult.mean)})`);
      pass &&= r.mean >= share * rawResult.mean;
    }
    const mol = moleculer ? anchorOf(anchors.find((a) => a.id === moleculer) ?? {}, r.kind) : undefined;
    if (moleculer) {
      parts.push(ok(mol) ? `> Moleculer (${fmt(mol.mean)})` : '> Moleculer (anchor missing)');
      if (ok(mol)) pass &&= r.mean > mol.mean;
    }
  }
  return parts.length === 0 ? '' : `${parts.join(' and ')} ${pass ? '✓' : '✗'}`;
}

/**
 * A raybus results table.
 *
 * @param {object[]} results  from runRaybusSuite
 * @param {{ id: string, label: string, results?: object[] }[]} anchors  matched by kind
 * @param {'embedded' | 'rabbitmq' | 'nats'} mode  which targets apply (targets.mjs)
 */
export function raybusTable(results, anchors, mode, sameSitting) {
  const header = ['metric', 'raybus (mean ± std)', 'unit', 'p50 / p99 per body call'];
  for (const a of anchors) header.push(`${a.label}`, `× ${a.id}`);
  header.push(`${RAY_MACHINE} (A)`, '× Ray', 'target');
  const rows = results.map((r) => {
    const cells = [`${r.name}${r.extra ? ' †' : ''}${r.retried ? ' (retried)' : ''}`, value(r), r.unit, ok(r) ? `${ms(r.p50Ms)} / ${ms(r.p99Ms)}` : ''];
    for (const a of anchors) {
      const m = r.kind ? anchorOf(a, r.kind) : undefined;
      const perOp = r.key === 'single_client_tasks_and_get_batch' ? 1000 : 1; // batches/s vs calls/s
      cells.push(m ? `${fmt(ok(m) ? m.mean : NaN)} (${r.kind})` : '', m && ok(r) ? ratio(r.mean * perOp, m.mean) : '');
    }
    const ray = rayPublished[r.key]?.a;
    cells.push(ray ? `${fmt(ray[0])} ± ${fmt(ray[1])}` : '', ray && ok(r) ? ratio(r.mean, ray[0]) : '', targetCell(r.key, r, mode, anchors, sameSitting));
    return cells;
  });
  return table(header, rows);
}

/** The anchors on their own. */
export function anchorTable(anchors) {
  const rows = [];
  for (const a of anchors) {
    if (a.error) rows.push([a.label, `error: ${a.error}`, '', '']);
    for (const r of a.results ?? []) rows.push([r.name, value(r), r.unit, ok(r) ? `${ms(r.p50Ms)} / ${ms(r.p99Ms)}` : '']);
  }
  return table(['anchor', 'mean ± std', 'unit', 'p50 / p99 per body call'], rows);
}

function scalingTables(scaling) {
  const actorRows = scaling.actors.map((s) => {
    const label = `${s.actors}${s.isolation === 'shared' ? ' shared' : ''}${s.prestarted ? ` on ${s.prestarted} prestarted workers` : ''}`;
    if (s.na || s.error) return [label, s.na ? `n/a (${s.na})` : `error: ${s.error}`, '', '', '', '', '', ''];
    if (s.prestarted) return [label, fmt(s.createS), fmt(s.actorsPerS), '', '', '', '', ''];
    const w = s.workers ? `${fmt(s.workers.totalMB)} (${s.workers.count} × ${fmt(s.workers.medianMB)})` : 'n/a';
    const idle = s.workersIdle ? fmt(s.workersIdle.medianMB) : '';
    const kill = s.killS === undefined ? 'n/a' : `${fmt(s.killS)}${s.killFailed ? ` (${s.killFailed} timed out)` : ''}`;
    return [`${label}${s.retried ? ' (retried)' : ''}`, fmt(s.createS), fmt(s.actorsPerS), value(s.calls), kill, fmt(s.driverRssMB), w, idle];
  });
  // One set of rows per broker.
  const nodeSets = scaling.nodes;
  const nodeRows = nodeSets.flatMap((set) => set.rows).map((s) => {
    if (s.na || s.error) return [String(s.nodes), s.where ?? '', s.na ? `n/a (${s.na})` : `error: ${s.error}`];
    return [`${s.nodes}${s.retried ? ' (retried)' : ''}`, s.where, value(s.tasks)];
  });
  return [
    `Actors (embedded default). Calls/s with all actors busy: ceil(1000 / N) calls to each actor in flight per operation. ${scaling.actorsNote}`,
    '',
    table(['actors', 'create + first call (s)', `actors/s (Ray many_actors: ${rayManyActorsPerS}/s on 64 nodes)`, 'calls/s, all busy (mean ± std)', 'kill all (s)', 'driver RSS MB', 'worker RSS MB, all busy (processes × median)', 'worker RSS MB, idle (median)'], actorRows),
    '',
    `Nodes (1 CPU each; trivial tasks, 1,000 in flight, tasks/s), on each broker.${nodeSets
      .filter((set) => set.note)
      .map((set) => ` On ${set.broker}: n/a (${set.note}); measured on the cluster's in-process bus instead.`)
      .join('')}`,
    '',
    table(['nodes', 'bus', 'tasks/s (mean ± std)'], nodeRows),
    '',
    queuedTable(scaling.queued),
  ].join('\n');
}

/** The queued-tasks rows (absent from results measured before they existed). */
function queuedTable(rows) {
  if (!rows?.length) return 'Queued tasks: not measured in this run.';
  const body = rows.map((r) => {
    if (r.error) return [r.tasks.toLocaleString('en-US'), `error: ${r.error}`, '', '', '', '', '', ''];
    return [
      r.tasks.toLocaleString('en-US'),
      fmt(r.seconds),
      fmt(r.tasksPerS),
      r.ratio === undefined ? '' : r.ratio.toFixed(2),
      fmt(r.driverCpuUsPerTask),
      fmt(r.heapBytesPerTask),
      fmt(r.rssBytesPerTask),
      fmt(r.maxLagMs),
    ];
  });
  return [
    `Queued tasks (embedded default, each size in a driver process of its own, started after the rows above have ended): N trivial tasks submitted at once from the driver (slices of 1,000 calls, a macrotask between them), then every result awaited, slice after slice. Ratio: tasks/s ÷ the first row's. Memory per queued task: the driver's live heap after a full GC once all N are submitted, and its peak RSS, above the baseline, ÷ N. Loop lag: the largest delay of a 10 ms timer while they ran.`,
    '',
    table(['tasks', 'first submit to last result (s)', 'tasks/s', 'ratio', 'driver CPU µs/task', 'live heap B/task', 'peak RSS B/task', 'max loop lag ms'], body),
  ].join('\n');
}

const HEADLINE = [
  ['single_client_tasks_sync', 'tasks, sync', 'sync'],
  ['single_client_tasks_async', 'tasks, 1,000 in flight', 'async'],
  ['1_1_actor_calls_sync', 'actor calls, sync', 'sync'],
  ['1_1_actor_calls_async', 'actor calls, 1,000 in flight', 'async'],
  ['single_client_get_calls_Plasma_Store', 'small get', null],
  ['single_client_put_calls_Plasma_Store', 'small put', null],
];

/** The few figures to read first: raybus next to the anchors of the same kind. */
function headline(data) {
  const find = (results, key) => results?.find((r) => r.key === key);
  const anchorCell = (id, kind) => {
    const a = data.anchors.find((x) => x.id === id);
    const r = a && anchorOf(a, kind);
    return a?.error ? 'error' : ok(r) ? fmt(r.mean) : '-';
  };
  const nats = data.nats ?? { na: 'not measured in this run' };
  const rows = HEADLINE.map(([key, label, kind]) => {
    const e = find(data.embedded, key);
    const q = data.rabbitmq.na ? undefined : find(data.rabbitmq.results, key);
    const n = nats.na ? undefined : find(nats.results, key);
    return [
      label,
      e ? (ok(e) ? fmt(e.mean) : value(e)) : '-',
      data.rabbitmq.na ? 'n/a' : q && ok(q) ? fmt(q.mean) : '-',
      nats.na ? 'n/a' : n && ok(n) ? fmt(n.mean) : '-',
      kind ? anchorCell('fork', kind) : '',
      kind ? anchorCell('threads', kind) : '',
      kind ? anchorCell('amqplib', kind) : '',
      kind ? anchorCell('moleculer', kind) : '',
      kind ? anchorCell('nats', kind) : '',
      kind ? anchorCell('moleculer-nats', kind) : '',
      fmt(rayPublished[key]?.a[0]),
    ];
  });
  return table(['per second', 'raybus embedded', 'raybus RabbitMQ', 'raybus NATS', 'fork IPC', 'worker_threads', 'amqplib', 'Moleculer AMQP', '@nats-io', 'Moleculer NATS', RAY_MACHINE], rows);
}

/** Values of 100 MB per transport (MB/s), and the raw clients moving the same bytes. */
function largeValuesTable(large) {
  if (!large) return 'Not measured in this run.';
  const names = [...new Set([...large.embedded, ...large.rabbitmq, ...large.nats].map((r) => r.name))];
  const cell = (rows, name) => {
    const r = rows.find((x) => x.name === name);
    return !r ? '-' : ok(r) ? `${fmt(r.mean)} ± ${fmt(r.std)}` : value(r);
  };
  const rows = names.map((n) => [n, cell(large.embedded, n), cell(large.rabbitmq, n), cell(large.nats, n)]);
  const raw = large.anchors.map((r) => [r.name, ok(r) ? `${fmt(r.mean)} ± ${fmt(r.std)}` : value(r)]);
  return [
    'A value larger than half a message of the bus travels as a blob: the process that needs it pulls it from the one that has it, in chunks of one message (RabbitMQ: 16 MiB, `RAYBUS_MAX_MESSAGE_BYTES`; NATS: `max_payload` − 4 KiB, 1 MiB by default), 4 in flight, each checked by its seal (the clusters of the bench have a key). The embedded default takes any size in one message: the driver writes a value\'s serialized bytes to the worker\'s pipe as they are, and the worker reads them straight into the buffer the value is decoded from (docs/ARCHITECTURE.md, \"Values of many megabytes on a pipe\").',
    '',
    table(['MB/s (mean ± std of 3 ops after 2 untimed)', 'raybus embedded', 'raybus RabbitMQ', 'raybus NATS'], rows),
    '',
    table(['raw client, same bytes', 'MB/s'], raw),
  ].join('\n');
}

const anyRetried = (data) =>
  [...data.embedded, ...(data.rabbitmq.results ?? []), ...data.scaling.actors, ...data.scaling.nodes.flatMap((set) => set.rows)].some((r) => r.retried);

/** What bounds the figures that miss their targets (measured with benchmarks/quick.mjs and --cpu-prof). */
const BOUNDS = [
  'What bounds *sync* figures: one call is two wake-ups of another process (owner → worker → owner), as in the raw IPC anchor\'s sync figure, plus the work on each side; on this machine a wake-up costs 100–300 µs, so sync figures follow the anchor (see the × columns), not the CPU. A worker polls its pipe for up to 120 µs after it answers while calls come back that soon (`RAYBUS_WORKER_POLL_US`), so in a loop of calls one at a time the owner\'s write wakes nobody: one wake-up a call, the owner\'s. On RabbitMQ a task crosses the broker twice and the node ↔ worker pipe twice, where amqplib\'s request/reply crosses the broker twice.',
  'What bounds figures with many in flight (embedded): CPU per trivial call, about 50 µs in the driver and 50–70 µs in a worker (`node benchmarks/quick.mjs`: envelope encoding and decoding, the in-process bus, ObjectRef bookkeeping, garbage collection); the driver and two workers share 2 cores. Tasks are pipelined on a worker while a function\'s calls run under 1 ms (as many as make about 20 ms of work, at most 512) and frames travel in batches, so the IPC round trip no longer bounds them.',
  'What bounds figures with many in flight (RabbitMQ): the broker, the busiest process. raybus\'s messages are persistent on durable queues, with publisher confirms and acknowledgements, so that a broker restart loses no task, call or result (tested); the amqplib and Moleculer anchors use transient messages without confirms. Messages to one worker or reply queue (and actor calls that are never retried) travel batched, one broker message per queue and event-loop turn.',
  'What bounds 100 MB values: a value\'s receiver holds it in memory of its own, new each time, whose first touch costs page faults (about 70 ms per 100 MB on this VM, `node benchmarks/large-values-cpu.mjs embedded get` gives each process\'s CPU); an argument is also copied once as it is serialized when the call is made (Ray\'s semantics: changing the buffer afterwards does not change the argument), and a return value is first made by the task. The raw pipe anchor drops the bytes as they arrive and pays none of this; the raw pipe whose child keeps each value pays the first. The rows *workers keeping freed memory* run on workers started with README.md\'s setting for large values (`GLIBC_TUNABLES` in the runtime env: malloc\'s heap instead of fresh mappings, up to 256 MB freed kept mapped), where a value read by a worker lands in memory already touched once the worker has held one; the driver\'s copy of an argument still lands in fresh memory (the driver is the user\'s process, started before raybus can set anything). It is not the default: an idle worker keeps ~0.7 MB more (44.5 → 45.2 MB), and a worker keeps the memory of its largest values. On the brokers, the chunks cross one more process than the raw clients\' (driver → broker → node → pipe → worker) and each is sealed and checked (a Poly1305 tag from 8 KiB: about 8 ms per 100 MB on each side, where HMAC-SHA256 cost 60): CPU, on 2 cores shared by four processes.',
];

/** Queued tasks: the largest size at this share of the smallest's rate, under this much memory and lag. */
const QUEUED_MIN_RATIO = 0.8;
const QUEUED_MAX_BYTES = 1024;
const QUEUED_MAX_LAG_MS = 100;

/** One line per target (targets.mjs, and the queued-tasks targets above) this run missed. */
function missedTargets(data) {
  const out = [];
  const sections = [
    ['embedded', 'embedded', data.embedded],
    ['rabbitmq', 'RabbitMQ', data.rabbitmq.na ? [] : data.rabbitmq.results],
    ['nats', 'NATS', !data.nats || data.nats.na ? [] : data.nats.results],
  ];
  for (const [mode, label, results] of sections) {
    for (const r of results) {
      const cell = targetCell(r.key, r, mode, data.anchors, mode === 'embedded' ? data.embeddedRatios : undefined);
      if (cell.endsWith('✗')) out.push(`Target missed (${label}): ${r.name} ${fmt(r.mean)}: ${cell.slice(0, -2)}.`);
    }
  }
  for (const r of data.scaling.queued ?? []) {
    if (r.error) continue;
    const n = r.tasks.toLocaleString('en-US');
    if (r.ratio !== undefined && r.ratio < QUEUED_MIN_RATIO) out.push(`Target missed (queued tasks): ${n} at ${r.ratio.toFixed(2)}× the per-task rate of the first size < ${QUEUED_MIN_RATIO}.`);
    if (r.heapBytesPerTask >= QUEUED_MAX_BYTES) out.push(`Target missed (queued tasks): ${n} hold ${fmt(r.heapBytesPerTask)} B of live heap per task ≥ ${QUEUED_MAX_BYTES}.`);
    if (r.maxLagMs >= QUEUED_MAX_LAG_MS) out.push(`Target missed (queued tasks): ${n}: event-loop lag reached ${fmt(r.maxLagMs)} ms ≥ ${QUEUED_MAX_LAG_MS}.`);
  }
  return out;
}

/** The headline bodies alternating with raw fork IPC (embedded-ratios.mjs). */
function sameSittingTable(rows) {
  if (!rows?.length) return 'Not measured in this run.';
  const body = rows.map((r) => [r.name, r.raybus.map(fmt).join(' / '), r.fork.map(fmt).join(' / '), r.ratios.map((x) => x.toFixed(2)).join(' / '), `${r.median.toFixed(2)}×`]);
  return [
    "Each headline body timed three times, each time followed at once by raw fork IPC's same body (1 in flight or 1,000 in flight), as the table above times them; a pair's two loops run seconds apart, where the anchors' own stage below runs minutes after raybus's, at another load. The embedded share targets are judged on the median of the three ratios; the absolute floors on the table above.",
    '',
    table(['metric', 'raybus (ops/s, 3 pairs)', 'fork IPC (ops/s, same pairs)', 'ratios', 'median'], body),
  ].join('\n');
}

/** Metrics off and on, same run (metrics-cost.mjs). */
function metricsCostTable(mc) {
  if (!mc) return 'Not measured in this run.';
  if (mc.error) return `n/a (${mc.error}).`;
  const rows = mc.rows.map((r) => [r.name, fmt(r.off), fmt(r.on), ratio(r.on, r.off)]);
  return [
    `The embedded default's headline loops with metrics off (\`init()\`) and on (\`init({ dashboard: { port: 0 } })\`, /metrics scraped every ${mc.scrapeMs / 1000} s: ${mc.scrapes} scrapes), alternating off / on ${mc.passes} times in this run; each figure is the mean of its passes (ops/s).`,
    '',
    table(['metric', 'metrics off', 'metrics on', 'on ÷ off'], rows),
  ].join('\n');
}

/** The whole report as Markdown. */
export function renderReport(data) {
  const m = data.machine;
  const t = data.timing;
  const rabbit = data.rabbitmq.na
    ? `raybus on RabbitMQ: **n/a** (${data.rabbitmq.na}).`
    : raybusTable(data.rabbitmq.results, data.anchors.filter((a) => a.id === 'amqplib' || a.id === 'moleculer'), 'rabbitmq');
  return [
    '# raybus benchmarks',
    '',
    `Generated by \`npm run bench\` (benchmarks/run.mjs) on ${data.date}; took ${data.durationS.toFixed(0)} s. Do not edit by hand.`,
    '',
    '## Headline',
    '',
    headline(data),
    '',
    '## Machine',
    '',
    table(['fact', 'value'], [
      ['cores', `${m.cores} × ${m.cpuModel}`],
      ['memory', `${m.memoryGB.toFixed(1)} GB`],
      ['load average (1/5/15 min) at start; at end', `${data.loadAtStart.map((x) => x.toFixed(2)).join(' / ')}; ${m.loadAvg.map((x) => x.toFixed(2)).join(' / ')}`],
      ['Node.js', m.node],
      ['OS', m.os],
      ['RabbitMQ', m.rabbitmq],
      ['NATS', m.nats ?? 'n/a'],
      ['raybus', m.raybus],
      ['amqplib / moleculer', `${m.amqplib} / ${m.moleculer}`],
    ]),
    '',
    '## Method',
    '',
    `As Ray's ray_perf.py (\`timeit\`): warm-up ${t.warmupMs} ms${t.warmupOps ? ` and at least ${fmt(t.warmupOps)} operations (at most ${t.maxWarmupMs} ms; every loop alike, raybus's and the anchors': V8 optimizes a function after it ran enough times, and a loop of a few hundred calls a second is still unoptimized after 1 s)` : ''}, then ${t.rounds} timed rounds of ≥ ${t.roundMs} ms; each round's rate = multiplier × calls / seconds; the figure is the mean of the round rates ± their std (Ray: 1 s warm-up, 4 rounds of 2 s, after a 10 s sleep; set BENCH_WARMUP_MS=1000 BENCH_ROUND_MS=2000 for Ray's timing). Rounds stop at ${fmt(t.maxCallsPerRound)} calls or at the round time; each metric has a deadline. p50 / p99 are the latencies of one call of the body (one round trip for *sync*, one batch of 1,000 for *async*). ${data.full ? 'Sizes: Ray\'s (BENCH_FULL=1).' : 'Sizes scaled down for 2 cores (BENCH_FULL=1 for Ray\'s): multi client tasks 4 × 1,000 (Ray 4 × 10,000), 1:n and n:n 1,000 calls per actor/task (Ray 5,000), n:n with arg 250 per client (Ray 1,000); the multiplier follows, so the unit is unchanged.'} Ray's figures are from a 64-vCPU machine (m5.16xlarge), version A of Ray's release/perf_metrics/microbenchmark.json. † marks metrics raybus adds (with-arg variants), not in Ray's list. Placement groups: 100 groups of one \`{ CPU: 0.001 }\` bundle per operation (Ray: \`{ custom: 0.001 }\`, which needs a custom resource at init). Not ported: multi client put gigabytes (10 × 10 × 80 MB per operation does not fit this machine's budget). Anchors: a raybus figure with one round trip at a time is compared with the anchor's *sync* figure, one with many in flight with its *async* (1,000 in flight) figure; the embedded default is compared with raw child-process IPC with \`advanced\` serialization (the worker pool a Node user would build instead; raybus's node and workers exchange length-prefixed batches of binary frames on a pipe of their own, \`src/transport/ipc-link.ts\`), RabbitMQ figures with raw amqplib and Moleculer on the same broker in the same run.`,
    '',
    '## raybus, embedded default (`await ray.init()`)',
    '',
    raybusTable(data.embedded, data.anchors.filter((a) => a.id === 'fork'), 'embedded', data.embeddedRatios),
    '',
    '### Same-sitting ratios to fork IPC (the embedded targets)',
    '',
    sameSittingTable(data.embeddedRatios),
    '',
    '## The cost of metrics (embedded, same run)',
    '',
    metricsCostTable(data.metricsCost),
    '',
    `## raybus on RabbitMQ (\`init({ address: '${data.amqpUrlShown}' })\`)`,
    '',
    rabbit,
    '',
    `## raybus on NATS JetStream (\`init({ address: '${data.natsUrlShown ?? 'nats://…'}' })\`)`,
    '',
    !data.nats || data.nats.na
      ? `raybus on NATS: **n/a** (${data.nats?.na ?? 'not measured in this run'}).`
      : raybusTable(data.nats.results, data.anchors.filter((a) => a.id === 'nats' || a.id === 'moleculer-nats'), 'nats'),
    '',
    '## Values of 100 MB',
    '',
    largeValuesTable(data.large),
    '',
    '## Anchors',
    '',
    anchorTable(data.anchors),
    '',
    '## Scaling',
    '',
    scalingTables(data.scaling),
    '',
    '## Notes',
    '',
    ...[...missedTargets(data), ...data.notes].map((n) => `- ${n}`),
    ...(anyRetried(data) ? ['- (retried): a worker process failed to start the first time (in a shared checkout, dist/ being rebuilt by someone else does this); the row is the second measurement.'] : []),
    ...BOUNDS.map((b) => `- ${b}`),
    '- The figures move with the machine\'s load (see the load average above; other work shares these 2 cores): rerun on a quiet machine before comparing runs. Round trips between two processes are the most sensitive (one wake-up of the other process per message).',
    '- Profile the driver side of the sync task loop with `node --cpu-prof --cpu-prof-dir=/tmp/prof benchmarks/profile-tasks-sync.mjs`, then `node benchmarks/tools/cpu-profile-summary.mjs /tmp/prof/*.cpuprofile`.',
    '',
  ].join('\n');
}

// `node benchmarks/report.mjs`: render RESULTS.md again from results.json (the last run's
// measurements), after a change to the report's wording or layout.
if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  const { readFile, writeFile } = await import('node:fs/promises');
  const data = JSON.parse(await readFile(new URL('./results.json', import.meta.url), 'utf8'));
  await writeFile(new URL('./RESULTS.md', import.meta.url), renderReport(data));
  console.log('rendered benchmarks/RESULTS.md from benchmarks/results.json');
}
