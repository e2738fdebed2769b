/**
 * A process's answer to a `metrics` state query: the counters it keeps anyway (its bus
 * traffic; an owner's task durations), read when asked. The dashboard sums them across the
 * cluster at scrape time; each process is counted once, by its random id, however many of its
 * parts answer (the embedded default's driver and node share one process).
 */
import { randomHex } from '../util/node-crypto';
import type { DurationCounts, ProcessMetrics } from '../protocol/state';
import type { StateAnswerMsg } from '../protocol/messages/state';
import { transportCounters } from '../transport/transport-counters';
import { processGlobal } from '../util/process-global';

/** This process's metrics, with the task durations it counted when it owns tasks. */
export function processMetrics(durations?: DurationCounts): ProcessMetrics {
  const t = transportCounters;
  return {
    proc: processGlobal('metrics-proc', () => randomHex(8)),
    transport: { sent: t.sent, sentBytes: t.sentBytes, received: t.received, receivedBytes: t.receivedBytes },
    ...(durations ? { durations } : {}),
  };
}

/** The cluster's metrics: every process's counters summed, each process once. */
export interface ClusterMetrics {
  /** Processes that answered. */
  processes: number;
  durations: DurationCounts;
  transport: { sent: number; sentBytes: number; received: number; receivedBytes: number };
}

/** Sum the answers to a `metrics` query (a process's parts may answer separately: merged by id). */
export function mergeMetrics(answers: readonly StateAnswerMsg[], buckets: number): ClusterMetrics {
  const byProc = new Map<string, ProcessMetrics>();
  for (const a of answers) {
    const m = a.metrics;
    if (!m) continue;
    const seen = byProc.get(m.proc);
    byProc.set(m.proc, seen ? { ...seen, ...m, durations: m.durations ?? seen.durations, transport: m.transport ?? seen.transport } : m);
  }
  const out: ClusterMetrics = {
    processes: byProc.size,
    durations: { counts: new Array<number>(buckets + 1).fill(0), sum: 0, count: 0 },
    transport: { sent: 0, sentBytes: 0, received: 0, receivedBytes: 0 },
  };
  for (const m of byProc.values()) {
    if (m.durations) {
      m.durations.counts.forEach((n, i) => {
        if (i < out.durations.counts.length) out.durations.counts[i]! += n;
      });
      out.durations.sum += m.durations.sum;
      out.durations.count += m.durations.count;
    }
    if (m.transport) {
      out.transport.sent += m.transport.sent;
      out.transport.sentBytes += m.transport.sentBytes;
      out.transport.received += m.transport.received;
      out.transport.receivedBytes += m.transport.receivedBytes;
    }
  }
  return out;
}
