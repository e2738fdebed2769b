import { chromeTrace } from '../../../src/observability/chrome-trace';
import type { TimelineEvent } from '../../../src/protocol/state';

const ev = (node: string, pid: number, name: string, startUs: number, durUs: number, failed?: boolean): TimelineEvent => ({
  taskId: `${name}-${startUs}`,
  name,
  nodeId: node,
  workerId: `${node.slice(0, 8)}w${pid}`,
  pid,
  startUs,
  durUs,
  ...(failed ? { failed } : {}),
});

test('one process per node, one thread per worker pid, one complete event per execution', () => {
  const trace = chromeTrace([ev('nodeA000000', 11, 'f', 1000, 50), ev('nodeA000000', 12, 'g', 1010, 0, true), ev('nodeB000000', 21, 'f', 1020, 70)]);
  expect(trace.displayTimeUnit).toBe('ms');
  const complete = trace.traceEvents.filter((e) => e.ph === 'X');
  expect(complete).toEqual([
    { name: 'f', cat: 'task', ph: 'X', ts: 1000, dur: 50, pid: 1, tid: 11, args: { taskId: 'f-1000', workerId: 'nodeA000w11', nodeId: 'nodeA000000' } },
    { name: 'g', cat: 'task,failed', ph: 'X', ts: 1010, dur: 1, pid: 1, tid: 12, args: { taskId: 'g-1010', workerId: 'nodeA000w12', nodeId: 'nodeA000000', failed: true } },
    { name: 'f', cat: 'task', ph: 'X', ts: 1020, dur: 70, pid: 2, tid: 21, args: { taskId: 'f-1020', workerId: 'nodeB000w21', nodeId: 'nodeB000000' } },
  ]);
  const meta = trace.traceEvents.filter((e) => e.ph === 'M');
  expect(meta.filter((m) => m.name === 'process_name').map((m) => [m.pid, m.args?.name])).toEqual([
    [1, 'node nodeA000'],
    [2, 'node nodeB000'],
  ]);
  expect(meta.filter((m) => m.name === 'thread_name')).toHaveLength(3);
  // What Perfetto reads: a JSON object with traceEvents.
  expect(JSON.parse(JSON.stringify(trace)).traceEvents).toHaveLength(8);
});
