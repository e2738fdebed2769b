/**
 * The rows the state API shows for what this process submits, apart from normal tasks (each is
 * its own record, normal-task.ts): an actor's creation task is noted once (the broker knows how
 * it goes).
 */
import type { TaskTable } from '../observability/task-table';
import type { TaskId } from '../protocol/ids';
import type { ActorSpec } from '../protocol/wire';

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
