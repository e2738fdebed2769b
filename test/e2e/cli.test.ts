/**
 * The `raybus` command line against RabbitMQ: `raybus start` nodes (with --import and a cluster
 * key file), `raybus status`, `raybus list ... [--json]` (the state API; see
 * amqp-observability.test.ts for the rest of it), the SIGTERM drain, and one clear line with a
 * non-zero exit code for every failure.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type * as Ray from '../../src/index';
import { AMQP_TEST_URL, describeWithBroker } from '../conformance/amqp-broker';
import { namedClusterAddress } from '../../src/testing/process-cluster';
import { eventually, lockAmqpSuites, RAYBUS_CLI } from './amqp-e2e-helpers';

const ray: typeof Ray = require('raybus');

// Real processes on a 2-core machine: give each case room (they take seconds, not minutes).
jest.setTimeout(90_000);
const T = { timeoutMs: 60_000 };
const IMPORT_FIXTURE = path.resolve(__dirname, '../fixtures/node-import.js');

interface StartedNode {
  readonly child: ChildProcess;
  readonly nodeId: string;
  output(): string;
  exited: Promise<number | null>;
}

/** `raybus start ...`; resolves once the node says it is up. */
async function startNode(args: string[]): Promise<StartedNode> {
  const child = spawn(process.execPath, [RAYBUS_CLI, 'start', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const nodeId = await eventually(
    () => {
      if (child.exitCode !== null) throw new Error(`raybus start exited (${child.exitCode}):\n${out}`);
      return /node ([0-9a-f]{28}) is up/.exec(out)?.[1];
    },
    60_000,
    `raybus start to come up; output so far:\n${out}`,
    50,
  );
  return { child, nodeId, output: () => out, exited };
}

/** The cluster key `cli` gives its commands (RAYBUS_CLUSTER_KEY), set by the suite. */
let cliKey = '';

/** Run a raybus command to completion (without blocking this process's driver). */
function cli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [RAYBUS_CLI, ...args], { env: { ...process.env, RAYBUS_CLUSTER_KEY: cliKey, ...env }, encoding: 'utf8', timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

describeWithBroker('the raybus command line on RabbitMQ', () => {
  const address = namedClusterAddress(AMQP_TEST_URL, `raybus-cli-${randomBytes(4).toString('hex')}`);
  const key = randomBytes(16).toString('hex');
  const keyFile = path.join(os.tmpdir(), `raybus-cli-test-${process.pid}.key`);
  let a: StartedNode;
  let b: StartedNode;
  let unlock: () => void = () => undefined;

  beforeAll(async () => {
    unlock = await lockAmqpSuites();
    cliKey = key;
    writeFileSync(keyFile, `${key}\n`, { mode: 0o600 });
    const common = ['--address', address, '--cluster-key-file', keyFile, '--num-cpus', '1', '--num-gpus', '0'];
    [a, b] = await Promise.all([
      startNode([...common, '--resources', '{"Special":2}', '--import', IMPORT_FIXTURE]),
      startNode(common),
    ]);
    await ray.init({ address, clusterKey: key, namespace: 'cli' });
  }, 90_000);

  afterAll(async () => {
    await ray.shutdown().catch(() => undefined);
    for (const n of [a, b]) {
      if (n && n.child.exitCode === null) {
        n.child.kill('SIGTERM');
        await n.exited;
      }
    }
    rmSync(keyFile, { force: true });
    unlock();
  }, 60_000);

  test('raybus start prints its progress and runs a node with the declared resources', async () => {
    expect(a.output()).toMatch(/raybus start: connecting to amqp:\/\/guest:\*\*\*@/);
    expect(a.output()).toMatch(/is up at .* with \{CPU: 1, .*Special: 2\}/);
    expect(a.output()).not.toContain(key);
    const total = await ray.clusterResources();
    expect(total.CPU).toBe(2);
    expect(total.Special).toBe(2);
    const special = ray.remote({ resources: { Special: 1 } })(() => ray.getRuntimeContext().nodeId);
    expect(await ray.get(special.remote(), T)).toBe(a.nodeId);
  });

  test('--import modules are imported by the workers before user code', async () => {
    const probe = ray.remote({ resources: { Special: 1 } })(() => (globalThis as Record<string, unknown>).__raybusNodeImport ?? 'missing');
    expect(await ray.get(probe.remote(), T)).toMatch(/^imported by \d+$/);
  });

  test('raybus status and raybus list read the live cluster', async () => {
    const Named = ray.remote({ name: 'cli-actor', numCpus: 0 })(
      class Named {
        hold(ms: number) {
          return new Promise((r) => setTimeout(() => r(ms), ms));
        }
      },
    );
    const actor = Named.remote();
    await ray.get(actor.hold.remote(0), T);
    const infeasible = ray.remote({ resources: { Nope: 1 } })(() => 1);
    void infeasible.remote();
    const pg = ray.util.placementGroup([{ CPU: 0.5 }], { name: 'cli-pg' });
    await ray.get(pg.ready(), T);
    // A task that runs until the test lets it go.
    const Gate = ray.remote(
      class Gate {
        opened = false;
        waiting: Array<() => void> = [];
        async pass() {
          if (!this.opened) await new Promise<void>((r) => this.waiting.push(r));
        }
        open() {
          this.opened = true;
          for (const w of this.waiting.splice(0)) w();
        }
      },
    );
    const gate = Gate.options({ numCpus: 0 }).remote();
    const busy = ray.remote(async (g: { pass: { remote(): unknown } }) => ray.get(g.pass.remote() as Ray.ObjectRef<void>));
    const running = busy.remote(gate);

    const status = await eventually(async () => {
      const r = await cli(['status', '--address', address]);
      return r.code === 0 && /infeasible: a task needing .*Nope: 1/.test(r.stdout) && /1 worker lease running/.test(r.stdout) ? r : undefined;
    }, 20_000, 'status to show the running lease and the infeasible task');
    expect(status.stdout).toMatch(/Nodes: 2 alive, 0 draining, 0 dead/);
    expect(status.stdout).toMatch(/CPU\s+\d+(\.\d+)? \/ 2/);
    expect(status.stdout).toMatch(/Special\s+0 \/ 2/);
    expect(status.stdout).toMatch(/Actors: 2 \(ALIVE 2\)/);
    expect(status.stdout).toMatch(/1 infeasible/);
    expect(status.stderr).toBe('');

    const nodes = JSON.parse((await cli(['list', 'nodes', '--address', address, '--json'])).stdout) as Array<{ nodeId: string; state: string }>;
    expect(nodes.map((n) => n.nodeId).sort()).toEqual([a.nodeId, b.nodeId].sort());
    expect(nodes.every((n) => n.state === 'ALIVE')).toBe(true);
    const actors = JSON.parse((await cli(['list', 'actors', '--address', address, '--json'])).stdout) as Array<{ name: string; state: string }>;
    expect(actors).toContainEqual(expect.objectContaining({ name: 'cli-actor', state: 'ALIVE', rayNamespace: 'cli' }));
    // Tasks as their owners know them: the one running (and the gate call it made), the infeasible one waiting for a node.
    const runningNow = JSON.parse((await cli(['list', 'tasks', '--address', address, '--filter', 'state=RUNNING', '--json'])).stdout) as Array<{ name: string; type: string }>;
    expect(runningNow.map((t) => t.type).sort()).toEqual(['ACTOR_TASK', 'NORMAL_TASK']);
    expect(runningNow).toContainEqual(expect.objectContaining({ name: 'Gate.pass' }));
    const waiting = JSON.parse((await cli(['list', 'tasks', '--address', address, '--filter', 'state=PENDING_NODE_ASSIGNMENT', '--filter', 'type=NORMAL_TASK', '--json'])).stdout) as unknown[];
    expect(waiting).toHaveLength(1);
    const pgs = JSON.parse((await cli(['list', 'placement-groups', '--address', address, '--json'])).stdout) as Array<{ name: string; state: string }>;
    expect(pgs).toEqual([expect.objectContaining({ name: 'cli-pg', state: 'CREATED' })]);
    const table = await cli(['list', 'actors', '--address', address]);
    expect(table.stdout).toMatch(/^ACTORID\s+CLASSNAME\s+STATE/);
    expect(table.stdout).toContain('cli-actor');

    await ray.get(gate.open.remote(), T);
    await ray.get(running, T);
    await ray.kill(actor);
    await ray.kill(gate);
    await ray.util.removePlacementGroup(pg);
  });

  test('SIGTERM drains a node: its running task finishes there, then it exits 0', async () => {
    const Latch = ray.remote(
      class Latch {
        n = 0;
        waiting: Array<() => void> = [];
        async arrive() {
          this.n += 1;
          for (const w of this.waiting.splice(0)) w();
        }
        async started() {
          if (this.n === 0) await new Promise<void>((r) => this.waiting.push(r));
          return this.n;
        }
      },
    );
    const latch = Latch.options({ numCpus: 0 }).remote();
    const work = ray.remote(async (l: { arrive: { remote(): unknown } }, ms: number) => {
      const ctx = ray.getRuntimeContext();
      await ray.get(l.arrive.remote() as Ray.ObjectRef<void>);
      await new Promise((r) => setTimeout(r, ms));
      return { node: ctx.nodeId, attempt: ctx.attempt };
    });
    const onB = work.options({ schedulingStrategy: new ray.NodeAffinitySchedulingStrategy({ nodeId: b.nodeId, soft: true }) });
    const ref = onB.remote(latch, 1500);
    await ray.get(latch.started.remote(), T);
    b.child.kill('SIGTERM');
    expect(await ray.get(ref, T)).toEqual({ node: b.nodeId, attempt: 0 });
    expect(await b.exited).toBe(0);
    expect(b.output()).toMatch(/SIGTERM: draining/);
    expect(b.output()).toMatch(/drained; node stopped/);
    // Work goes on elsewhere.
    const after = ray.remote(() => ray.getRuntimeContext().nodeId);
    expect(await ray.get(after.remote(), T)).toBe(a.nodeId);
    const nodes = JSON.parse((await cli(['list', 'nodes', '--address', address, '--json'])).stdout) as Array<{ nodeId: string; state: string }>;
    // Listed as dead, or not at all when the drained node was the broker leader (its successor never saw it).
    expect(nodes.find((n) => n.nodeId === b.nodeId)?.state ?? 'DEAD').toBe('DEAD');
    expect(nodes.find((n) => n.nodeId === a.nodeId)?.state).toBe('ALIVE');
  });

  test('every failure prints one clear line and exits non-zero', async () => {
    const oneLine = (s: string): void => expect(s.trim().split('\n')).toHaveLength(1);
    const noAddress = await cli(['list', 'nodes'], { RAYBUS_ADDRESS: '' });
    expect(noAddress.code).toBe(2);
    expect(noAddress.stderr).toMatch(/needs --address/);
    oneLine(noAddress.stderr);

    const bad = new URL(address);
    bad.password = 'wrong-password';
    const refused = await cli(['status', '--address', bad.toString()]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/ACCESS.REFUSED/);
    expect(refused.stderr).not.toContain('wrong-password');
    oneLine(refused.stderr);

    const badImport = await cli(['start', '--address', address, '--import', './no-such-module.js']);
    expect(badImport.code).toBe(2);
    expect(badImport.stderr).toMatch(/--import '.\/no-such-module.js': no such module/);
    oneLine(badImport.stderr);

    const empty = await cli(['status', '--address', namedClusterAddress(AMQP_TEST_URL, 'raybus-cli-empty')], { RAYBUS_QUERY_TIMEOUT_MS: '1500' });
    expect(empty.code).toBe(1);
    expect(empty.stderr).toMatch(/no raybus cluster at this address/);
    oneLine(empty.stderr);

    const unknown = await cli(['list', 'widgets', '--address', address]);
    expect(unknown.code).toBe(2);
    oneLine(unknown.stderr);
  });
});
