/**
 * Actor worker processes at scale on the embedded default: a worker loads only what runs work
 * (no broker, node, scheduling or API code, no code-shipping parser, no XState, no rxjs), by-value
 * code that names `ray` still gets the public API, and the node keeps warm workers (Ray's
 * worker pool prestart: 2 on a 2-CPU node) that a burst of actors takes and that are replaced.
 */
import type * as Ray from '../../src/index';
import type * as RayTesting from '../../src/testing/index';
import { isAlive } from '../support/processes';

// The built package (jest maps 'raybus' to dist/); see remote-functions.test.ts for why
// `require` is used.
const ray: typeof Ray = require('raybus');
const testing: typeof RayTesting = require('raybus/testing');

/** Wait (bounded) until `check` holds, polling the node's worker table. */
async function until(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 500 && !check(); i++) await new Promise((r) => setTimeout(r, 20));
  if (!check()) throw new Error(`timed out waiting for ${what}`);
}

beforeAll(async () => {
  await ray.init({ numCpus: 2 });
});

afterAll(async () => {
  await ray.shutdown();
});

describe('what an actor worker loads', () => {
  test('an actor that never names the API: no broker, node, scheduling, API, parser, XState or rxjs modules', async () => {
    const Probe = ray.remote(
      class Probe {
        modules() {
          return Object.keys(require.cache);
        }
      },
    );
    const a = Probe.remote();
    const loaded = await ray.get(a.modules.remote());
    const heavy = loaded.filter((f) => /[\\/]src[\\/](broker|node|scheduling|api|dashboard)[\\/]|[\\/]node_modules[\\/](acorn|eslint-scope|xstate|prom-client|rxjs)[\\/]/.test(f));
    expect(heavy).toEqual([]);
    await ray.kill(a);
  });

  test('by-value code that names `ray` gets the public API in the worker', async () => {
    const Nester = ray.remote(
      class Nester {
        put(v: number) {
          return ray.get(ray.put(v * 2));
        }
      },
    );
    const a = Nester.remote();
    await expect(ray.get(a.put.remote(21))).resolves.toBe(42);
    await ray.kill(a);
  });
});

describe('warm workers (prestart)', () => {
  test('a burst of actors starts on warm workers, which are replaced; shutdown leaves no process', async () => {
    const node = testing.embeddedNode()!;
    const Pid = ray.remote(
      class Pid {
        pid() {
          return process.pid;
        }
      },
    );
    const actors = [Pid.remote(), Pid.remote(), Pid.remote()];
    const pids = await ray.get(actors.map((a) => a.pid.remote()));
    // Three actors, each on a process of its own, and two warm workers beside them.
    expect(new Set(pids).size).toBe(3);
    await until(() => node.workerPids().filter((p) => !pids.includes(p)).length >= 2, 'two warm workers');
    const warm = node.workerPids().filter((p) => !pids.includes(p));
    expect(warm).toHaveLength(2);
    await Promise.all(actors.map((a) => ray.kill(a)));
    await until(() => pids.every((p) => !node.workerPids().includes(p)), 'the killed actors to exit');
    expect(node.workerPids().sort()).toEqual([...warm].sort());
    await ray.shutdown();
    await until(() => [...pids, ...warm].every((p) => !isAlive(p)), 'every worker process to exit');
  });
});
