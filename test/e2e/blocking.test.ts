/**
 * A task blocked in `get` or `wait` gives its CPU back while it waits (Ray's "Nested Remote
 * Functions" docs; test_basic.py::test_blocking_tasks), on the embedded default with 2 CPUs:
 * twice as many parents as CPUs each wait for children that need a CPU too. The same
 * scenarios run on a cluster in amqp-semantics.test.ts.
 */
import type * as Ray from '../../src/index';
import { runBlockingScenarios, getParent } from '../support/blocking-scenarios';
import { waitUntil } from '../support/wait-until';

const ray: typeof Ray = require('raybus');

jest.setTimeout(120_000);

beforeAll(async () => {
  await ray.init({ numCpus: 2 });
});

afterAll(async () => {
  await ray.shutdown();
});

test('parents waiting in get / wait, and a parent getting ten sleeping children, finish on 2 CPUs', async () => {
  await runBlockingScenarios(2, 60_000);
});

test('the CPU lent out while a task waits comes back exactly: the node is whole again afterwards', async () => {
  expect(await ray.get([0, 1, 2, 3].map((i) => getParent.remote(i)), { timeoutMs: 60_000 })).toHaveLength(4);
  // Leases go back once idle; then every CPU is free again (none lost, none counted twice).
  await waitUntil(async () => (await ray.availableResources()).CPU === 2, 30_000);
  expect((await ray.clusterResources()).CPU).toBe(2);
});
