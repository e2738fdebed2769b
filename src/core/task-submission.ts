/**
 * How this process submits a normal task: its record for the state API, its registration
 * as pending, then the resolution of its arguments, after which it goes to the task submitter
 * (task-submitter.ts) — or fails, when an argument failed or cannot be sent. It is given the
 * parts it uses by the CoreWorker, never the CoreWorker.
 */
import type { TaskTable } from '../observability/task-table';
import { encodeError } from '../serialization/error-codec';
import type { WireArg } from '../protocol/wire';
import type { ObjectManager } from './object-manager';
import type { PendingTasks } from './pending-tasks';
import { resolveArgs } from './ref-resolution';
import type { NormalTask, TaskKind } from './normal-task';
import type { TaskSubmitter } from './task-submitter';

/** The arguments of every task called without any (read only). */
const NO_ARGS: WireArg[] = Object.freeze([]) as unknown as WireArg[];

/** Each kind's twin whose context asks its worker to print nothing (one per kind, not per task). */
const silentKinds = new WeakMap<TaskKind, TaskKind>();

function withoutLog(kind: TaskKind): TaskKind {
  let silent = silentKinds.get(kind);
  if (!silent) silentKinds.set(kind, (silent = { ...kind, ctx: { ...kind.ctx, nolog: true } }));
  return silent;
}

/** What submission uses of the process's core. */
export interface TaskSubmissionParts {
  readonly objects: ObjectManager;
  readonly tasks: PendingTasks;
  readonly submitter: TaskSubmitter;
  readonly table: TaskTable;
  /** The driver prints no worker output (`logToDriver: false`). */
  readonly noLog: boolean;
  /** Work was added: a driver's process stays alive while it is outstanding. */
  poke(): void;
}

/** Submits the normal tasks of one process (see the file comment). */
export class TaskSubmission {
  constructor(private readonly parts: TaskSubmissionParts) {}

  /** Submit a normal task (resolution of its arguments first). */
  submit(task: NormalTask, args: unknown[]): void {
    const { objects, tasks, submitter, table } = this.parts;
    // The driver prints no worker output: workers keep it in their log files only.
    if (this.parts.noLog && !task.ctx.nolog) task.kind = withoutLog(task.kind);
    table.track(task);
    tasks.register(task);
    this.parts.poke();
    try {
      resolveArgs(
        objects,
        args,
        (parts) => {
          // Cancelled while its arguments were resolving: it never runs.
          if (!tasks.isPending(task.taskId)) return;
          if ('error' in parts) return tasks.failTask(task.taskId, parts.error);
          // No arguments: one shared empty list (read only), not one per queued task.
          task.args = parts.length === 0 ? NO_ARGS : parts;
          submitter.enqueue(task);
        },
        task.fn.name,
        task.taskId,
      );
    } catch (err) {
      // An argument that cannot be sent: `.remote()` throws, and the task must not stay
      // pending (it would keep the process alive).
      tasks.failTask(task.taskId, encodeError(err));
      throw err;
    }
  }
}
