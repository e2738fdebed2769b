/**
 * Observability of the embedded default, end to end (Ray's python/ray/tests/test_state_api.py
 * and test_output.py cover the same ground): `ray.util.state` lists, gets and summarizes real
 * tasks in each state, actors alive and dead with their causes, placement groups, workers with
 * their pids and objects; pages with a cursor; `ray.timeline` writes a Chrome trace. Drivers in
 * child processes show worker output reaching the driver with Ray's prefixes, repeats collapsed,
 * `logToDriver: false`, and `logLevel: 'silent'`.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type * as Ray from '../../src/index';
import { expectWarnings } from '../support/expected-warnings';
import { waitUntil } from '../support/wait-until';

const ray: typeof Ray = require('raybus');
const DIST = path.resolve(__dirname, '../../dist/cjs/src/index.js');

jest.setTimeout(60_000);
const T = { timeoutMs: 30_000 };
const infeasible = expectWarnings(/infeasible/);

/** An actor that holds callers until the test opens it. */
const Gate = ray.remote(
  class Gate {
    opened = false;
    waiting: Array<() => void> = [];
    async pass(): Promise<void> {
      if (!this.opened) await new Promise<void>((r) => this.waiting.push(r));
    }
    open(): void {
      this.opened = true;
      for (const w of this.waiting.splice(0)) w();
    }
  },
);
type GateHandle = { pass: { remote(): Ray.ObjectRef<void> } };

beforeAll(async () => {
  await ray.init({ numCpus: 3 });
});

afterAll(async () => {
  await ray.shutdown();
});

describe('tasks', () => {
  test('every state, RUNNING and FAILED with its error, as listTasks, getTask and summarizeTasks see them', async () => {
    const gate = Gate.options({ numCpus: 0 }).remote();
    const held = ray.remote(async function held(g: GateHandle) {
      await ray.get(g.pass.remote());
      return 'released';
    });
    const after = ray.remote(function after(x: string) {
      return x;
    });
    const boom = ray.remote({ maxRetries: 0 })(function boom() {
      throw new TypeError('bad input');
    });
    const nowhere = ray.remote({ resources: { Nowhere: 1 } })(function nowhere() {
      return 1;
    });
    const Stuck = ray.remote({ resources: { Nowhere: 1 } })(
      class Stuck {
        poke(): number {
          return 1;
        }
      },
    );
    const fine = ray.remote(function fine() {
      return 1;
    });
    await ray.get(fine.remote(), T);
    const running = held.remote(gate);
    const waitsForArg = after.remote(running);
    await expect(ray.get(boom.remote(), T)).rejects.toThrow('bad input');
    void nowhere.remote();
    const stuck = Stuck.remote();
    void stuck.poke.remote();

    const byName = async (): Promise<Map<string, Ray.TaskItem>> => new Map((await ray.util.state.listTasks({ limit: 1000 })).items.map((t) => [t.name, t]));
    await waitUntil(async () => {
      const t = await byName();
      return t.get('held')?.state === 'RUNNING' && t.get('Gate.pass')?.state === 'RUNNING' && t.get('nowhere')?.state === 'PENDING_NODE_ASSIGNMENT';
    });
    const tasks = await byName();
    expect(tasks.get('fine')).toMatchObject({ state: 'FINISHED', type: 'NORMAL_TASK' });
    expect(tasks.get('held')).toMatchObject({ state: 'RUNNING', type: 'NORMAL_TASK', workerPid: expect.any(Number), nodeId: expect.any(String) });
    expect(tasks.get('after')).toMatchObject({ state: 'PENDING_ARGS_AVAIL' });
    expect(tasks.get('boom')).toMatchObject({ state: 'FAILED', errorType: 'RayTaskError' });
    expect(tasks.get('nowhere')).toMatchObject({ state: 'PENDING_NODE_ASSIGNMENT' });
    expect(tasks.get('Stuck.poke')).toMatchObject({ state: 'SUBMITTED_TO_WORKER', type: 'ACTOR_TASK', actorId: stuck.actorId });
    expect(tasks.get('Stuck.__init__')).toMatchObject({ state: 'PENDING_NODE_ASSIGNMENT', type: 'ACTOR_CREATION_TASK' });
    // The gate's call was submitted by the held task, in its worker: that worker owns it and answers.
    expect(tasks.get('Gate.pass')).toMatchObject({ state: 'RUNNING', type: 'ACTOR_TASK', parentTaskId: tasks.get('held')!.taskId });
    expect(tasks.get('Gate.__init__')).toMatchObject({ state: 'FINISHED', type: 'ACTOR_CREATION_TASK', workerPid: expect.any(Number) });

    const failed = await ray.util.state.getTask(tasks.get('boom')!.taskId);
    expect(failed).toMatchObject({ state: 'FAILED', errorType: 'RayTaskError', errorMessage: 'TypeError: bad input', endTimeMs: expect.any(Number), startTimeMs: expect.any(Number) });
    expect(await ray.util.state.getTask('ffffffffffffffffffffff')).toBeNull();
    const onlyRunning = await ray.util.state.listTasks({ filters: [['state', '=', 'RUNNING']] });
    expect(onlyRunning.items.map((t) => t.name).sort()).toEqual(['Gate.pass', 'held']);

    const summary = await ray.util.state.summarizeTasks();
    expect(summary.summary.held!.stateCounts).toEqual({ RUNNING: 1 });
    expect(summary.summary.boom).toEqual({ funcOrClassName: 'boom', type: 'NORMAL_TASK', stateCounts: { FAILED: 1 } });
    expect(summary.summary['Gate.pass']!.stateCounts).toEqual({ RUNNING: 1 });
    expect(summary.summary['Stuck.__init__']!.stateCounts).toEqual({ PENDING_NODE_ASSIGNMENT: 1 });
    expect(summary.totalActorScheduled).toBeGreaterThanOrEqual(2);

    await ray.get((gate as unknown as { open: { remote(): Ray.ObjectRef<void> } }).open.remote(), T);
    expect(await ray.get(waitsForArg, T)).toBe('released');
    await ray.kill(stuck);
    await ray.kill(gate);
    expect(infeasible.messages().length).toBeGreaterThan(0);
  });

  test('pages with a cursor list every task once; misuse throws synchronously, naming the argument', async () => {
    const quick = ray.remote(function quick(i: number) {
      return i;
    });
    const refs = Array.from({ length: 25 }, (_, i) => quick.remote(i));
    await ray.get(refs, T);
    const seen: string[] = [];
    let cursor: string | null = null;
    for (let i = 0; i < 10; i++) {
      const page: Ray.ListResult<Ray.TaskItem> = await ray.util.state.listTasks({ filters: [['name', '=', 'quick']], limit: 10, ...(cursor ? { cursor } : {}) });
      seen.push(...page.items.map((t) => t.taskId));
      cursor = page.nextCursor;
      if (!cursor) break;
    }
    expect(seen).toHaveLength(25);
    expect(new Set(seen).size).toBe(25);
    expect(() => ray.util.state.listTasks({ limit: 0 })).toThrow(/'limit' must be an integer from 1 to 10000/);
    expect(() => ray.util.state.listActors({ filters: [['colour', '=', 'red']] })).toThrow(/unknown filter column 'colour'. Columns of actors: actorId/);
    expect(() => ray.util.state.listNodes({ detail: 1 } as never)).toThrow(/'detail' must be a boolean/);
    expect(() => ray.util.state.getTask(5 as never)).toThrow(/'taskId' must be a non-empty string/);
  });
});

describe('actors, placement groups, workers, objects, nodes', () => {
  test('actors alive and dead with the cause of death', async () => {
    const Alive = ray.remote(
      class Alive {
        pid(): number {
          return process.pid;
        }
      },
    );
    const Broken = ray.remote(
      class Broken {
        constructor() {
          throw new RangeError('cannot build');
        }
        m(): number {
          return 1;
        }
      },
    );
    const alive = Alive.options({ name: 'observed', numCpus: 0 }).remote();
    const pid = await ray.get(alive.pid.remote(), T);
    const killed = Alive.options({ numCpus: 0 }).remote();
    await ray.get(killed.pid.remote(), T);
    await ray.kill(killed);
    const broken = Broken.options({ numCpus: 0 }).remote();
    await expect(ray.get(broken.m.remote(), T)).rejects.toThrow(/cannot build/);

    const a = await ray.util.state.getActor(alive.actorId);
    expect(a).toMatchObject({ className: 'Alive', name: 'observed', state: 'ALIVE', pid, numRestarts: 0, isDetached: false, workerId: expect.any(String) });
    await waitUntil(async () => (await ray.util.state.getActor(killed.actorId))?.state === 'DEAD');
    expect(await ray.util.state.getActor(killed.actorId)).toMatchObject({ state: 'DEAD', deathCause: { reason: 'RAY_KILL' } });
    expect(await ray.util.state.getActor(broken.actorId)).toMatchObject({ state: 'DEAD', deathCause: { reason: 'CREATION_TASK_FAILED', message: expect.stringContaining('cannot build') } });
    const dead = await ray.util.state.listActors({ filters: [['state', '=', 'DEAD'], ['className', '=', 'Alive']] });
    expect(dead.items.map((x) => x.actorId)).toEqual([killed.actorId]);
    const s = await ray.util.state.summarizeActors();
    expect(s.summary.Alive!.stateCounts).toMatchObject({ ALIVE: 1, DEAD: 1 });
    expect(s.summary.Broken!.stateCounts).toEqual({ DEAD: 1 });
    const creation = await ray.util.state.getTask(broken.actorId);
    expect(creation).toMatchObject({ type: 'ACTOR_CREATION_TASK', state: 'FAILED', errorType: 'RayActorError' });
    await ray.kill(alive);
  });

  test('placement groups, workers with their pids, the driver, objects and the node', async () => {
    const pg = ray.util.placementGroup([{ CPU: 1 }], { name: 'observed-pg' });
    await ray.get(pg.ready(), T);
    const pgs = await ray.util.state.listPlacementGroups({ filters: [['name', '=', 'observed-pg']] });
    expect(pgs.items).toEqual([
      expect.objectContaining({ placementGroupId: pg.id, state: 'CREATED', strategy: 'PACK', isDetached: false, bundles: [{ bundleId: 0, nodeId: expect.any(String), unitResources: { CPU: 1 } }] }),
    ]);
    await ray.util.removePlacementGroup(pg);
    await waitUntil(async () => (await ray.util.state.listPlacementGroups({ filters: [['placementGroupId', '=', pg.id]] })).items[0]?.state === 'REMOVED');

    const where = ray.remote(() => process.pid);
    const pid = await ray.get(where.remote(), T);
    const workers = await ray.util.state.listWorkers({ limit: 1000 });
    expect(workers.items).toContainEqual(expect.objectContaining({ workerType: 'WORKER', isAlive: true, pid, nodeId: expect.any(String), state: expect.any(String) }));
    expect(workers.items).toContainEqual(expect.objectContaining({ workerType: 'DRIVER', pid: process.pid, isAlive: true }));
    const onlyDrivers = await ray.util.state.listWorkers({ filters: [['workerType', '=', 'DRIVER']] });
    expect(onlyDrivers.items.map((w) => w.pid)).toEqual([process.pid]);

    const ref = ray.put('x'.repeat(5000));
    const objects = await ray.util.state.listObjects({ filters: [['objectId', '=', ref.id]], detail: true });
    expect(objects.items).toEqual([expect.objectContaining({ objectId: ref.id, owned: true, type: 'DRIVER', pid: process.pid, taskStatus: 'FINISHED', referenceType: 'LOCAL_REFERENCE', localRefCount: 1 })]);
    expect(objects.items[0]!.objectSize).toBeGreaterThan(5000);

    const nodes = await ray.util.state.listNodes({ detail: true });
    expect(nodes.items).toEqual([expect.objectContaining({ state: 'ALIVE', isHeadNode: true, resourcesTotal: expect.objectContaining({ CPU: 3 }), startTimeMs: expect.any(Number) })]);
  });
});

describe('timeline', () => {
  test('ray.timeline writes a Chrome trace: one complete event per execution, with ph, ts, dur, pid and tid', async () => {
    const traced = ray.remote(function traced() {
      return 1;
    });
    await ray.get([traced.remote(), traced.remote()], T);
    const dir = mkdtempSync(path.join(os.tmpdir(), 'raybus-timeline-'));
    try {
      const file = path.join(dir, 'trace.json');
      const events = await ray.timeline(file);
      const trace = JSON.parse(readFileSync(file, 'utf8')) as { traceEvents: Ray.ChromeTraceEvent[] };
      expect(trace.traceEvents).toEqual(events);
      const mine = trace.traceEvents.filter((e) => e.name === 'traced');
      expect(mine).toHaveLength(2);
      for (const e of mine) {
        expect(e).toMatchObject({ ph: 'X', ts: expect.any(Number), dur: expect.any(Number), pid: expect.any(Number), tid: expect.any(Number) });
        expect(e.ts).toBeGreaterThan(1.5e15);
      }
      expect(trace.traceEvents.some((e) => e.ph === 'M' && e.name === 'thread_name')).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** Run a driver script in a child process; resolves with its output once it exits. */
function runDriver(body: string, env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const script = `
    const ray = require(${JSON.stringify(DIST)});
    (async () => { ${body} })().then(
      () => ray.shutdown().then(() => process.exit(0)),
      (err) => { console.log('DRIVER ERROR ' + (err && err.stack || err)); process.exit(1); },
    );`;
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['-e', script], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('exit', (code) => {
      if (code !== 0) process.stderr.write(`driver exited ${code}:\n${stdout}\n${stderr}\n`);
      resolve({ code, stdout, stderr });
    });
  });
}

describe('worker output on the driver', () => {
  test("each line prefixed as Ray does: (fnName pid=N node=xxxxxxxx), (ClassName pid=N node=…); stderr to stderr", async () => {
    const r = await runDriver(`
      const { nodeId } = await ray.init({ numCpus: 2 });
      console.log('NODE ' + nodeId);
      const hello = ray.remote(function hello(x) { console.log('hello from task ' + x); console.error('oops ' + x); return process.pid; });
      const Talker = ray.remote(class Talker { say(s) { console.log('actor says ' + s); return process.pid; } });
      const t = Talker.remote();
      const [p1, p2] = await ray.get([hello.remote(1), t.say.remote('hi')]);
      console.log('PIDS ' + p1 + ' ' + p2);
    `);
    expect(r.code).toBe(0);
    const node = /NODE ([0-9a-f]+)/.exec(r.stdout)![1]!.slice(0, 8);
    const [, p1, p2] = /PIDS (\d+) (\d+)/.exec(r.stdout)!;
    expect(r.stdout).toContain(`(hello pid=${p1} node=${node}) hello from task 1\n`);
    expect(r.stdout).toContain(`(Talker pid=${p2} node=${node}) actor says hi\n`);
    expect(r.stderr).toContain(`(hello pid=${p1} node=${node}) oops 1\n`);
    // A task's output prints before get returns its result.
    expect(r.stdout.indexOf('hello from task 1')).toBeLessThan(r.stdout.indexOf('PIDS'));
  });

  test('the same line from several workers prints once, then with [repeated Nx across cluster]', async () => {
    const r = await runDriver(
      `
      await ray.init({ numCpus: 4 });
      const Barrier = ray.remote(class Barrier { constructor() { this.n = 0; this.w = []; } async arrive(k) { this.n++; if (this.n >= k) this.w.splice(0).forEach((f) => f()); else await new Promise((r) => this.w.push(r)); } });
      const b = Barrier.options({ numCpus: 0 }).remote();
      const shout = ray.remote(async function shout(b) { await ray.get(b.arrive.remote(4)); console.log('loading the model now'); return process.pid; });
      const pids = await ray.get([shout.remote(b), shout.remote(b), shout.remote(b), shout.remote(b)]);
      console.log('DISTINCT ' + new Set(pids).size);
    `,
      { RAYBUS_DEDUP_LOGS_AGG_WINDOW_S: '1' },
    );
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('DISTINCT 4');
    const lines = r.stdout.split('\n').filter((l) => l.includes('loading the model now'));
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^\(shout pid=\d+ node=[0-9a-f]{8}\) loading the model now$/);
    expect(lines[1]).toMatch(/^\(shout pid=\d+ node=[0-9a-f]{8}\) loading the model now \[repeated 3x across cluster\]/);
  });

  test('logToDriver: false keeps worker output off the driver (it stays in the worker log files)', async () => {
    const logDir = mkdtempSync(path.join(os.tmpdir(), 'raybus-logs-'));
    try {
      const r = await runDriver(
        `
        const fs = require('fs'), path = require('path');
        const { nodeId } = await ray.init({ numCpus: 1, logToDriver: false });
        const quiet = ray.remote(function quiet() { console.log('not for the driver'); return 1; });
        await ray.get(quiet.remote());
        const dir = path.join(process.env.RAYBUS_LOG_DIR, nodeId);
        const text = fs.readdirSync(dir).filter((f) => f.endsWith('.out')).map((f) => fs.readFileSync(path.join(dir, f), 'utf8')).join('');
        console.log('IN FILE ' + text.includes('not for the driver'));
      `,
        { RAYBUS_LOG_DIR: logDir },
      );
      expect(r.code).toBe(0);
      expect(r.stdout).toContain('IN FILE true');
      expect(r.stdout).not.toMatch(/\(quiet pid=/);
    } finally {
      rmSync(logDir, { recursive: true, force: true });
    }
  });

  test("logLevel 'silent' suppresses raybus's warnings; 'warn' shows them", async () => {
    const body = (level: string): string => `
      await ray.init({ numCpus: 1, logLevel: '${level}' });
      const never = ray.remote({ resources: { Unobtainium: 1 } })(() => 1);
      const ref = never.remote();
      await ray.get(ref, { timeoutMs: 1500 }).catch(() => undefined);
      console.log('DONE');
    `;
    const [silent, loud] = await Promise.all([runDriver(body('silent')), runDriver(body('warn'))]);
    expect(silent.stdout).toContain('DONE');
    expect(loud.stdout).toContain('DONE');
    expect(loud.stderr).toMatch(/raybus.*infeasible/);
    expect(silent.stderr).not.toMatch(/raybus/);
  });
});
