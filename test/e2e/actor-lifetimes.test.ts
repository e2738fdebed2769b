/**
 * Actor lifetimes by reference counting (Ray: an actor is destroyed, after its queued calls,
 * once no handle to it exists anywhere; detached actors are not counted): each case runs the
 * way a user runs it, as a driver script in a Node process of its own, which makes V8
 * collect (`v8.setFlagsFromString('--expose-gc')`) so that dropped handles are really gone.
 * Ports of python/ray/tests/test_actor.py::test_actor_deletion, test_actor_method_deletion,
 * test_distributed_actor_handle_deletion, test_actor_advanced.py (names freed when out of
 * scope) and test_reference_counting_2.py::test_out_of_band_actor_handle_*.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { RAYBUS_DIST } from './amqp-e2e-helpers';

jest.setTimeout(300_000);

/** Helpers every driver script starts with: collect, and wait (bounded) for a pid to exit. */
const PRELUDE = `
  require('v8').setFlagsFromString('--expose-gc');
  const gc = require('vm').runInNewContext('gc');
  const alive = (pid) => { try { process.kill(pid, 0); return true; } catch { return false; } };
  const turn = () => new Promise((r) => setTimeout(r, 20));
  async function exits(pid, ms = 60000) {
    for (const end = Date.now() + ms; Date.now() < end; ) { gc(); await turn(); if (!alive(pid)) return true; }
    return false;
  }
  async function collect(n = 10) { for (let i = 0; i < n; i++) { gc(); await turn(); } }
  const T = { timeoutMs: 60000 };
  const Actor = ray.remote(class Actor {
    pid() { return process.pid; }
    method() { return 1; }
  });
  const Signal = ray.remote(class Signal {
    constructor() { this.done = new Promise((r) => (this.open = r)); }
    send() { this.open(); }
    async wait() { await this.done; }
  });
  await ray.init({ numCpus: 2 });
`;

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'raybus-lifetimes-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** Run `body` (after PRELUDE) as a driver script (`node driver.js`); what it printed. */
async function driver(body: string): Promise<string> {
  const file = path.join(dir, `driver-${Math.random().toString(16).slice(2)}.js`);
  writeFileSync(
    file,
    `const ray = require(${JSON.stringify(RAYBUS_DIST)});
     if (require.main === module) (async () => { ${PRELUDE}\n${body}\nawait ray.shutdown(); })().then(
       () => process.exit(0),
       (err) => { console.log('DRIVER ERROR ' + (err && err.stack || err)); process.exit(1); },
     );`,
  );
  const child = spawn(process.execPath, [file], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  if (code !== 0) throw new Error(`driver exited with ${code}:\n${out}`);
  return out;
}

test('test_actor_deletion, test_actor_method_deletion: a dropped handle ends its actor; a call on a temporary handle still runs', async () => {
  const out = await driver(`
    let a = Actor.remote();
    const pid = await ray.get(a.pid.remote(), T);
    a = null;
    console.log('DELETED ' + (await exits(pid)));
    console.log('METHOD ' + (await ray.get(Actor.remote().method.remote(), T)));
  `);
  expect(out).toContain('DELETED true');
  expect(out).toContain('METHOD 1');
});

test('test_distributed_actor_handle_deletion: a handle held by a waiting task keeps the actor until that task ends', async () => {
  const out = await driver(`
    const f = ray.remote(async (actor, signal) => {
      await ray.get(signal.wait.remote());
      return ray.get(actor.method.remote());
    });
    const signal = Signal.remote();
    let a = Actor.remote();
    const pid = await ray.get(a.pid.remote(), T);
    const x = f.remote(a, signal);
    a = null;
    await collect();
    await ray.get(signal.send.remote(), T);
    console.log('TASK ' + (await ray.get(x, T)));
    console.log('EXITED ' + (await exits(pid)));
  `);
  expect(out).toContain('TASK 1');
  expect(out).toContain('EXITED true');
});

test('a named actor out of scope frees its name; getActor handles do not keep it; a detached one is never collected', async () => {
  const out = await driver(`
    let n = Actor.options({ name: 'counted' }).remote();
    const pid = await ray.get(n.pid.remote(), T);
    const looked = await ray.getActor('counted');
    n = null;
    console.log('NAMED EXITED ' + (await exits(pid)));
    console.log('LOOKED ' + (await ray.get(looked.method.remote(), T).then(() => 'ran', (e) => e.name)));
    console.log('NAME FREE ' + (await ray.getActor('counted').then(() => false, () => true)));
    const again = Actor.options({ name: 'counted' }).remote();
    console.log('REUSED ' + (await ray.get(again.method.remote(), T)));

    let d = Actor.options({ name: 'kept', lifetime: 'detached' }).remote();
    const dpid = await ray.get(d.pid.remote(), T);
    d = null;
    await collect(25);
    const back = await ray.getActor('kept');
    console.log('DETACHED ' + (await ray.get(back.pid.remote(), T)) + ' ' + dpid);
    await ray.kill(back);
  `);
  expect(out).toContain('NAMED EXITED true');
  expect(out).toContain('LOOKED ActorDiedError');
  expect(out).toContain('NAME FREE true');
  expect(out).toContain('REUSED 1');
  expect(out).toMatch(/DETACHED (\d+) \1/);
});

test('test_out_of_band_actor_handle_*: a copy made by serialization works; bytes made outside raybus keep nothing alive', async () => {
  const out = await driver(`
    const { encodeValue, decodeValue } = require(${JSON.stringify(require.resolve('../../dist/cjs/src/serialization/serializer.js'))});
    const func = ray.remote(async (config) => {
      // A deep copy that serializes and deserializes the handle.
      const copy = await ray.get(ray.put(config));
      return ray.get(copy.actor.method.remote());
    });
    let actor = Actor.remote();
    console.log('COPY ' + (await ray.get(func.remote({ actor }), T)));

    const pid = await ray.get(actor.pid.remote(), T);
    const serialized = encodeValue({ actor });
    actor = null;
    console.log('BYPASS EXITED ' + (await exits(pid)));
    const config = decodeValue(serialized);
    console.log('BYPASS ' + (await ray.get(config.actor.method.remote(), T).then(() => 'ran', (e) => e.constructor.name + ' ' + (e instanceof ray.RayActorError))));
  `);
  expect(out).toContain('COPY 1');
  expect(out).toContain('BYPASS EXITED true');
  expect(out).toContain('BYPASS ActorDiedError true');
});

test('a handle returned by the task that created the actor keeps it alive while the caller holds it', async () => {
  const out = await driver(`
    const make = ray.remote(() => {
      const Made = ray.remote(class Made { pid() { return process.pid; } });
      return { made: Made.remote() };
    });
    let { made } = await ray.get(make.remote(), T);
    await collect();
    const pid = await ray.get(made.pid.remote(), T);
    made = null;
    console.log('MADE EXITED ' + (await exits(pid)));
  `);
  expect(out).toContain('MADE EXITED true');
});

test('a driver that creates and drops 200 actors in a loop ends with at most a handful of actor processes', async () => {
  const out = await driver(`
    const workers = () => require('child_process').execFileSync('ps', ['-o', 'pid=', '--ppid', String(process.pid)]).toString().split('\\n').filter((l) => l.trim()).length;
    for (let i = 0; i < 200; i++) {
      const a = Actor.remote();
      await ray.get(a.method.remote(), T);
      if (i % 10 === 9) gc();
    }
    let left = workers();
    for (const end = Date.now() + 60000; left > 5 && Date.now() < end; left = workers()) await collect(5);
    console.log('WORKER PROCESSES ' + left);
  `);
  const left = Number(/WORKER PROCESSES (\d+)/.exec(out)?.[1]);
  // The node's prestarted workers and the last actor or two may still be there; 200 may not.
  expect(left).toBeLessThanOrEqual(5);
});
