/**
 * `raybus logs --actor ID | --task ID [--follow]`: print a worker's log files, read through
 * its node. The worker is the actor's, or the one that ran the task (for `--task`, only the
 * lines that task wrote: workers mark in their files which task writes). stdout lines go to
 * stdout, stderr lines to stderr; `--follow` keeps printing what is appended until Ctrl+C.
 */

import type { NodeId, WorkerId } from '../protocol/ids';
import type { StateClient } from '../observability/state-client';
import { MAX_LIMIT } from '../observability/state-query';
import { parseTaskMarker } from '../observability/log-markers';
import { systemClock, sleep } from '../util/clock';
import type { ParsedArgs } from './args';
import { withCluster } from './status-command';
import { cliStateClient } from './state-commands';

/** How often `--follow` looks for more (ms). */
const FOLLOW_EVERY_MS = 500;
const CHUNK = 256 * 1024;

interface Target {
  readonly node: NodeId;
  readonly worker: WorkerId;
  readonly what: string;
}

export async function runLogs(args: ParsedArgs): Promise<number> {
  return withCluster(args, async (t) => {
    const client = cliStateClient(t, 'logs');
    const target = await findWorker(client, args);
    const streams = (['out', 'err'] as const).map((stream) => ({ stream, offset: 0, partial: '', inTask: args.task === undefined, printed: 0 }));
    let stop = false;
    const onSignal = (): void => {
      stop = true;
    };
    process.once('SIGINT', onSignal).once('SIGTERM', onSignal);
    try {
      for (;;) {
        for (const s of streams) {
          for (;;) {
            const chunk = await client.readLog(target.node, target.worker, s.stream, s.offset, CHUNK);
            if (chunk.err) throw new Error(`${target.what}: ${chunk.err}`);
            s.offset = chunk.next;
            const text = s.partial + chunk.data;
            const lines = text.split('\n');
            s.partial = lines.pop()!;
            const out: string[] = [];
            for (const line of lines) {
              const marker = parseTaskMarker(line);
              if (marker !== undefined) s.inTask = args.task === undefined || marker === args.task;
              else if (s.inTask) out.push(line);
            }
            if (out.length > 0) (s.stream === 'out' ? process.stdout : process.stderr).write(`${out.join('\n')}\n`);
            s.printed += out.length;
            if (chunk.next >= chunk.size || chunk.data === '') break;
          }
        }
        if (!args.follow || stop) break;
        await sleep(systemClock, FOLLOW_EVERY_MS);
        if (stop) break;
      }
    } finally {
      process.off('SIGINT', onSignal).off('SIGTERM', onSignal);
    }
    if (!args.follow && streams.every((s) => s.printed === 0)) process.stderr.write(`raybus logs: ${target.what} wrote nothing (worker ${target.worker} on node ${target.node})\n`);
    return 0;
  });
}

/** The node and worker of the actor or task asked for. */
async function findWorker(client: StateClient, args: ParsedArgs): Promise<Target> {
  let worker: string | undefined;
  let what: string;
  if (args.actor !== undefined) {
    what = `actor ${args.actor}`;
    const { items } = await client.list('actors', { filters: [['actorId', '=', args.actor]], limit: 1, detail: true });
    if (items.length === 0) throw new Error(`no actor ${args.actor} in this cluster`);
    worker = items[0]!.workerId;
    if (!worker) throw new Error(`actor ${args.actor} has not started on a worker (state ${items[0]!.state})`);
  } else {
    what = `task ${args.task}`;
    const { items } = await client.list('tasks', { filters: [['taskId', '=', args.task!]], limit: 1, detail: true });
    if (items.length === 0) throw new Error(`no task ${args.task} is known to its owner (it is gone, or its owner's buffer dropped it)`);
    const task = items[0]!;
    worker = task.workerId;
    if (!worker && task.actorId) {
      const actor = await client.list('actors', { filters: [['actorId', '=', task.actorId]], limit: 1, detail: true });
      worker = actor.items[0]?.workerId;
    }
    if (!worker) throw new Error(`task ${args.task} has not run on a worker (state ${task.state})`);
  }
  return { node: await nodeOfWorker(client, worker), worker: worker as WorkerId, what };
}

/** A worker id starts with its node's id (ids.ts): find that node. */
async function nodeOfWorker(client: StateClient, worker: string): Promise<NodeId> {
  const { items } = await client.list('nodes', { filters: [], limit: MAX_LIMIT, detail: false });
  const node = items.find((n) => worker.startsWith(n.nodeId.slice(0, 8)));
  if (!node) throw new Error(`the node of worker ${worker} is not in this cluster any more`);
  return node.nodeId as NodeId;
}

