/**
 * What the core does with the messages that reach a process's reply queue: results, leases,
 * objects and borrow tokens, stream items, blob chunks, cancels and actor-call verdicts. Each
 * handler is given the part it acts on; higher layers register theirs on the same router.
 */
import { encodeError } from '../serialization/error-codec';
import { RayActorError } from '../errors/ray-errors';
import type { ReplyQueue, TaskId } from '../protocol/ids';
import type { CancelTaskMsg } from '../protocol/messages/reply';
import type { LogLinesMsg } from '../protocol/messages/state';
import type { BlobExchange } from './blob-exchange';
import type { CallSequences } from './call-sequences';
import type { Messenger } from './messenger';
import type { ObjectManager } from './object-manager';
import type { PendingTasks } from './pending-tasks';
import type { ReplyRouter } from './reply-router';
import type { StreamTable } from './stream-table';
import type { TaskSubmitter } from './task-submitter';

/** The parts of a CoreWorker its reply handlers act on. */
export interface CoreReplyParts {
  readonly replies: ReplyRouter;
  readonly blobs: BlobExchange;
  readonly tasks: PendingTasks;
  readonly submitter: TaskSubmitter;
  readonly objects: ObjectManager;
  readonly streams: StreamTable;
  readonly messenger: Messenger;
  readonly callSeqs: CallSequences;
  onCancelTask(msg: CancelTaskMsg): void;
  onLogLines(msg: LogLinesMsg): void;
}

/** Register the core's own reply handlers on `p.replies`. */
export function routeCoreReplies(p: CoreReplyParts): void {
  const r = p.replies;
  const blobs = p.blobs;
  // Values that travelled as blobs are pulled first; a task's (or an object's) messages keep their order.
  r.register('result', (m) => {
    let localize: (() => Promise<void>) | undefined;
    if (blobs.needsPull(m.rets)) {
      if (p.tasks.isPending(m.task)) localize = async () => void (m.rets = await Promise.all(m.rets.map((o) => blobs.localizeOutcome(o))));
      // A result nobody waits for (cancelled, a duplicate): not worth pulling.
      else blobs.release(m.rets);
    }
    blobs.inOrder(m.task, localize, () => p.tasks.onResult(m));
  });
  r.register('tasks-returned', (m) => p.submitter.onTasksReturned(m.lease, m.tasks, m.blocked === true));
  r.register('get-object', (m) => p.objects.answerGetObject(m.id, m.reply));
  r.register('object', (m) => {
    const localize = blobs.needsPull([m.out]) ? async () => void (m.out = await blobs.localizeOutcome(m.out)) : undefined;
    blobs.inOrder(m.id, localize, () => p.objects.receiveOutcome(m.id, m.out));
  });
  r.register('borrow', (m) => p.objects.onBorrow(m.id, m.n));
  r.register('lease-granted', (m) => p.submitter.onLeaseMessage(m));
  r.register('lease-failed', (m) => p.submitter.onLeaseMessage(m));
  r.register('lease-infeasible', (m) => p.submitter.onLeaseInfeasible(m.req));
  r.register('lease-lost', (m) => p.submitter.onLeaseMessage(m));
  r.register('leases-wanted', () => p.submitter.returnIdleLeases());
  r.register('stream-item', (m) => {
    const localize = blobs.needsPull([m.out]) ? async () => void (m.out = await blobs.localizeOutcome(m.out)) : undefined;
    blobs.inOrder(m.task, localize, () => p.streams.onItem(m));
  });
  r.register('blob-get', (m) => blobs.table.onGet(m));
  r.register('blob-chunk', (m) => blobs.puller.onChunk(m));
  r.register('blob-done', (m) => blobs.table.onDone(m.id));
  r.register('cancel-task', (m) => p.onCancelTask(m));
  r.register('log-lines', (m) => p.onLogLines(m));
  r.register('call-seq-query', (m) => p.messenger.send(m.reply, { t: 'call-seq', s: m.s, lo: p.callSeqs.lowest(m.s) }));
  r.register('call-redelivered', (m) => answerRedeliveredCall(p.tasks, p.messenger, m.task, m.reply));
}

/**
 * An actor call of ours came back to its actor's mailbox after the incarnation holding it
 * died. The owner counts the runs its actor's deaths cut short (Ray's
 * TaskManager::RetryTaskIfPossible): within maxTaskRetries it runs again, else it fails.
 */
function answerRedeliveredCall(tasks: PendingTasks, messenger: Messenger, taskId: TaskId, host: ReplyQueue): void {
  const t = tasks.get(taskId);
  if (!t?.actorCall) return messenger.send(host, { t: 'call-verdict', task: taskId, run: false, attempt: 0 });
  const runs = (t.interrupted = (t.interrupted ?? 0) + 1);
  const retries = t.retries ?? 0;
  if (retries === -1 || runs <= retries) return messenger.send(host, { t: 'call-verdict', task: taskId, run: true, attempt: runs });
  tasks.failTask(
    taskId,
    encodeError(new RayActorError(`The actor died while call ${t.functionName} ran; it was retried ${retries} time${retries === 1 ? '' : 's'} (maxTaskRetries=${retries}) and is not retried again.`)),
  );
  messenger.send(host, { t: 'call-verdict', task: taskId, run: false, attempt: runs });
}
