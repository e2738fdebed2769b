/**
 * Programs run the way users run them, on a RabbitMQ cluster: one `raybus start` node from the
 * packed package's CLI, with `--import tsx` so that its workers load TypeScript modules, and
 * each program a driver joining it through RAYBUS_ADDRESS and RAYBUS_CLUSTER_KEY (the same
 * application as user-programs.test.ts). Each program must exit by itself with code 0.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { AMQP_TEST_URL, describeWithBroker } from '../conformance/amqp-broker';
import { namedClusterAddress } from '../../src/testing/process-cluster';
import { eventually, lockAmqpSuites } from './amqp-e2e-helpers';
import { REPO, userApp, type UserApp } from './user-programs/app';
import { commandFor, expectProgramSucceeds, programEnv, suiteTimings, type Runner } from './user-programs/run';

jest.setTimeout(120_000);

const examples = readdirSync(path.join(REPO, 'examples'));

describeWithBroker('user programs on a RabbitMQ cluster', () => {
  const address = namedClusterAddress(AMQP_TEST_URL, `user-programs-${randomBytes(4).toString('hex')}`);
  const key = randomBytes(16).toString('hex');
  const env = programEnv({ RAYBUS_ADDRESS: address, RAYBUS_CLUSTER_KEY: key });
  let app: UserApp;
  let node: ChildProcess | undefined;
  let nodeOutput = '';
  let unlock: () => void = () => undefined;

  beforeAll(async () => {
    app = await userApp();
    unlock = await lockAmqpSuites();
    const keyFile = path.join(`${app.root}.state`, 'cluster.key');
    writeFileSync(keyFile, key, { mode: 0o600 });
    // The packed CLI, from the application's folder (where `--import tsx` resolves).
    node = spawn(
      path.join(app.root, 'node_modules/.bin/raybus'),
      ['start', '--address', address, '--cluster-key-file', keyFile, '--num-cpus', '4', '--num-gpus', '0', '--resources', '{"trainer":2}', '--import', 'tsx'],
      { cwd: app.root, env: programEnv(), stdio: ['ignore', 'pipe', 'pipe'] },
    );
    node.stdout!.on('data', (d: Buffer) => (nodeOutput += d.toString()));
    node.stderr!.on('data', (d: Buffer) => (nodeOutput += d.toString()));
    await eventually(
      () => {
        if (node!.exitCode !== null) throw new Error(`raybus start exited (${node!.exitCode}):\n${nodeOutput}`);
        return /is up at/.test(nodeOutput) ? true : undefined;
      },
      60_000,
      'the raybus start node',
      50,
    );
  }, 600_000);

  afterAll(async () => {
    if (node && node.exitCode === null) {
      const exited = new Promise((resolve) => node!.once('exit', resolve));
      node.kill('SIGTERM');
      await exited;
    }
    unlock();
    if (app) process.stderr.write(`user programs (RabbitMQ):\n${suiteTimings().join('\n')}\n`);
  }, 60_000);

  test.each(examples.filter((f) => f.endsWith('.mjs')))('%s with node', async (file) => {
    await expectProgramSucceeds(app, `${file} (RabbitMQ, node)`, app.esm, [file], env);
  });

  const tsCases: Array<[string, 'cjs' | 'esm', Runner]> = examples
    .filter((f) => f.endsWith('.ts'))
    .flatMap((f) => [
      [f, 'esm', 'tsx'],
      [f, 'cjs', 'tsc + node'],
    ]);
  test.each(tsCases)('%s in a %s package with %s', async (file, kind, runner) => {
    await expectProgramSucceeds(app, `${file} (RabbitMQ, ${kind}, ${runner})`, kind === 'cjs' ? app.cjs : app.esm, commandFor(app, file, runner), env);
  });

  test.each([
    ['cjs', 'tsx'],
    ['esm', 'node --import tsx'],
    ['esm', 'tsc + node'],
  ] as Array<['cjs' | 'esm', Runner]>)('code identity in a %s package with %s', async (kind, runner) => {
    const run = await expectProgramSucceeds(
      app,
      `code-identity-${kind}.ts (RabbitMQ, ${runner})`,
      kind === 'cjs' ? app.cjs : app.esm,
      commandFor(app, `code-identity-${kind}.ts`, runner),
      env,
    );
    expect(run.stdout).toContain('{"digest":"ca978112","usesRay":2,"hasher":"0cc175b9","tally":6}');
  });

  test('README programs that take their address from the environment', async () => {
    for (const p of app.readme.filter((r) => !r.usesAddress)) {
      await expectProgramSucceeds(app, `README ${p.name} (RabbitMQ, tsx)`, app.esm, commandFor(app, p.file, 'tsx'), env);
    }
  });

  test('a script that never calls shutdown() ends when its work ends', async () => {
    const run = await expectProgramSucceeds(app, 'exit-no-shutdown.mjs (RabbitMQ)', app.esm, ['exit-no-shutdown.mjs'], env);
    expect(run.stdout).toContain('done without shutdown');
  });

  test('handles never used do not crash shutdown()', async () => {
    const run = await expectProgramSucceeds(app, 'exit-unused-handles.cjs (RabbitMQ)', app.esm, ['exit-unused-handles.cjs'], env);
    expect(run.stdout).toContain('shutdown ok');
  });

  test('TypeScript on cluster nodes: without a loader the error names the cause; with import: [tsx] it runs', async () => {
    // The program starts clusters of its own (Cluster.start with an address) beside this one.
    const run = await expectProgramSucceeds(app, 'cluster-loader.ts (RabbitMQ, tsx)', app.esm, commandFor(app, 'cluster-loader.ts', 'tsx'), programEnv({ CLUSTER_LOADER_BROKER: AMQP_TEST_URL }));
    expect(run.stdout).toContain('without a loader: the error names the cause');
    expect(run.stdout).toContain("with import: ['tsx']: ran");
  });
});
