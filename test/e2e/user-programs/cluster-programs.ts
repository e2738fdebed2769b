/**
 * Programs run the way users run them, on a cluster over a broker: one `raybus start` node from
 * the packed package's CLI, with `--import tsx` so that its workers load TypeScript modules, and
 * each program a driver joining it through RAYBUS_ADDRESS and RAYBUS_CLUSTER_KEY (the same
 * application as user-programs.test.ts). Each program must exit by itself with code 0.
 * user-programs-rabbitmq.test.ts and user-programs-nats.test.ts run it on each broker.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { namedClusterAddress } from '../../../src/testing/process-cluster';
import { eventually } from '../amqp-e2e-helpers';
import { REPO, userApp, type UserApp } from './app';
import { commandFor, expectProgramSucceeds, programEnv, suiteTimings, type Runner } from './run';

const examples = readdirSync(path.join(REPO, 'examples'));

/** A broker the suite runs on. */
export interface ProgramsBroker {
  readonly name: string;
  /** `describe`, or a failing/skipped suite when the broker cannot be reached. */
  describe(title: string, body: () => void): void;
  /** Take the broker for this suite: its base address and how to give it back. */
  acquire(): Promise<{ url: string; release(): Promise<void> }>;
}

/** Every user program, run as a driver of a one-node cluster on `broker`. */
export function describeUserProgramsOn(broker: ProgramsBroker): void {
  broker.describe(`user programs on a ${broker.name} cluster`, () => {
    const key = randomBytes(16).toString('hex');
    let address = '';
    let env: NodeJS.ProcessEnv = {};
    let app: UserApp;
    let node: ChildProcess | undefined;
    let nodeOutput = '';
    let base = '';
    let release: () => Promise<void> = async () => undefined;

    beforeAll(async () => {
      app = await userApp();
      const taken = await broker.acquire();
      base = taken.url;
      release = () => taken.release();
      address = namedClusterAddress(base, `user-programs-${randomBytes(4).toString('hex')}`);
      env = programEnv({ RAYBUS_ADDRESS: address, RAYBUS_CLUSTER_KEY: key });
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
      await release();
      if (app) process.stderr.write(`user programs (${broker.name}):\n${suiteTimings().join('\n')}\n`);
    }, 60_000);

    test.each(examples.filter((f) => f.endsWith('.mjs')))('%s with node', async (file) => {
      await expectProgramSucceeds(app, `${file} (${broker.name}, node)`, app.esm, [file], env);
    });

    const tsCases: Array<[string, 'cjs' | 'esm', Runner]> = examples
      .filter((f) => f.endsWith('.ts'))
      .flatMap((f) => [
        [f, 'esm', 'tsx'],
        [f, 'cjs', 'tsc + node'],
      ]);
    test.each(tsCases)('%s in a %s package with %s', async (file, kind, runner) => {
      await expectProgramSucceeds(app, `${file} (${broker.name}, ${kind}, ${runner})`, kind === 'cjs' ? app.cjs : app.esm, commandFor(app, file, runner), env);
    });

    test.each([
      ['cjs', 'tsx'],
      ['esm', 'node --import tsx'],
      ['esm', 'tsc + node'],
    ] as Array<['cjs' | 'esm', Runner]>)('code identity in a %s package with %s', async (kind, runner) => {
      const run = await expectProgramSucceeds(
        app,
        `code-identity-${kind}.ts (${broker.name}, ${runner})`,
        kind === 'cjs' ? app.cjs : app.esm,
        commandFor(app, `code-identity-${kind}.ts`, runner),
        env,
      );
      expect(run.stdout).toContain('{"digest":"ca978112","usesRay":2,"hasher":"0cc175b9","tally":6}');
    });

    test('README programs that take their address from the environment', async () => {
      for (const p of app.readme.filter((r) => !r.usesAddress)) {
        await expectProgramSucceeds(app, `README ${p.name} (${broker.name}, tsx)`, app.esm, commandFor(app, p.file, 'tsx'), env);
      }
    });

    test('a script that never calls shutdown() ends when its work ends', async () => {
      const run = await expectProgramSucceeds(app, `exit-no-shutdown.mjs (${broker.name})`, app.esm, ['exit-no-shutdown.mjs'], env);
      expect(run.stdout).toContain('done without shutdown');
    });

    test('tasks no node can run (infeasible) do not keep a script alive', async () => {
      const run = await expectProgramSucceeds(app, `exit-infeasible.mjs (${broker.name})`, app.esm, ['exit-infeasible.mjs'], env);
      expect(run.stdout).toContain('waited GetTimeoutError');
      expect(run.stdout).toContain('end of script');
    });

    test('handles never used do not crash shutdown()', async () => {
      const run = await expectProgramSucceeds(app, `exit-unused-handles.cjs (${broker.name})`, app.esm, ['exit-unused-handles.cjs'], env);
      expect(run.stdout).toContain('shutdown ok');
    });

    test('TypeScript on cluster nodes: without a loader the error names the cause; with import: [tsx] it runs', async () => {
      // The program starts clusters of its own (Cluster.start with an address) beside this one.
      const run = await expectProgramSucceeds(app, `cluster-loader.ts (${broker.name}, tsx)`, app.esm, commandFor(app, 'cluster-loader.ts', 'tsx'), programEnv({ CLUSTER_LOADER_BROKER: base }));
      expect(run.stdout).toContain('without a loader: the error names the cause');
      expect(run.stdout).toContain("with import: ['tsx']: ran");
    });
  });
}
