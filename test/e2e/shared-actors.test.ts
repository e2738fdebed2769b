/**
 * `isolation: 'shared'` actors on the embedded default, with real worker processes: many
 * actors in one process, each with its own state, mailbox order, maxConcurrency, lifecycle and
 * restarts; `ray.kill` and `exitActor()` end one actor and not its neighbours; a SIGKILL of the
 * host process is a failure of each actor on it (restarted per its own maxRestarts). The
 * broker runs of the same are in cluster-suite.ts.
 */
import type * as Ray from '../../src/index';
import type * as RayTesting from '../../src/testing/index';
import { isAlive } from '../support/processes';

// The built package (jest maps 'raybus' to dist/); see remote-functions.test.ts for why
// `require` is used.
const ray: typeof Ray = require('raybus');
const testing: typeof RayTesting = require('raybus/testing');

interface CellApi {
  add(x: number): number[];
  who(): { pid: number; actorId: string | null; reconstructed: boolean; namespace: string };
  bye(): void;
  envVar(): string | undefined;
}

class Cell {
  items: number[] = [];
  constructor(readonly label: number) {}
  add(x: number) {
    this.items.push(x);
    return [...this.items];
  }
  who() {
    const ctx = ray.getRuntimeContext();
    return { pid: process.pid, actorId: ctx.actorId, reconstructed: ctx.wasCurrentActorReconstructed, namespace: ctx.namespace };
  }
  bye() {
    ray.exitActor();
  }
  envVar() {
    return process.env.SHARED_TEST_VAR;
  }
}

const SharedCell = ray.remote({ isolation: 'shared' })(Cell);

beforeAll(async () => {
  await ray.init({ numCpus: 2, namespace: 'shared-actors' });
});

afterAll(async () => {
  await ray.shutdown();
});

test('1,000 shared actors live in one worker process, each with its own state and identity', async () => {
  const node = testing.embeddedNode()!;
  const before = node.workerPids().length;
  const cells = Array.from({ length: 1000 }, (_, i) => SharedCell.remote(i) as unknown as Ray.ActorHandle<CellApi>);
  const firsts = await ray.get(cells.map((c, i) => c.add.remote(i)), { timeoutMs: 60_000 });
  expect(firsts).toEqual(cells.map((_, i) => [i]));
  const seconds = await ray.get(cells.map((c, i) => c.add.remote(i + 1)));
  expect(seconds).toEqual(cells.map((_, i) => [i, i + 1]));
  const who = await ray.get(cells.map((c) => c.who.remote()));
  expect(new Set(who.map((w) => w.pid)).size).toBe(1);
  expect(who.map((w) => w.actorId)).toEqual(cells.map((c) => (c as unknown as { actorId: string }).actorId));
  expect(who.every((w) => w.namespace === 'shared-actors' && !w.reconstructed)).toBe(true);
  // One process more at most (the warm pool refills the one taken).
  expect(node.workerPids().length).toBeLessThanOrEqual(before + 1);
  await Promise.all(cells.map((c) => ray.kill(c)));
}, 120_000);

test("each actor keeps its callers' order, and maxConcurrency is its own", async () => {
  const c = SharedCell.remote(0) as unknown as Ray.ActorHandle<CellApi>;
  const refs = Array.from({ length: 200 }, (_, i) => c.add.remote(i));
  const all = await ray.get(refs);
  expect(all[199]).toEqual(Array.from({ length: 200 }, (_, i) => i));
  const Gate = ray.remote({ isolation: 'shared', maxConcurrency: 2 })(
    class Gate {
      running = 0;
      peak = 0;
      async work() {
        this.running += 1;
        this.peak = Math.max(this.peak, this.running);
        await new Promise((r) => setTimeout(r, 20));
        this.running -= 1;
        return this.peak;
      }
    },
  );
  const gates = [Gate.remote(), Gate.remote()];
  const peaks = await ray.get(gates.flatMap((g) => Array.from({ length: 8 }, () => (g as unknown as { work: { remote(): Ray.ObjectRef<number> } }).work.remote())));
  expect(Math.max(...peaks)).toBe(2);
  await Promise.all([c, ...gates].map((a) => ray.kill(a)));
});

test('ray.kill and exitActor() end one shared actor; its neighbours in the process go on', async () => {
  const a = SharedCell.remote(0) as unknown as Ray.ActorHandle<CellApi>;
  const b = SharedCell.remote(1) as unknown as Ray.ActorHandle<CellApi>;
  const c = SharedCell.remote(2) as unknown as Ray.ActorHandle<CellApi>;
  const pids = (await ray.get([a, b, c].map((x) => x.who.remote()))).map((w) => w.pid);
  expect(new Set(pids).size).toBe(1);
  await ray.kill(a);
  await expect(ray.get(a.add.remote(1))).rejects.toMatchObject({ name: 'ActorDiedError' });
  await expect(ray.get(b.add.remote(1))).resolves.toEqual([1]);
  await expect(ray.get(b.bye.remote())).rejects.toMatchObject({ name: 'RayActorError' });
  await expect(ray.get(b.add.remote(2))).rejects.toMatchObject({ name: 'ActorDiedError' });
  await expect(ray.get(c.add.remote(7))).resolves.toEqual([7]);
  expect(isAlive(pids[0]!)).toBe(true);
  expect((await ray.get(c.who.remote())).pid).toBe(pids[0]);
  await ray.kill(c);
});

test('kill with noRestart: false restarts that actor alone, with its state new', async () => {
  const Restartable = ray.remote({ isolation: 'shared', maxRestarts: 1 })(Cell);
  const a = Restartable.remote(0) as unknown as Ray.ActorHandle<CellApi>;
  const b = SharedCell.remote(1) as unknown as Ray.ActorHandle<CellApi>;
  await ray.get([a.add.remote(1), b.add.remote(1)]);
  await ray.kill(a, { noRestart: false });
  // Calls made meanwhile wait in its mailbox for the new incarnation.
  const after = await ray.get(a.who.remote(), { timeoutMs: 30_000 });
  expect(after.reconstructed).toBe(true);
  await expect(ray.get(a.add.remote(2))).resolves.toEqual([2]);
  await expect(ray.get(b.add.remote(2))).resolves.toEqual([1, 2]);
  await Promise.all([a, b].map((x) => ray.kill(x)));
});

test('a SIGKILL of the host process fails each actor on it: restarted per its own maxRestarts', async () => {
  const Restartable = ray.remote({ isolation: 'shared', maxRestarts: 1 })(Cell);
  const keeps = Array.from({ length: 5 }, (_, i) => Restartable.remote(i) as unknown as Ray.ActorHandle<CellApi>);
  const dies = Array.from({ length: 5 }, (_, i) => SharedCell.remote(i) as unknown as Ray.ActorHandle<CellApi>);
  await ray.get([...keeps, ...dies].map((x) => x.add.remote(1)));
  const pids = new Set((await ray.get([...keeps, ...dies].map((x) => x.who.remote()))).map((w) => w.pid));
  expect(pids.size).toBe(1);
  const [pid] = [...pids];
  process.kill(pid!, 'SIGKILL');
  for (const d of dies) await expect(ray.get(d.add.remote(2), { timeoutMs: 30_000 })).rejects.toMatchObject({ name: 'ActorDiedError' });
  const back = await ray.get(keeps.map((k) => k.who.remote()), { timeoutMs: 30_000 });
  expect(back.every((w) => w.reconstructed && w.pid !== pid)).toBe(true);
  // Restarted with their state new, each still its own.
  expect(await ray.get(keeps.map((k, i) => k.add.remote(i)))).toEqual(keeps.map((_, i) => [i]));
  await Promise.all(keeps.map((k) => ray.kill(k)));
}, 90_000);

test('shared actors are grouped by runtime env: another env gets a process of its own', async () => {
  const plain = SharedCell.remote(0) as unknown as Ray.ActorHandle<CellApi>;
  const withEnv = SharedCell.options({ runtimeEnv: { envVars: { SHARED_TEST_VAR: 'yes' } } }).remote(1) as unknown as Ray.ActorHandle<CellApi>;
  const [p, e] = await ray.get([plain.who.remote(), withEnv.who.remote()]);
  expect(p!.pid).not.toBe(e!.pid);
  expect(await ray.get([plain.envVar.remote(), withEnv.envVar.remote()])).toEqual([undefined, 'yes']);
  await Promise.all([plain, withEnv].map((x) => ray.kill(x)));
});

test('bad isolation options throw at once, naming the option', () => {
  expect(() => ray.remote({ isolation: 'thread' as 'shared' })(Cell)).toThrow(/'isolation'.*'process', 'shared'/);
  expect(() => ray.remote({ isolation: 'shared', numGpus: 1 })(Cell)).toThrow(/'isolation'.*GPUs/);
  expect(() => SharedCell.options({ numGpus: 1 })).toThrow(/'isolation'.*GPUs/);
});
