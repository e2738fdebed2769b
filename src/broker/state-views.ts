/**
 * What the broker answers to the state API (`state-request`): its actors (with their death
 * causes), nodes and placement groups as rows, filtered and paged like every holder's, and the
 * actors counted by class and state (`summarizeActors`, and the creation tasks of
 * `summarizeTasks`). Read-only views over the broker's tables.
 */
import type { NodeId } from '../protocol/ids';
import type { StateAnswerMsg, StateRequestMsg } from '../protocol/messages/state';
import type { ActorDeathReason, ActorItem, ActorState, NodeItem, PlacementGroupItem } from '../protocol/state';
import type { ActorSpec } from '../protocol/wire';
import type { DeathCause } from '../actors/actor-lifecycle.machine';
import type { ResourceLedger } from '../scheduling/ledger/resource-ledger';
import { selectSlice } from '../observability/state-query';
import { CREATION_FAILED } from '../observability/state-merge';
import { isDead, type ActorTable } from './actor-table';

/** Ray's reasons for the lifecycle machine's causes of death. */
const REASONS: Record<DeathCause, ActorDeathReason> = {
  init_failed: 'CREATION_TASK_FAILED',
  killed: 'RAY_KILL',
  exited: 'INTENDED_USER_EXIT',
  crashed: 'WORKER_DIED',
  owner_died: 'OWNER_DIED',
  name_taken: 'NAME_TAKEN',
  unschedulable: 'UNSCHEDULABLE',
};

/** Causes under which the actor's creation task failed (it never ran, or threw). */
const CREATION_FAILURES: ReadonlySet<DeathCause> = new Set(['init_failed', 'unschedulable', 'name_taken']);

/** Where the node rows come from. */
export interface NodeRows {
  readonly ledger: ResourceLedger;
  all(): NodeId[];
  isDraining(node: NodeId): boolean;
  /** When the node registered first, and when it died or left. */
  times(node: NodeId): { start?: number; end?: number };
  /** The node the broker runs on. */
  readonly head?: string;
}

/** Everything a state request may read. */
export interface StateViewSources {
  readonly actors: ActorTable;
  readonly nodes: NodeRows;
  placementGroups(): PlacementGroupItem[];
}

/** The broker's answer to `msg`. */
export function answerStateRequest(msg: StateRequestMsg, src: StateViewSources): StateAnswerMsg {
  const base = { t: 'state-answer' as const, req: msg.req, from: { kind: 'broker' as const, id: 'broker', pid: process.pid } };
  switch (msg.what) {
    case 'actor-summary':
      return { ...base, items: [], total: 0, more: false, counts: actorCounts(src.actors) };
    case 'actors': {
      const ids = msg.ids ? new Set(msg.ids) : undefined;
      const rows = actorItems(src.actors).filter((a) => !ids || ids.has(a.actorId));
      return { ...base, ...selectSlice('actors', rows, msg) };
    }
    case 'nodes':
      return { ...base, ...selectSlice('nodes', nodeItems(src.nodes), msg) };
    case 'placement-groups':
      return { ...base, ...selectSlice('placement-groups', src.placementGroups(), msg) };
  }
}

/** Every actor the registry knows (dead ones too), as rows. */
function actorItems(table: ActorTable): ActorItem[] {
  const out: ActorItem[] = [];
  for (const r of table.records.values()) {
    const snap = r.machine.getSnapshot();
    const item = actorRow(r.spec, String(snap.value) as ActorState, snap.context.numRestarts);
    if (r.grant) item.nodeId = r.grant.node;
    if (r.worker) item.workerId = r.worker;
    if (r.pid !== undefined && !isDead(r)) item.pid = r.pid;
    const cause = snap.context.deathCause;
    if (snap.value === 'DEAD' && cause) item.deathCause = { reason: REASONS[cause], message: snap.context.deathMessage ?? r.deathError?.message ?? '' };
    out.push(item);
  }
  // Known from held records while a new leader rebuilds: restarting, as far as anyone can tell.
  for (const p of table.parked.values()) out.push(actorRow(p.spec, 'RESTARTING', p.restarts));
  return out;
}

function actorRow(spec: ActorSpec, state: ActorState, restarts: number): ActorItem {
  const { meta } = spec;
  const item: ActorItem = {
    actorId: spec.actorId,
    className: meta.className,
    state,
    jobId: spec.ctx.jobId,
    rayNamespace: meta.namespace,
    numRestarts: restarts,
    isDetached: spec.detached,
    maxRestarts: spec.maxRestarts,
    requiredResources: { ...spec.lifetime },
    ownerAddress: spec.owner,
  };
  if (meta.name !== undefined) item.name = meta.name;
  if (spec.strategy.kind === 'PLACEMENT_GROUP') item.placementGroupId = spec.strategy.pg;
  return item;
}

/** Actors by class and state, with how many of each class failed to be created. */
function actorCounts(table: ActorTable): Record<string, Record<string, number>> {
  const out: Record<string, Record<string, number>> = {};
  const bump = (cls: string, key: string): void => {
    const c = (out[cls] ??= {});
    c[key] = (c[key] ?? 0) + 1;
  };
  for (const r of table.records.values()) {
    const snap = r.machine.getSnapshot();
    bump(r.spec.meta.className, String(snap.value));
    if (snap.value === 'DEAD' && snap.context.deathCause && CREATION_FAILURES.has(snap.context.deathCause)) bump(r.spec.meta.className, CREATION_FAILED);
  }
  for (const p of table.parked.values()) bump(p.spec.meta.className, 'RESTARTING');
  return out;
}

/** Every node that registered (dead ones too, as in Ray). */
function nodeItems(nodes: NodeRows): NodeItem[] {
  return nodes.all().map((nodeId) => {
    const draining = nodes.isDraining(nodeId);
    const alive = nodes.ledger.isAlive(nodeId);
    const { start, end } = nodes.times(nodeId);
    const item: NodeItem = {
      nodeId,
      state: draining ? 'DRAINING' : alive ? 'ALIVE' : 'DEAD',
      isHeadNode: nodes.head === nodeId,
      resourcesTotal: { ...nodes.ledger.totals(nodeId) },
      labels: { ...nodes.ledger.labels(nodeId) },
    };
    if (alive) item.resourcesAvailable = { ...nodes.ledger.available(nodeId) };
    if (start !== undefined) item.startTimeMs = start;
    if (end !== undefined) item.endTimeMs = end;
    return item;
  });
}
