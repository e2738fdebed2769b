/**
 * A worker that holds actor handles collects its heap once idle after a task, so handles the
 * task dropped are returned and their actors may end (Ray's worker drops a task's borrowed
 * handles when it returns: test_actor.py::test_distributed_actor_handle_deletion). Debounced
 * (idle 50 ms) and at most once a second; nothing to do without handles. Simulated time.
 */
import type { ObjectId } from '../../../src/protocol/ids';
import { HandleCollector } from '../../../src/core/handle-collector';
import { SimulatedClock } from '../../../src/util/simulated-clock';

const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

function setup(): { clock: SimulatedClock; collector: HandleCollector; checks: ObjectId[]; held: Set<ObjectId> } {
  const clock = new SimulatedClock();
  const checks: ObjectId[] = [];
  const held = new Set<ObjectId>();
  const collector = new HandleCollector(clock, (key) => {
    checks.push(key);
    return held.has(key);
  });
  return { clock, collector, checks, held };
}

test('no handles, no collection', async () => {
  const { clock, collector, checks } = setup();
  collector.taskEnded();
  await clock.advance(5000);
  await turn();
  expect(checks).toEqual([]);
});

test('collects once idle after a task, forgets the handles that went, and at most once a second', async () => {
  const { clock, collector, checks, held } = setup();
  const a = 'actor:a' as ObjectId;
  const b = 'actor:b' as ObjectId;
  collector.note(a);
  collector.note(b);
  held.add(b);
  collector.taskEnded();
  await clock.advance(49);
  collector.taskEnded();
  await clock.advance(49);
  await turn();
  expect(checks).toEqual([]);
  await clock.advance(1);
  await turn();
  expect(checks).toEqual([a, b]);
  // b is still held; another task ends at once: the next collection waits out the second.
  collector.taskEnded();
  await clock.advance(999);
  await turn();
  expect(checks).toEqual([a, b]);
  await clock.advance(1);
  await turn();
  expect(checks).toEqual([a, b, b]);
});
