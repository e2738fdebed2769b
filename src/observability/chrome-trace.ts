/**
 * The timeline in Chrome's trace event format (what `chrome://tracing` and Perfetto open): one
 * process per node, one thread per worker process (its pid), one complete event (`"ph": "X"`)
 * per execution, with metadata events naming nodes and workers. Times are in microseconds.
 */
import type { TimelineEvent } from '../protocol/state';

/** One event of a Chrome trace. */
export interface ChromeTraceEvent {
  name: string;
  cat?: string;
  ph: 'X' | 'M';
  ts: number;
  dur?: number;
  pid: number;
  tid: number;
  args?: Record<string, unknown>;
}

/** A Chrome trace (JSON object format). */
export interface ChromeTrace {
  traceEvents: ChromeTraceEvent[];
  displayTimeUnit: 'ms';
}

/** The trace of `events` (nodes numbered from 1 in order of first appearance). */
export function chromeTrace(events: readonly TimelineEvent[]): ChromeTrace {
  const nodes = new Map<string, number>();
  const threads = new Set<string>();
  const meta: ChromeTraceEvent[] = [];
  const out: ChromeTraceEvent[] = [];
  for (const e of events) {
    let pid = nodes.get(e.nodeId);
    if (pid === undefined) {
      pid = nodes.size + 1;
      nodes.set(e.nodeId, pid);
      meta.push({ name: 'process_name', ph: 'M', ts: 0, pid, tid: 0, args: { name: `node ${e.nodeId.slice(0, 8)}` } });
    }
    const thread = `${pid}:${e.pid}`;
    if (!threads.has(thread)) {
      threads.add(thread);
      meta.push({ name: 'thread_name', ph: 'M', ts: 0, pid, tid: e.pid, args: { name: `worker ${e.workerId} (pid ${e.pid})` } });
    }
    out.push({
      name: e.name,
      cat: e.failed ? 'task,failed' : 'task',
      ph: 'X',
      ts: e.startUs,
      dur: Math.max(e.durUs, 1),
      pid,
      tid: e.pid,
      args: { taskId: e.taskId, workerId: e.workerId, nodeId: e.nodeId, ...(e.failed ? { failed: true } : {}) },
    });
  }
  return { traceEvents: [...meta, ...out], displayTimeUnit: 'ms' };
}
