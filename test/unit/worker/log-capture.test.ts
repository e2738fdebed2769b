/**
 * A worker's output on its way to the driver (Ray's log monitor and worker log prefixes): each
 * line written while a call runs is tagged with the call's function or actor class and sent to
 * that work's owner, batched on the clock; output still reaches the stream (the log file), with
 * a marker line whenever another task starts writing.
 */
import { LogCapture, LOG_BATCH_MS } from '../../../src/worker/log-capture';
import { ExecutionLog } from '../../../src/observability/execution-log';
import { slot, type TaskContext } from '../../../src/core/runtime-state';
import { SimulatedClock } from '../../../src/util/simulated-clock';
import type { LogLinesMsg } from '../../../src/protocol/messages/state';
import type { NodeId, ReplyQueue, TaskId, WorkerId } from '../../../src/protocol/ids';

const OWNER_A = 'raybus.reply.driver-a' as ReplyQueue;
const OWNER_B = 'raybus.reply.driver-b' as ReplyQueue;

function setup(markers = false) {
  const clock = new SimulatedClock();
  const executions = new ExecutionLog({ nodeId: 'node1', workerId: 'w1', pid: 77 });
  const sent: Array<[ReplyQueue, LogLinesMsg]> = [];
  const capture = new LogCapture({ pid: 77, node: 'node1' as NodeId, worker: 'w1' as WorkerId }, executions, (owner, msg) => void sent.push([owner, msg]), clock, markers);
  const written = { out: [] as string[], err: [] as string[] };
  const out = { write: (chunk: unknown) => written.out.push(String(chunk)) > 0 };
  const err = { write: (chunk: unknown) => written.err.push(String(chunk)) > 0 };
  capture.install({ out, err });
  const inTask = (taskId: string, fn: () => void): void => slot.taskContext.run({ taskId: taskId as TaskId } as TaskContext, fn);
  return { clock, executions, sent, capture, written, out, err, inTask };
}

test('lines of a running task go to its owner with its name, batched; the stream still gets everything', async () => {
  const { clock, executions, sent, written, out, err, inTask } = setup();
  const a = executions.begin('t1' as TaskId, 'train', false, { name: 'train', owner: OWNER_A });
  inTask('t1', () => {
    out.write('epoch 1\nepoch');
    out.write(' 2\n');
    err.write(Buffer.from('warning: slow\n'));
  });
  expect(written.out.join('')).toBe('epoch 1\nepoch 2\n');
  expect(sent).toEqual([]);
  await clock.advance(LOG_BATCH_MS);
  expect(sent).toEqual([
    [
      OWNER_A,
      {
        t: 'log-lines',
        pid: 77,
        node: 'node1',
        worker: 'w1',
        lines: [
          { name: 'train', text: 'epoch 1' },
          { name: 'train', text: 'epoch 2' },
          { name: 'train', text: 'warning: slow', err: true },
        ],
      },
    ],
  ]);
  executions.end(a, false);
});

test('concurrent calls of an actor go to the actor\'s owner as the class; flush sends at once', () => {
  const { sent, capture, out, inTask, executions } = setup();
  executions.begin('c1' as TaskId, 'Counter.inc', true, { name: 'Counter', owner: OWNER_B });
  executions.begin('t9' as TaskId, 'other', false, { name: 'other', owner: OWNER_A });
  inTask('c1', () => out.write('from the actor\n'));
  inTask('t9', () => out.write('from a task\n'));
  capture.flush();
  expect(sent.map(([o, m]) => [o, m.lines])).toEqual([
    [OWNER_B, [{ name: 'Counter', text: 'from the actor' }]],
    [OWNER_A, [{ name: 'other', text: 'from a task' }]],
  ]);
  expect(capture.hasPending).toBe(false);
});

test('output outside any call goes to the last task\'s owner; none goes out when the driver said nolog', () => {
  const { sent, capture, out, executions, inTask } = setup();
  out.write('before any task\n');
  capture.flush();
  expect(sent).toEqual([]);
  const e = executions.begin('t1' as TaskId, 'f', false, { name: 'f', owner: OWNER_A });
  executions.end(e, false);
  out.write('after it\n');
  const quiet = executions.begin('t2' as TaskId, 'g', false, { name: 'g', owner: OWNER_B, nolog: true });
  inTask('t2', () => out.write('kept on the node\n'));
  executions.end(quiet, false);
  capture.flush();
  expect(sent.map(([o, m]) => [o, m.lines.map((l) => l.text)])).toEqual([[OWNER_A, ['after it']]]);
});

test('in log files, a marker line comes before output of another task', () => {
  const { written, out, inTask, executions } = setup(true);
  executions.begin('t1' as TaskId, 'f', false, { name: 'f', owner: OWNER_A });
  inTask('t1', () => {
    out.write('one\n');
    out.write('two\n');
  });
  out.write('outside\n');
  expect(written.out).toEqual(['::raybus-task:t1::\n', 'one\n', 'two\n', '::raybus-task:-::\n', 'outside\n']);
});

test('the execution log knows the running actor calls and keeps a bounded timeline', () => {
  const log = new ExecutionLog({ nodeId: 'n1', workerId: 'w1', pid: 5 }, 2);
  const a = log.begin('c1' as TaskId, 'A.m', true, { name: 'A', owner: OWNER_A });
  const b = log.begin('t1' as TaskId, 'f', false, { name: 'f', owner: OWNER_A });
  expect(log.runningCalls()).toEqual([['c1', 'A.m']]);
  log.end(a, true);
  log.end(b, false);
  const c = log.begin('t2' as TaskId, 'g', false, { name: 'g', owner: OWNER_A });
  log.end(c, false);
  const events = log.timeline(10);
  expect(events.map((e) => [e.taskId, e.failed ?? false, e.pid, e.workerId, e.nodeId])).toEqual([
    ['t1', false, 5, 'w1', 'n1'],
    ['t2', false, 5, 'w1', 'n1'],
  ]);
  expect(events[0]!.startUs).toBeGreaterThan(1.5e15);
  expect(events[0]!.durUs).toBeGreaterThanOrEqual(0);
  expect(log.timeline(1).map((e) => e.taskId)).toEqual(['t2']);
});
