/**
 * The rows the state API shows for what this process submits: a task's record is made when it
 * is submitted (its owner keeps it through its states), an actor's creation task is noted once
 * (the broker knows how it goes).
 */
import type { TaskTable } from '../observability/task-table';
import type { TaskId } from '../protocol/ids';
import type { ActorSpec } from '../protocol/wire';
import type { SubmittedTask } from './task-submitter';

/** The record of a normal task, made at submission. */
export function recordTask(table: TaskTable, task: SubmittedTask, parentTaskId: TaskId | undefined): SubmittedTask['rec'] {
  const strategy = task.strategy;
  return table.add({
    taskId: task.taskId,
    name: task.fn.name,
    type: 'NORMAL_TASK',
    jobId: task.ctx.jobId,
    parentTaskId,
    resources: task.demand,
    placementGroupId: strategy.kind === 'PLACEMENT_GROUP' ? strategy.pg : undefined,
  });
}

/** An actor's creation task: noted, not tracked (the broker knows how it goes). */
export function recordActorCreation(table: TaskTable, spec: ActorSpec, parentTaskId: TaskId | undefined): void {
  table.addUntracked({
    taskId: spec.actorId,
    name: `${spec.meta.className}.__init__`,
    type: 'ACTOR_CREATION_TASK',
    jobId: spec.ctx.jobId,
    actorId: spec.actorId,
    parentTaskId,
    resources: spec.placement,
    placementGroupId: spec.strategy.kind === 'PLACEMENT_GROUP' ? spec.strategy.pg : undefined,
  });
}
