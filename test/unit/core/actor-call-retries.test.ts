/**
 * maxTaskRetries counted by the caller (Ray's TaskManager::RetryTaskIfPossible: the owner of
 * an actor task decides whether it runs again after its actor died). An actor host that gets
 * a call back from a dead incarnation asks its caller (`call-redelivered`); the caller counts
 * the interrupted runs and answers `call-verdict`: run again as attempt N while N ≤
 * maxTaskRetries (-1: always), else the call fails with RayActorError and is dropped.
 * After test_actor_failures.py's max_task_retries cases.
 */
import { Inbox, settle, startCore, type Harness } from './core-harness';
import { RayActorError } from '../../../src/errors/ray-errors';
import { returnId, type ReplyQueue, type TaskId } from '../../../src/protocol/ids';
import type { ReplyMsg } from '../../../src/protocol/messages/reply';

let h: Harness;
let host: Inbox<ReplyMsg>;
afterEach(async () => {
  await host.transport.close();
  await h.stop();
});

async function setup(): Promise<void> {
  h = await startCore();
  host = await Inbox.open<ReplyMsg>(h.bus, 'raybus.reply.host-1');
}

/** An actor call of `retries` pending at the caller; its return ref. */
function pendingCall(retries: number): { task: TaskId; ref: ReturnType<Harness['core']['ownedRef']> } {
  const task = h.core.newId<TaskId>();
  const ref = h.core.ownedRef(returnId(task, 0));
  h.core.registerPending({ taskId: task, returnIds: [returnId(task, 0)], functionName: 'A.crash', actorCall: true, retries });
  return { task, ref };
}

async function redelivered(task: TaskId): Promise<ReplyMsg> {
  host.sendTo(h.core.address, { t: 'call-redelivered', task, reply: host.queue as ReplyQueue });
  await settle();
  return host.received[host.received.length - 1]!;
}

test('maxTaskRetries 2: two interrupted runs run again (attempts 1 and 2), the third fails the call', async () => {
  await setup();
  const { task, ref } = pendingCall(2);
  expect(await redelivered(task)).toEqual({ t: 'call-verdict', task, run: true, attempt: 1 });
  expect(await redelivered(task)).toEqual({ t: 'call-verdict', task, run: true, attempt: 2 });
  expect(await redelivered(task)).toEqual({ t: 'call-verdict', task, run: false, attempt: 3 });
  const err = await h.core.get(ref).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(RayActorError);
  expect((err as Error).message).toContain('maxTaskRetries=2');
});

test('maxTaskRetries -1 always runs again; a call the caller no longer waits for is dropped', async () => {
  await setup();
  const { task } = pendingCall(-1);
  for (let i = 1; i <= 5; i++) expect(await redelivered(task)).toEqual(expect.objectContaining({ run: true, attempt: i }));
  expect(await redelivered('unknown-task' as TaskId)).toEqual({ t: 'call-verdict', task: 'unknown-task', run: false, attempt: 0 });
});
