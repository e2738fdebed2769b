/**
 * `raybus list`, `raybus summary` and `raybus timeline`: the state API from the command line,
 * on a connection of the command's own. Tables (or JSON with `--json`) on stdout; progress
 * lines and notes on stderr, so JSON stays clean.
 */
import { writeFile } from 'node:fs/promises';
import type { Transport } from '../transport/transport';
import { StateClient } from '../observability/state-client';
import { BASE_COLUMNS, DEFAULT_LIMIT } from '../observability/state-query';
import { chromeTrace } from '../observability/chrome-trace';
import type { ParsedArgs } from './args';
import { withCluster } from './status-command';
import { table } from './format';

/** A state client whose slow queries say so on stderr. */
export function cliStateClient(t: Transport, cmd: string): StateClient {
  return new StateClient(t, { progress: (n) => void process.stderr.write(`raybus ${cmd}: still collecting answers (${n} so far)\n`) });
}

export async function runList(args: ParsedArgs): Promise<number> {
  const kind = args.what!;
  const page = await withCluster(args, (t) =>
    cliStateClient(t, 'list').list(kind, { filters: args.filters, limit: args.limit ?? DEFAULT_LIMIT, detail: args.detail, ...(args.cursor ? { cursor: args.cursor } : {}) }),
  );
  const rows = page.items as unknown as Array<Record<string, unknown>>;
  if (args.json) process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
  else process.stdout.write(table(rows, args.detail ? undefined : [...BASE_COLUMNS[kind]]));
  const notes: string[] = [];
  if (!args.json) notes.push(`${rows.length} of ${page.total} ${kind}`);
  if (page.dropped > 0) notes.push(`${page.dropped} finished tasks are no longer kept by their owners`);
  if (page.nextCursor) notes.push(`more: add --cursor ${page.nextCursor}`);
  if (notes.length > 0) process.stderr.write(`raybus list: ${notes.join('; ')}\n`);
  return 0;
}

export async function runSummary(args: ParsedArgs): Promise<number> {
  if (args.summarize === 'actors') {
    const s = await withCluster(args, (t) => cliStateClient(t, 'summary').summarizeActors());
    if (args.json) process.stdout.write(`${JSON.stringify(s, null, 2)}\n`);
    else {
      const rows = Object.values(s.summary).map((e) => ({ className: e.className, stateCounts: e.stateCounts }));
      process.stdout.write(`Actors: ${s.totalActors}\n\n${table(rows, ['className', 'stateCounts'])}`);
    }
    return 0;
  }
  const s = await withCluster(args, (t) => cliStateClient(t, 'summary').summarizeTasks());
  if (args.json) process.stdout.write(`${JSON.stringify(s, null, 2)}\n`);
  else {
    const rows = Object.values(s.summary).map((e) => ({ funcOrClassName: e.funcOrClassName, type: e.type, stateCounts: e.stateCounts }));
    const head = `Tasks: ${s.totalTasks}, actor tasks: ${s.totalActorTasks}, actors scheduled: ${s.totalActorScheduled}${s.dropped ? ` (${s.dropped} finished tasks no longer kept)` : ''}`;
    process.stdout.write(`${head}\n\n${table(rows, ['funcOrClassName', 'type', 'stateCounts'])}`);
  }
  return 0;
}

export async function runTimeline(args: ParsedArgs): Promise<number> {
  process.stderr.write('raybus timeline: collecting executions from the workers of the cluster\n');
  const events = await withCluster(args, (t) => cliStateClient(t, 'timeline').timeline());
  const trace = chromeTrace(events);
  await writeFile(args.out!, JSON.stringify(trace));
  const workers = new Set(events.map((e) => e.workerId)).size;
  const nodes = new Set(events.map((e) => e.nodeId)).size;
  process.stdout.write(`raybus timeline: wrote ${events.length} events (${workers} workers on ${nodes} nodes) to ${args.out}; open it in https://ui.perfetto.dev or chrome://tracing\n`);
  return 0;
}
