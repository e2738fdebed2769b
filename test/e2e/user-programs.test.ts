/**
 * Programs run the way users run them, on the embedded default: the packed package installed
 * in an application (user-programs/app.ts), every example and every README program, the
 * TypeScript ones under tsx, `node --import tsx` and tsc + node, in a CommonJS and an ES
 * module package; scripts that must end by themselves; the public types under TypeScript 5.9
 * and 7. Each program must exit by itself with code 0 within a bounded time.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { exec, REPO, userApp, type UserApp } from './user-programs/app';
import { commandFor, expectProgramSucceeds, programEnv, runNode, recordTiming, suiteTimings, describeRun, TS_RUNNERS, type Runner } from './user-programs/run';
import { readmeBlocks } from './user-programs/readme';

jest.setTimeout(120_000);

let app: UserApp;
beforeAll(async () => {
  app = await userApp();
}, 600_000);

afterAll(() => {
  if (app) process.stderr.write(`user programs (embedded), after preparing ${JSON.stringify(app.timings)} s:\n${suiteTimings().join('\n')}\n`);
});

const EMBEDDED = programEnv();
const KINDS = ['cjs', 'esm'] as const;
const examples = readdirSync(path.join(REPO, 'examples'));
const jsExamples = examples.filter((f) => f.endsWith('.mjs'));
const tsExamples = examples.filter((f) => f.endsWith('.ts'));
/** Folders run with `node --test`, as their first lines say. */
const testedFolders = examples.filter((f) => statSync(path.join(REPO, 'examples', f)).isDirectory());
const dirOf = (kind: (typeof KINDS)[number]): string => (kind === 'cjs' ? app.cjs : app.esm);

test('every example is run by this suite', () => {
  expect(jsExamples.length + tsExamples.length + testedFolders.length).toBe(examples.length);
  expect(testedFolders).toEqual(['transport-adapter']);
  expect(jsExamples).toEqual(expect.arrayContaining(['demo.mjs', 'map-reduce.mjs', 'placement-group.mjs']));
  expect(tsExamples).toEqual(expect.arrayContaining(['actor-service.ts', 'streaming-pipeline.ts']));
});

test('raybus --version from the packed package prints the package version', async () => {
  const version = (JSON.parse(readFileSync(path.join(REPO, 'package.json'), 'utf8')) as { version: string }).version;
  const out = await exec(path.join(app.root, 'node_modules/.bin/raybus'), ['--version'], { cwd: app.root });
  expect(out.trim()).toBe(version);
});

describe('examples', () => {
  test.each(jsExamples)('%s with node', async (file) => {
    await expectProgramSucceeds(app, `${file} (node)`, app.esm, [file], EMBEDDED);
  });

  const cases = tsExamples.flatMap((file) => KINDS.flatMap((kind) => TS_RUNNERS.map((runner) => [file, kind, runner] as const)));
  test.each(cases)('%s in a %s package with %s', async (file, kind, runner) => {
    await expectProgramSucceeds(app, `${file} (${kind}, ${runner})`, dirOf(kind), commandFor(app, file, runner), EMBEDDED);
  });

  test.each(testedFolders)('%s/ with node --test', async (folder) => {
    const run = await expectProgramSucceeds(app, `${folder}/ (node --test)`, app.esm, ['--test', `${folder}/`], EMBEDDED);
    expect(run.stdout).toMatch(/# pass [1-9]/);
    expect(run.stdout).toMatch(/# fail 0/);
  });
});

describe('README', () => {
  test('every ts/js block is a program or marked as a fragment', () => {
    const blocks = readmeBlocks(readFileSync(path.join(REPO, 'README.md'), 'utf8')).filter((b) => ['ts', 'typescript', 'js', 'javascript'].includes(b.lang));
    expect(blocks.filter((b) => b.fragment === undefined).length).toBe(app.readme.length);
    expect(app.readme.length).toBeGreaterThanOrEqual(2);
  });

  test.each(['tsx', 'tsc + node'] as const)('its programs run in an ES module package with %s', async (runner) => {
    for (const p of app.readme) await expectProgramSucceeds(app, `README ${p.name} (esm, ${runner})`, app.esm, commandFor(app, p.file, runner), EMBEDDED);
  });
});

describe('TypeScript: code identity survives the loader', () => {
  const cases = KINDS.flatMap((kind) => TS_RUNNERS.map((runner) => [kind, runner] as [typeof kind, Runner]));
  test.each(cases)('imports, `ray` and classes in a %s package with %s', async (kind, runner) => {
    const run = await expectProgramSucceeds(app, `code-identity-${kind}.ts (${runner})`, dirOf(kind), commandFor(app, `code-identity-${kind}.ts`, runner), EMBEDDED);
    expect(run.stdout).toContain('{"digest":"ca978112","usesRay":2,"hasher":"0cc175b9","tally":6}');
  });
});

test('an error class exported by an ES module comes back as that class, from tasks and actors', async () => {
  const run = await expectProgramSucceeds(app, 'error-class-esm.mjs', app.esm, ['error-class-esm.mjs'], EMBEDDED);
  expect(run.stdout).toContain('error classes of an ES module: ok');
});

describe('a script ends when its work ends', () => {
  test('without shutdown(): it waits for its work, exits 0, and its workers go with it', async () => {
    const run = await expectProgramSucceeds(app, 'exit-no-shutdown.mjs', app.esm, ['exit-no-shutdown.mjs'], EMBEDDED);
    expect(run.stdout).toContain('done without shutdown');
    const pids = JSON.parse(/WORKER_PIDS (\[.*\])/.exec(run.stdout)![1]!) as number[];
    expect(pids.length).toBeGreaterThan(0);
    for (const pid of pids) await expect(gone(pid, 10_000)).resolves.toBe(true);
  });

  test('auto-initialised by .remote(): exits 0, with no infeasible warning', async () => {
    const run = await expectProgramSucceeds(app, 'exit-auto-init.cjs', app.esm, ['exit-auto-init.cjs'], EMBEDDED);
    expect(run.stdout).toContain('auto-init [ 1, 4, 9 ]');
    expect(run.stderr).not.toMatch(/infeasible/i);
  });

  test('tasks that can never run (infeasible) do not keep it alive; a get waiting for one does, visibly', async () => {
    const run = await expectProgramSucceeds(app, 'exit-infeasible.mjs', app.esm, ['exit-infeasible.mjs'], EMBEDDED);
    expect(run.stdout).toContain('result fine');
    expect(run.stdout).toContain('waited GetTimeoutError');
    expect(run.stdout).toContain('end of script');
    expect(run.stderr).toMatch(/unobtainium.*infeasible/);
  });

  test('handles never used do not crash shutdown()', async () => {
    const run = await expectProgramSucceeds(app, 'exit-unused-handles.cjs', app.esm, ['exit-unused-handles.cjs'], EMBEDDED);
    expect(run.stdout).toContain('shutdown ok');
    expect(run.stderr).not.toMatch(/UNHANDLED|unhandled/);
  });

  test('a .remote() that threw (an argument that cannot be sent) holds nothing: later calls run, the script exits', async () => {
    const run = await expectProgramSucceeds(app, 'exit-after-throw.cjs', app.esm, ['exit-after-throw.cjs'], EMBEDDED);
    expect(run.stdout).toContain('a task with a function argument threw: raybus: cannot serialize a function at args[0]');
    expect(run.stdout).toContain('an actor call with a function argument threw');
    expect(run.stdout).toContain('after the throws: 7 8');
  });
});

describe('types', () => {
  const compilers = [
    ['TypeScript 5.9', 'node_modules/typescript/bin/tsc'],
    ['TypeScript 7', 'node_modules/typescript7/bin/tsc'],
  ] as const;
  const cases = compilers.flatMap(([name, bin]) => KINDS.map((kind) => [name, kind, bin] as const));
  test.each(cases)('%s compiles the type checks in a %s package (no global types, library checking on)', async (name, kind, bin) => {
    const run = await runNode([path.join(app.root, bin), '-p', 'tsconfig.types.json'], dirOf(kind), EMBEDDED);
    recordTiming(app, `types (${name}, ${kind})`, run);
    if (run.code !== 0) throw new Error(describeRun(`${name} on types/api-types.ts`, run));
  });
});

/** True once no process has `pid` (polled until `timeoutMs`). */
async function gone(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      process.kill(pid, 0);
    } catch {
      return true;
    }
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 100));
  }
}
