/**
 * Work waiting for resources, in submission order. Every pass tries each waiting placement:
 * those that fit are granted, those that do not fit yet stay (and so does later work of the
 * same shape, keeping FIFO within a shape), and infeasible work waits visibly — one warning
 * naming it and its demand — without blocking feasible work behind it (Ray's infeasible
 * tasks). A pass runs after every change (enqueue, release, node added), batched per turn.
 */
import type { NodeId, ReplyQueue } from '../protocol/ids';
import type { ClusterState, Resources } from '../protocol/wire';
import type { PlacementDecision } from '../scheduling/strategies/placement-strategy';
import type { Grant, PendingPlacement } from './grants';

/** Where a placement goes now; `bundle` names the placement-group bundle to reserve from. */
export type QueueDecision = PlacementDecision & { readonly bundle?: string };

/** What a {@link PlacementQueue} needs. */
export interface PlacementQueueOptions {
  /** Ask the strategy of `p` where it goes now. */
  decide(p: PendingPlacement): QueueDecision;
  /** Reserve `demand` on `node` (or in `bundle`); null when it does not fit. */
  reserve(node: NodeId, demand: Resources, bundle?: string): Grant | null;
  /** A new leader still waits for node reports: nothing is infeasible yet. */
  restoring(): boolean;
  /** Infeasible work (and the owner to tell, when known). */
  warn(message: string, owner?: ReplyQueue): void;
  /** `p` was found infeasible (once, after `warn`). */
  infeasible?(p: PendingPlacement): void;
  /** A pass ended with work that could run once resources are released (not infeasible work). */
  waiting?(): void;
}

/** Waiting placements in submission order, tried again after every change. */
export class PlacementQueue {
  private readonly pending: PendingPlacement[] = [];
  private dispatchScheduled = false;

  constructor(private readonly options: PlacementQueueOptions) {}

  /** Queue a placement; it is tried on the next pass and after every release. */
  enqueue(p: PendingPlacement): void {
    this.pending.push(p);
    this.scheduleDispatch();
  }

  /** Take `p` off the queue (no-op if it is not queued). */
  remove(p: PendingPlacement): void {
    const i = this.pending.indexOf(p);
    if (i >= 0) this.pending.splice(i, 1);
  }

  /** What waits, in order (a copy). */
  items(): PendingPlacement[] {
    return [...this.pending];
  }

  /** What waits, as `raybus status` lists it. */
  list(): ClusterState['pending'] {
    return this.pending.map((p) => ({
      id: p.id,
      kind: p.attempt ? 'placement-group' : p.actorCreation ? 'actor' : 'task',
      description: p.describe,
      demand: { ...p.demand },
      infeasible: p.warned === true,
    }));
  }

  /** Run a pass at the end of this turn (once, however often it is asked). */
  scheduleDispatch(): void {
    if (this.dispatchScheduled) return;
    this.dispatchScheduled = true;
    queueMicrotask(() => {
      this.dispatchScheduled = false;
      this.dispatch();
    });
  }

  /** Try every waiting placement in order; those that do not fit stay, others go on. */
  private dispatch(): void {
    const blockedShapes = new Set<string>();
    let waits = false;
    for (let i = 0; i < this.pending.length; ) {
      const p = this.pending[i]!;
      if (p.attempt) {
        const r = p.attempt();
        if (r === 'placed') {
          this.pending.splice(i, 1);
          continue;
        }
        if (r === 'infeasible') this.warnInfeasible(p);
        else waits = true;
        i++;
        continue;
      }
      const shape = JSON.stringify(p.demand) + JSON.stringify(p.strategy);
      if (blockedShapes.has(shape)) {
        i++;
        continue;
      }
      const decision = this.options.decide(p);
      if (decision.kind === 'node') {
        const grant = this.options.reserve(decision.nodeId as NodeId, p.demand, decision.bundle);
        if (!grant) {
          blockedShapes.add(shape);
          waits = true;
          i++;
          continue;
        }
        this.pending.splice(i, 1);
        p.place(grant);
        continue;
      }
      if (decision.kind === 'unschedulable') {
        this.pending.splice(i, 1);
        p.fail(decision.reason);
        continue;
      }
      if (decision.kind === 'infeasible') this.warnInfeasible(p);
      else waits = true;
      // Same shape later in the queue cannot fit either: keep FIFO within a shape.
      blockedShapes.add(shape);
      i++;
    }
    if (waits) this.options.waiting?.();
  }

  private warnInfeasible(p: PendingPlacement): void {
    // A new leader does not know every node yet: nothing is infeasible before they reported.
    if (p.warned || this.options.restoring()) return;
    p.warned = true;
    this.options.warn(`raybus: ${p.describe} is infeasible: no node in the cluster could ever provide it. It stays pending until a node that fits joins.`, p.notify);
    this.options.infeasible?.(p);
  }
}
