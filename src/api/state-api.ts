/**
 * `ray.util.state` (Ray's state API, in camelCase): list the cluster's tasks, actors, nodes,
 * workers, objects and placement groups with filters and pages, get one task or actor, and
 * summarize tasks and actors. Misuse visible from the arguments throws synchronously, naming
 * the argument; everything else needs the cluster and rejects.
 *
 * Tasks are known by their owners (the drivers and workers that submitted them), objects by
 * the processes holding them, workers by their nodes; a query is answered by all of them and
 * merged (see src/observability/state-client.ts). Actors, nodes and placement groups come from
 * the broker.
 */
import { slot } from '../core/runtime-state';
import type { ActorItem, ActorSummary, ListKind, NodeItem, ObjectItem, PlacementGroupItem, StateItems, TaskItem, TaskSummary, WorkerItem } from '../protocol/state';
import { StateClient } from '../observability/state-client';
import { resolveListOptions, type ListOptions, type ResolvedListOptions } from '../observability/state-query';
import type { ListResult } from '../observability/state-merge';
import { RaySystemError } from '../errors/ray-errors';
import { chromeTrace, type ChromeTraceEvent } from '../observability/chrome-trace';
import { writeFile } from 'node:fs/promises';

export type { ListOptions } from '../observability/state-query';
export type { ListResult } from '../observability/state-merge';

function client(fn: string): StateClient {
  const core = slot.core;
  if (!core || core.isClosed) throw new RaySystemError(`ray.util.state.${fn}: raybus is not initialized: call \`await ray.init()\` first`);
  return new StateClient(core.transport);
}

function list<K extends ListKind>(kind: K, fn: string, options: ListOptions | undefined): Promise<ListResult<StateItems[K]>> {
  const q = resolveListOptions(kind, options, `ray.util.state.${fn}`);
  return client(fn).list(kind, q);
}

/**
 * Tasks (and actor calls, and actors' creation tasks) with their states, as their owners know
 * them: PENDING_ARGS_AVAIL, PENDING_NODE_ASSIGNMENT, SUBMITTED_TO_WORKER, RUNNING, FINISHED,
 * FAILED. Finished tasks are kept 100 000 per owner; `dropped` counts those no longer kept.
 *
 * @example
 * const { items } = await ray.util.state.listTasks({ filters: [['state', '=', 'RUNNING']] });
 */
function listTasks(options?: ListOptions): Promise<ListResult<TaskItem>> {
  return list('tasks', 'listTasks', options);
}

/** Actors with their states (PENDING_CREATION, ALIVE, RESTARTING, DEAD with `deathCause`). */
function listActors(options?: ListOptions): Promise<ListResult<ActorItem>> {
  return list('actors', 'listActors', options);
}

/** Nodes (dead ones too). */
function listNodes(options?: ListOptions): Promise<ListResult<NodeItem>> {
  return list('nodes', 'listNodes', options);
}

/** Worker processes of every node (live and recently dead), and the drivers. */
function listWorkers(options?: ListOptions): Promise<ListResult<WorkerItem>> {
  return list('workers', 'listWorkers', options);
}

/** Objects, one row per process holding one (its owner, its borrowers). */
function listObjects(options?: ListOptions): Promise<ListResult<ObjectItem>> {
  return list('objects', 'listObjects', options);
}

/** Placement groups with their bundles. */
function listPlacementGroups(options?: ListOptions): Promise<ListResult<PlacementGroupItem>> {
  return list('placement-groups', 'listPlacementGroups', options);
}

function checkId(id: unknown, fn: string, what: string): string {
  if (typeof id !== 'string' || id.length === 0 || id.length > 1024) throw new TypeError(`ray.util.state.${fn}: '${what}' must be a non-empty string, got ${typeof id === 'string' ? "''" : typeof id}`);
  return id;
}

function one<K extends 'tasks' | 'actors'>(kind: K, fn: string, column: string, id: string): Promise<StateItems[K] | null> {
  const q: ResolvedListOptions = { filters: [[column, '=', id]], limit: 1, detail: true };
  return client(fn)
    .list(kind, q)
    .then((r) => r.items[0] ?? null);
}

/** One actor with every column, or null when the cluster does not know it. */
function getActor(actorId: string): Promise<ActorItem | null> {
  return one('actors', 'getActor', 'actorId', checkId(actorId, 'getActor', 'actorId'));
}

/** One task with every column (the latest attempt), or null when no owner knows it. */
function getTask(taskId: string): Promise<TaskItem | null> {
  return one('tasks', 'getTask', 'taskId', checkId(taskId, 'getTask', 'taskId'));
}

/** Tasks by function name and state (Ray's `summarize_tasks`). */
function summarizeTasks(): Promise<TaskSummary> {
  return client('summarizeTasks').summarizeTasks();
}

/** Actors by class and state (Ray's `summarize_actors`). */
function summarizeActors(): Promise<ActorSummary> {
  return client('summarizeActors').summarizeActors();
}

/**
 * The cluster's executions in Chrome's trace format (Ray's `ray.timeline`): one process per
 * node, one thread per worker, one event per task or actor call. With `filename`, the trace is
 * also written there as JSON (open it in Perfetto or chrome://tracing).
 *
 * @example
 * await ray.timeline('trace.json');
 */
export function timeline(filename?: string): Promise<ChromeTraceEvent[]> {
  if (filename !== undefined && (typeof filename !== 'string' || filename === '')) throw new TypeError(`ray.timeline: 'filename' must be a non-empty string, got ${typeof filename}`);
  return client('timeline')
    .timeline()
    .then(async (events) => {
      const trace = chromeTrace(events);
      if (filename !== undefined) await writeFile(filename, JSON.stringify(trace));
      return trace.traceEvents;
    });
}

/** `ray.util.state`. */
export const state = {
  listTasks,
  listActors,
  listNodes,
  listWorkers,
  listObjects,
  listPlacementGroups,
  getActor,
  getTask,
  summarizeTasks,
  summarizeActors,
};
