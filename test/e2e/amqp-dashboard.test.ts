/**
 * `raybus dashboard` against a cluster on RabbitMQ, end to end: the command serves the live
 * cluster (this process is a driver running work), its transport pane shows the broker's
 * queues through the adapter's passive declares, `/metrics` exports the cluster, and bound
 * beyond loopback it refuses requests without the cluster key (401). Needs RabbitMQ (skipped
 * without it, failing with CI=true).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type * as Ray from '../../src/index';
import type * as Testing from '../../src/testing/index';
import type { DashboardSnapshot } from '../../src/dashboard/snapshot';
import { AMQP_TEST_URL, describeWithBroker } from '../conformance/amqp-broker';
import { lockAmqpSuites, RAYBUS_CLI } from './amqp-e2e-helpers';
import { waitUntil } from '../support/wait-until';

const ray: typeof Ray = require('raybus');
const { Cluster }: typeof Testing = require('raybus/testing');

jest.setTimeout(120_000);
const T = { timeoutMs: 60_000 };

describeWithBroker('raybus dashboard on RabbitMQ', () => {
  let cluster: Testing.Cluster;
  let unlock: () => void = () => undefined;
  let child: ChildProcess | undefined;
  let output = '';
  let url: string;
  const auth = (): Record<string, string> => ({ Authorization: `Bearer ${cluster.clusterKey}` });

  beforeAll(async () => {
    unlock = await lockAmqpSuites();
    cluster = await Cluster.start({ address: AMQP_TEST_URL, nodes: [{ numCpus: 2 }] });
    await ray.init({ address: cluster.address, namespace: 'watched' });
    child = spawn(process.execPath, [RAYBUS_CLI, 'dashboard', '--address', cluster.address, '--port', '0', '--host', '0.0.0.0'], {
      env: { ...process.env, RAYBUS_CLUSTER_KEY: cluster.clusterKey },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    await waitUntil(async () => /serving http:\/\/\S+:\d+/.test(output) || child!.exitCode !== null, 60_000);
    const m = /serving http:\/\/\S+:(\d+)/.exec(output);
    if (!m) throw new Error(`raybus dashboard did not start:\n${output}`);
    expect(output).toMatch(/requests must carry the cluster key as token/);
    url = `http://127.0.0.1:${m[1]}`;
  }, 120_000);

  afterAll(async () => {
    if (child && child.exitCode === null) {
      const exited = new Promise<number | null>((r) => child!.once('exit', (code) => r(code)));
      child.kill('SIGINT');
      expect(await exited).toBe(0);
    }
    await ray.shutdown().catch(() => undefined);
    await cluster?.shutdown();
    unlock();
  }, 60_000);

  test('shows the work of a driver: actors, tasks by function, the broker queues; /metrics exports them', async () => {
    const Keeper = ray.remote(
      class Keeper {
        kept: number[] = [];
        keep(x: number): number {
          this.kept.push(x);
          return this.kept.length;
        }
      },
    );
    const keeper = Keeper.remote();
    const double = ray.remote(function double(x: number) {
      return 2 * x;
    });
    await ray.get(
      Array.from({ length: 10 }, (_, i) => double.remote(i)),
      T,
    );
    await ray.get(keeper.keep.remote(1), T);

    let snap: DashboardSnapshot | undefined;
    await waitUntil(async () => {
      snap = (await (await fetch(`${url}/api/snapshot`, { headers: auth() })).json()) as DashboardSnapshot;
      return snap.actors.some((a) => a.actorId === keeper.actorId && a.state === 'ALIVE') && (snap.functions.find((f) => f.name === 'double')?.counts.FINISHED ?? 0) >= 10;
    }, 60_000);
    expect(snap!.transportKind).toBe('amqp');
    expect(snap!.overview.nodes.alive).toBe(1);
    const broker = snap!.transport.queues.find((q) => q.kind === 'broker');
    expect(broker).toMatchObject({ name: 'raybus.broker', consumers: expect.any(Number) });
    expect(broker!.consumers).toBeGreaterThanOrEqual(1);
    expect(snap!.transport.queues.some((q) => q.kind === 'mailbox' && q.owner === keeper.actorId)).toBe(true);
    expect(snap!.actors.find((a) => a.actorId === keeper.actorId)!.mailbox).toBe(0);
    expect(snap!.transport.traffic.sent).toBeGreaterThan(0);

    const metrics = await (await fetch(`${url}/metrics`, { headers: auth() })).text();
    expect(metrics).toMatch(/^raybus_tasks\{name="double",state="FINISHED"\} 10$/m);
    expect(metrics).toMatch(/^raybus_actors\{class="Keeper",state="ALIVE"\} 1$/m);
    expect(metrics).toMatch(/^raybus_queue_messages\{kind="broker"\} \d+$/m);
    expect(Number(/^raybus_task_duration_seconds_count (\d+)$/m.exec(metrics)?.[1])).toBeGreaterThanOrEqual(11);

    const detail = (await (await fetch(`${url}/api/actors/${keeper.actorId}`, { headers: auth() })).json()) as { calls: Ray.TaskItem[] };
    expect(detail.calls.map((c) => c.name)).toContain('Keeper.keep');
  });

  test('bound beyond loopback, a request without the cluster key is refused (401)', async () => {
    expect((await fetch(`${url}/`)).status).toBe(401);
    expect((await fetch(`${url}/metrics`, { headers: { Authorization: 'Bearer not-the-key' } })).status).toBe(401);
    expect((await fetch(`${url}/`, { headers: auth() })).status).toBe(200);
  });
});
