/**
 * `GET /metrics`: the cluster in Prometheus's text format (prom-client), from a snapshot taken
 * at scrape time. Labels are names, states and reasons only — never task, worker or actor ids —
 * so the number of series stays bounded by the code, not by the work. Counts that processes
 * keep (bus traffic, task durations) are summed across the processes that answered: a process
 * that exits takes its share with it, which Prometheus reads as a counter reset.
 */
import type * as PromClient from 'prom-client';
import { TASK_DURATION_BUCKETS_S } from '../protocol/state';
import type { DashboardSnapshot } from './snapshot';

type Labels = Record<string, string>;

/** The metrics registry of one dashboard. */
export class DashboardMetrics {
  readonly registry: PromClient.Registry;
  readonly contentType: string;
  private readonly gauges: Record<'tasks' | 'actors' | 'resources' | 'nodes' | 'pending' | 'queueMessages' | 'queueUnacked', PromClient.Gauge>;
  private readonly counters: Record<'messages' | 'bytes' | 'refused', PromClient.Counter>;
  private durations: DashboardSnapshot['durations'] = { counts: [], sum: 0, count: 0 };

  constructor() {
    // Loaded with the first dashboard only: drivers without one never pay for it.
    const prom = require('prom-client') as typeof PromClient;
    const registry = (this.registry = new prom.Registry());
    this.contentType = registry.contentType;
    prom.collectDefaultMetrics({ register: registry });
    const gauge = (name: string, help: string, labelNames: string[]): PromClient.Gauge => new prom.Gauge({ name, help, labelNames, registers: [registry] });
    const counter = (name: string, help: string, labelNames: string[]): PromClient.Counter => new prom.Counter({ name, help, labelNames, registers: [registry] });
    this.gauges = {
      tasks: gauge('raybus_tasks', 'Tasks and actor calls by function and state, as their owners keep them (finished ones: the last 100 000 per owner).', ['name', 'state']),
      actors: gauge('raybus_actors', 'Actors by class and state.', ['class', 'state']),
      resources: gauge('raybus_resources', 'Resources of the alive nodes: total, used and available.', ['name', 'state']),
      nodes: gauge('raybus_nodes', 'Nodes by state.', ['state']),
      pending: gauge('raybus_pending', 'Work waiting for resources at the broker (lease requests, actors, placement groups), feasible or not.', ['kind', 'infeasible']),
      queueMessages: gauge('raybus_queue_messages', 'Messages ready in the queues the state API knows of (broker, nodes, workers, actor mailboxes), by kind of queue.', ['kind']),
      queueUnacked: gauge('raybus_queue_unacked', 'Messages delivered and not yet acknowledged, by kind of queue (where the bus tells).', ['kind']),
    };
    this.counters = {
      messages: counter('raybus_transport_messages_total', "Messages the cluster's processes sent and received on the bus.", ['direction']),
      bytes: counter('raybus_transport_bytes_total', "Payload bytes the cluster's processes sent and received on the bus.", ['direction']),
      refused: counter('raybus_messages_refused_total', "Messages the cluster's processes refused, by reason (unauthenticated, malformed).", ['reason']),
    };
    registry.registerMetric(this.durationHistogram() as unknown as PromClient.Metric);
  }

  /** Set every series from `s` (called at scrape time). */
  update(s: DashboardSnapshot): void {
    const g = this.gauges;
    for (const x of Object.values(g)) x.reset();
    for (const f of s.functions) for (const [state, n] of Object.entries(f.counts)) g.tasks.set({ name: f.name, state }, n ?? 0);
    for (const c of Object.values(s.actorSummary)) for (const [state, n] of Object.entries(c.stateCounts)) g.actors.set({ class: c.className, state }, n ?? 0);
    for (const r of s.overview.resources) {
      g.resources.set({ name: r.name, state: 'total' }, r.total);
      g.resources.set({ name: r.name, state: 'used' }, r.used);
      g.resources.set({ name: r.name, state: 'available' }, Math.max(0, r.total - r.used));
    }
    for (const [state, n] of Object.entries(s.overview.nodes)) g.nodes.set({ state: state.toUpperCase() }, n);
    const pending = new Map<string, { labels: Labels; n: number }>();
    for (const p of s.overview.pending) {
      const key = `${p.kind}/${p.infeasible}`;
      const e = pending.get(key) ?? { labels: { kind: p.kind, infeasible: String(p.infeasible) }, n: 0 };
      e.n += 1;
      pending.set(key, e);
    }
    for (const { labels, n } of pending.values()) g.pending.set(labels, n);
    const byKind = new Map<string, { messages: number; unacked?: number }>();
    for (const q of s.transport.queues) {
      const e = byKind.get(q.kind) ?? { messages: 0 };
      e.messages += q.messages;
      if (q.unacked !== undefined) e.unacked = (e.unacked ?? 0) + q.unacked;
      byKind.set(q.kind, e);
    }
    for (const [kind, e] of byKind) {
      g.queueMessages.set({ kind }, e.messages);
      if (e.unacked !== undefined) g.queueUnacked.set({ kind }, e.unacked);
    }
    const c = this.counters;
    for (const x of Object.values(c)) x.reset();
    const t = s.transport.traffic;
    c.messages.inc({ direction: 'sent' }, t.sent);
    c.messages.inc({ direction: 'received' }, t.received);
    c.bytes.inc({ direction: 'sent' }, t.sentBytes);
    c.bytes.inc({ direction: 'received' }, t.receivedBytes);
    for (const [reason, n] of Object.entries(s.transport.refused)) c.refused.inc({ reason }, n);
    this.durations = s.durations;
  }

  /** The text a scrape gets. */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  /** `raybus_task_duration_seconds`: the owners' bucket counts, made cumulative. */
  private durationHistogram(): object {
    const name = 'raybus_task_duration_seconds';
    const help = 'How long tasks and actor calls ran, as their workers measured (counted by their owners when they finish).';
    return {
      name,
      help,
      type: 'histogram',
      aggregator: 'sum',
      get: () => {
        const d = this.durations;
        const values: Array<{ metricName: string; labels: Labels; value: number }> = [];
        let cumulative = 0;
        TASK_DURATION_BUCKETS_S.forEach((le, i) => {
          cumulative += d.counts[i] ?? 0;
          values.push({ metricName: `${name}_bucket`, labels: { le: String(le) }, value: cumulative });
        });
        cumulative += d.counts[TASK_DURATION_BUCKETS_S.length] ?? 0;
        values.push({ metricName: `${name}_bucket`, labels: { le: '+Inf' }, value: cumulative });
        values.push({ metricName: `${name}_sum`, labels: {}, value: d.sum });
        values.push({ metricName: `${name}_count`, labels: {}, value: d.count });
        return { name, help, type: 'histogram', aggregator: 'sum', values };
      },
      reset: () => undefined,
    };
  }
}
