/**
 * Actor worker processes at scale on the embedded default: a worker loads only what runs work
 * (no broker, node, scheduling or API code, no code-shipping parser, no XState, no rxjs), and by-value
 * code that names `ray` still gets the public API.
 */
import type * as Ray from '../../src/index';

// The built package (jest maps 'raybus' to dist/); see remote-functions.test.ts for why
// `require` is used.
const ray: typeof Ray = require('raybus');

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
