/**
 * Observability of a cluster on RabbitMQ, end to end: a test Cluster of `raybus start`
 * processes, this process as a driver. `ray.util.state` over the broker (tasks answered by
 * their owners, workers by their nodes, actors by the broker leader), the state commands of the
 * CLI against the running cluster (`list`, `summary`, `logs` reading the node's files,
 * `timeline`), and worker output reaching a driver in a child process with Ray's prefixes.
 * Needs RabbitMQ (skipped without it, failing with CI=true).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type * as Ray from '../../src/index';
import type * as Testing from '../../src/testing/index';
import { AMQP_TEST_URL, describeWithBroker } from '../conformance/amqp-broker';
import { eventually, lockAmqpSuites, RAYBUS_CLI, spawnDriver } from './amqp-e2e-helpers';
import { waitUntil } from '../support/wait-until';

const ray: typeof Ray = require('raybus');
const { Cluster }: typeof Testing = require('raybus/testing');

// Real processes on a 2-core machine: give each case room (they take seconds, not minutes).
jest.setTimeout(90_000);
const T = { timeoutMs: 60_000 };

/** The test cluster's key: the CLI reads it from the environment, as an operator's shell would give it. */
let clusterKey = '';

/** Run a raybus command to completion (without blocking this process's driver, which answers queries). */
function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const env = { ...process.env, RAYBUS_CLUSTER_KEY: clusterKey };
    execFile(process.execPath, [RAYBUS_CLI, ...args], { encoding: 'utf8', timeout: 60_000, env }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

describeWithBroker('observability on RabbitMQ', () => {
  let cluster: Testing.Cluster;
  let unlock: () => void = () => undefined;
  let json: <T>(args: string[]) => Promise<T>;

  beforeAll(async () => {
    unlock = await lockAmqpSuites();
    cluster = await Cluster.start({ address: AMQP_TEST_URL, nodes: [{ numCpus: 2 }] });
    clusterKey = cluster.clusterKey ?? '';
    await ray.init({ address: cluster.address, namespace: 'observed' });
    json = async <T>(args: string[]): Promise<T> => {
      const r = await cli([...args, '--address', cluster.address, '--json']);
      if (r.code !== 0) throw new Error(`raybus ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
      return JSON.parse(r.stdout) as T;
    };
  }, 120_000);

  afterAll(async () => {
    await ray.shutdown().catch(() => undefined);
    await cluster?.shutdown();
    unlock();
  }, 60_000);

  test('the state API and the CLI list the same live cluster: tasks, actors, workers, placement groups, objects, nodes', async () => {
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
    const gate = Gate.options({ numCpus: 0, name: 'gate' }).remote();
    const held = ray.remote(async function held(g: { pass: { remote(): Ray.ObjectRef<void> } }) {
      await ray.get(g.pass.remote());
      return process.pid;
    });
    const boom = ray.remote({ maxRetries: 0 })(function boom() {
      throw new RangeError('out of range');
    });
    const Doomed = ray.remote(
      class Doomed {
        ping(): number {
          return 1;
        }
      },
    );
    const doomed = Doomed.options({ numCpus: 0 }).remote();
    await ray.get(doomed.ping.remote(), T);
    await ray.kill(doomed);
    await expect(ray.get(boom.remote(), T)).rejects.toThrow('out of range');
    const running = held.remote(gate);
    const pg = ray.util.placementGroup([{ CPU: 0.5 }], { name: 'observed-pg' });
    await ray.get(pg.ready(), T);
    const obj = ray.put({ payload: 'y'.repeat(2000) });
    // Whatever happens, the held task and the group give their CPUs back for the next cases.
    const release = async (): Promise<void> => {
      await ray.get((gate as unknown as { open: { remote(): Ray.ObjectRef<void> } }).open.remote(), T);
      await ray.util.removePlacementGroup(pg);
    };
    try {
      await waitUntil(async () => (await ray.util.state.listTasks({ filters: [['name', '=', 'held']] })).items[0]?.state === 'RUNNING', 30_000);
      const tasks = new Map((await ray.util.state.listTasks({ limit: 1000 })).items.map((t) => [t.name, t]));
      expect(tasks.get('held')).toMatchObject({ state: 'RUNNING', workerPid: expect.any(Number), nodeId: cluster.nodes[0]!.nodeId });
      expect(tasks.get('boom')).toMatchObject({ state: 'FAILED', errorType: 'RayTaskError' });
      expect((await ray.util.state.getTask(tasks.get('boom')!.taskId))!.errorMessage).toBe('RangeError: out of range');
      expect(tasks.get('Gate.pass')).toMatchObject({ state: 'RUNNING', type: 'ACTOR_TASK' });

      await waitUntil(async () => (await ray.util.state.getActor(doomed.actorId))?.state === 'DEAD', 30_000);
      expect(await ray.util.state.getActor(doomed.actorId)).toMatchObject({ state: 'DEAD', deathCause: { reason: 'RAY_KILL' } });
      expect(await ray.util.state.getActor(gate.actorId)).toMatchObject({ state: 'ALIVE', name: 'gate', rayNamespace: 'observed', pid: expect.any(Number) });

      const workers = await ray.util.state.listWorkers({ limit: 1000 });
      const pidOfHeld = tasks.get('held')!.workerPid;
      expect(workers.items).toContainEqual(expect.objectContaining({ workerType: 'WORKER', pid: pidOfHeld, nodeId: cluster.nodes[0]!.nodeId, isAlive: true }));
      expect(workers.items).toContainEqual(expect.objectContaining({ workerType: 'DRIVER', pid: process.pid }));
      expect((await ray.util.state.listObjects({ filters: [['objectId', '=', obj.id]] })).items).toEqual([expect.objectContaining({ owned: true, type: 'DRIVER', taskStatus: 'FINISHED' })]);
      expect((await ray.util.state.listNodes()).items).toEqual([expect.objectContaining({ nodeId: cluster.nodes[0]!.nodeId, state: 'ALIVE', isHeadNode: true })]);

      // The CLI, on a connection of its own, sees the same (this process answers for its tasks).
      const cliRunning = await json<Ray.TaskItem[]>(['list', 'tasks', '--filter', 'state=RUNNING']);
      expect(cliRunning.map((t) => t.name).sort()).toEqual(['Gate.pass', 'held']);
      const cliFailed = await json<Ray.TaskItem[]>(['list', 'tasks', '--filter', 'name=boom', '--detail']);
      expect(cliFailed).toEqual([expect.objectContaining({ state: 'FAILED', errorType: 'RayTaskError', errorMessage: 'RangeError: out of range' })]);
      const cliActors = await json<Ray.ActorItem[]>(['list', 'actors', '--filter', 'state=DEAD']);
      expect(cliActors).toContainEqual(expect.objectContaining({ actorId: doomed.actorId, deathCause: expect.objectContaining({ reason: 'RAY_KILL' }) }));
      const cliWorkers = await json<Ray.WorkerItem[]>(['list', 'workers', '--filter', 'workerType=WORKER']);
      expect(cliWorkers.map((w) => w.pid)).toContain(pidOfHeld);
      const cliPgs = await json<Ray.PlacementGroupItem[]>(['list', 'placement-groups']);
      expect(cliPgs).toContainEqual(expect.objectContaining({ name: 'observed-pg', state: 'CREATED' }));
      const cliObjects = await json<Ray.ObjectItem[]>(['list', 'objects', '--filter', `objectId=${obj.id}`]);
      expect(cliObjects).toHaveLength(1);
      const summary = await json<Ray.TaskSummary>(['summary', 'tasks']);
      expect(summary.summary.held!.stateCounts).toEqual({ RUNNING: 1 });
      expect(summary.summary.boom!.stateCounts).toEqual({ FAILED: 1 });
      const actorSummary = await json<Ray.ActorSummary>(['summary', 'actors']);
      expect(actorSummary.summary.Doomed!.stateCounts).toEqual({ DEAD: 1 });
      const table = await cli(['list', 'tasks', '--address', cluster.address, '--filter', 'state=RUNNING']);
      expect(table.code).toBe(0);
      expect(table.stdout).toMatch(/^TASKID\s+ATTEMPTNUMBER\s+NAME\s+STATE/);
      expect(table.stderr).toMatch(/2 of 2 tasks/);

      const bad = await cli(['list', 'tasks', '--address', cluster.address, '--filter', 'colour=red']);
      expect(bad.code).toBe(2);
      expect(bad.stderr.trim().split('\n')).toHaveLength(1);
      expect(bad.stderr).toMatch(/unknown filter column 'colour'/);
    } finally {
      await release();
    }
    expect(await ray.get(running, T)).toBeGreaterThan(0);
    await ray.kill(gate);
  });

  test("raybus logs prints an actor's or a task's lines from its node's files; raybus timeline writes a Chrome trace", async () => {
    const Speaker = ray.remote(
      class Speaker {
        say(s: string): string {
          console.log(`speaker says ${s}`);
          console.error(`speaker warns ${s}`);
          return s;
        }
      },
    );
    const speaker = Speaker.options({ numCpus: 0 }).remote();
    await ray.get([speaker.say.remote('one'), speaker.say.remote('two')], T);
    const talk = ray.remote(function talk(x: number) {
      console.log(`task line ${x}`);
      return x;
    });
    await ray.get(talk.remote(1), T);
    const second = talk.remote(2);
    await ray.get(second, T);
    // A task's return is its id and 4 hex digits (the return index).
    const taskId = second.id.slice(0, -4);
    expect(await ray.util.state.getTask(taskId)).toMatchObject({ name: 'talk', state: 'FINISHED' });

    const actorLogs = await cli(['logs', '--actor', speaker.actorId, '--address', cluster.address]);
    expect(actorLogs.code).toBe(0);
    expect(actorLogs.stdout).toContain('speaker says one\nspeaker says two\n');
    expect(actorLogs.stdout).not.toContain('::raybus-task');
    expect(actorLogs.stderr).toContain('speaker warns two');
    const taskLogs = await cli(['logs', '--task', taskId, '--address', cluster.address]);
    expect(taskLogs.code).toBe(0);
    expect(taskLogs.stdout).toBe('task line 2\n');
    const unknown = await cli(['logs', '--actor', 'ffffffffffffffffffffff', '--address', cluster.address]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/^raybus logs: error: no actor ffffffffffffffffffffff in this cluster\n$/);

    const dir = mkdtempSync(path.join(os.tmpdir(), 'raybus-cli-timeline-'));
    try {
      const out = path.join(dir, 'trace.json');
      const r = await cli(['timeline', '--out', out, '--address', cluster.address]);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/raybus timeline: wrote \d+ events/);
      const trace = JSON.parse(readFileSync(out, 'utf8')) as { traceEvents: Ray.ChromeTraceEvent[] };
      const talks = trace.traceEvents.filter((e) => e.name === 'talk');
      expect(talks.length).toBeGreaterThanOrEqual(2);
      for (const e of talks) expect(e).toMatchObject({ ph: 'X', ts: expect.any(Number), dur: expect.any(Number), pid: expect.any(Number), tid: expect.any(Number) });
      expect(trace.traceEvents.filter((e) => e.name === 'Speaker.say')).toHaveLength(2);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    await ray.kill(speaker);
  });

  test('worker output reaches a driver in another process, prefixed with the task or actor, its pid and node', async () => {
    const d = spawnDriver(
      cluster.address,
      `await ray.init({ address });
       const hello = ray.remote(function hello(x) { console.log('hello over the broker ' + x); return process.pid; });
       const Echo = ray.remote(class Echo { echo(s) { console.log('echo ' + s); return process.pid; } });
       const e = Echo.options({ numCpus: 0 }).remote();
       const pids = await ray.get([hello.remote(7), e.echo.remote('there')]);
       console.log('PIDS ' + pids.join(' '));
       await ray.shutdown();`,
      { RAYBUS_CLUSTER_KEY: cluster.clusterKey },
    );
    const [, p1, p2] = await d.line(/PIDS (\d+) (\d+)/, 60_000);
    expect(await d.exited()).toBe(0);
    const node = cluster.nodes[0]!.nodeId.slice(0, 8);
    expect(d.output()).toContain(`(hello pid=${p1} node=${node}) hello over the broker 7\n`);
    expect(d.output()).toContain(`(Echo pid=${p2} node=${node}) echo there\n`);
    await eventually(async () => ((await ray.util.state.listWorkers({ filters: [['workerType', '=', 'DRIVER']] })).items.length === 1 ? true : undefined), 20_000, 'the other driver to be gone');
  });
});
