/**
 * A task that is its own row in its owner's task table (a normal task, normal-task.ts; an
 * actor call, actor-handle.ts): the states the table moves it through, kept in the task itself,
 * so that a queued task or a call in flight is one object.
 */
import type { OwnRecord } from '../observability/task-table';
import type { TaskState, TaskType } from '../protocol/state';
import type { Resources } from '../protocol/wire';

/**
 * Creation times are kept as milliseconds since this module loaded: a small integer is stored
 * in the object itself, where a time since 1970 would be one more heap object per task. (The
 * field starts as `undefined` so that V8 keeps it a tagged field: a field that only ever held
 * numbers is made a field of boxed doubles, one box per object.)
 */
const CLOCK_BASE = Date.now();

export abstract class OwnTaskRecord implements OwnRecord {
  abstract readonly taskId: string;
  abstract readonly name: string;
  abstract readonly type: TaskType;
  abstract readonly jobId: string;
  abstract readonly actorId: string | undefined;
  abstract readonly parentTaskId: string | undefined;
  abstract readonly resources: Resources | undefined;
  abstract readonly placementGroupId: string | undefined;
  state: TaskState = 'PENDING_ARGS_AVAIL';
  attempt = 0;
  private sinceBase: number | undefined = undefined;
  // Set once it runs, and when it ends (task-table.ts): added then, to the few that run.
  declare nodeId?: string;
  declare workerId?: string;
  declare started?: number;
  declare ended?: number;
  declare errorType?: string;
  declare errorMessage?: string;

  get created(): number {
    return CLOCK_BASE + (this.sinceBase ?? 0);
  }
  set created(ms: number) {
    const since = ms - CLOCK_BASE;
    // `| 0` makes it a small integer where it is one (an int32: 24 days after the start).
    this.sinceBase = (since | 0) === since ? since | 0 : since;
  }
}
