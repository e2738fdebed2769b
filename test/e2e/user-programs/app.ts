/**
 * The application the user-program suites run in, made once per test run and shared by every
 * suite of the run (a lock directory; the global teardown deletes it): `npm pack` of this
 * repository (built by `pretest`), installed with TypeScript 5.9 and 7, tsx, @types/node and
 * the broker clients into a folder with two packages, `cjs/` (no "type") and `esm/`
 * ("type": "module"). The examples, the README's programs and test/programs are copied in, and
 * each package is compiled once with its own tsconfig (output in `build/`).
 */
import { execFile } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { readmePrograms } from './readme';

export const REPO = path.resolve(__dirname, '../../..');
const PROGRAMS = path.join(REPO, 'test/programs');
const EXAMPLES = path.join(REPO, 'examples');

/** The folder of this run's application (under the OS temp dir). */
export function userAppRoot(runId = process.env.RAYBUS_TEST_RUN_ID ?? `pid-${process.pid}`): string {
  return path.join(os.tmpdir(), `raybus-user-programs-${runId}`);
}

/** The prepared application. */
export interface UserApp {
  readonly root: string;
  readonly cjs: string;
  readonly esm: string;
  /** The README's runnable programs, as files in `esm/` (name without extension → source). */
  readonly readme: readonly { readonly name: string; readonly file: string; readonly usesAddress: boolean }[];
  /** Seconds each preparation step took (pack, install, compile). */
  readonly timings: Readonly<Record<string, number>>;
}

/** The versions installed beside raybus: the repository's own dev dependencies where it has them. */
function dependencies(tarball: string): string[] {
  const dev = (JSON.parse(readFileSync(path.join(REPO, 'package.json'), 'utf8')) as { devDependencies: Record<string, string> }).devDependencies;
  const pin = (name: string): string => `${name}@${dev[name] ?? 'latest'}`;
  return [
    tarball,
    pin('typescript'),
    // TypeScript 7 (the native compiler) under another name: its `tsc` is called by path.
    'typescript7@npm:typescript@^7.0.2',
    'tsx@^4.23.0',
    pin('@types/node'),
    pin('amqplib'),
    pin('@nats-io/transport-node'),
    pin('@nats-io/jetstream'),
  ];
}

/** Run a command; rejects with its output when it fails. */
export function exec(file: string, args: string[], options: { cwd: string; env?: NodeJS.ProcessEnv; timeoutMs?: number }): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      file,
      args,
      { cwd: options.cwd, env: options.env ?? process.env, timeout: options.timeoutMs ?? 300_000, maxBuffer: 64 * 1024 * 1024, encoding: 'utf8' },
      (err, stdout, stderr) => {
        if (err) reject(new Error(`${path.basename(file)} ${args.join(' ')} failed in ${options.cwd}: ${err.message}\n${stdout}\n${stderr}`));
        else resolve(stdout);
      },
    );
  });
}

/** npm as the user runs it: without the settings `npm test` passes to its scripts. */
function npmEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^npm_(package|lifecycle)_/i.test(k) || /^npm_config_(local_)?prefix$/i.test(k) || k === 'INIT_CWD') continue;
    env[k] = v;
  }
  return env;
}

const TSCONFIG_CJS = {
  compilerOptions: {
    strict: true,
    target: 'es2022',
    module: 'commonjs',
    moduleResolution: 'node10',
    esModuleInterop: true,
    types: ['node'],
    skipLibCheck: false,
    outDir: 'build',
  },
  include: ['*.ts'],
};
const TSCONFIG_ESM = {
  compilerOptions: { strict: true, target: 'es2022', module: 'nodenext', types: ['node'], skipLibCheck: false, outDir: 'build' },
  include: ['*.ts'],
};
/** TypeScript 7's defaults where they matter to a library: no global types, library checking on. */
const TSCONFIG_TYPES = {
  compilerOptions: { strict: true, noEmit: true, target: 'es2022', module: 'nodenext', types: [], skipLibCheck: false },
  files: ['types/api-types.ts'],
};

function write(file: string, content: string | object): void {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, typeof content === 'string' ? content : `${JSON.stringify(content, null, 2)}\n`);
}

async function build(root: string): Promise<UserApp> {
  const timings: Record<string, number> = {};
  const step = async <T>(name: string, f: () => Promise<T>): Promise<T> => {
    const t0 = Date.now();
    try {
      return await f();
    } finally {
      timings[name] = (Date.now() - t0) / 1000;
    }
  };
  if (!existsSync(path.join(REPO, 'dist/cjs/src/index.js'))) throw new Error('dist/ is missing: run `npm run build` first (npm test does)');
  rmSync(root, { recursive: true, force: true });
  mkdirSync(root, { recursive: true });
  // dist/ is fresh (pretest built it): pack it as it is.
  const packed = await step('pack', () => exec('npm', ['pack', '--ignore-scripts', '--silent', '--pack-destination', root], { cwd: REPO, env: npmEnv() }));
  const tarball = `./${packed.trim().split('\n').pop()!.trim()}`;
  write(path.join(root, 'package.json'), { name: 'raybus-user-programs', private: true });
  await step('install', () =>
    exec('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts', '--loglevel=error', ...dependencies(tarball)], {
      cwd: root,
      env: npmEnv(),
    }),
  );
  const cjs = path.join(root, 'cjs');
  const esm = path.join(root, 'esm');
  write(path.join(cjs, 'package.json'), { name: 'app-cjs', private: true, type: 'commonjs' });
  write(path.join(esm, 'package.json'), { name: 'app-esm', private: true, type: 'module' });
  write(path.join(cjs, 'tsconfig.json'), TSCONFIG_CJS);
  write(path.join(esm, 'tsconfig.json'), TSCONFIG_ESM);
  for (const dir of [cjs, esm]) {
    write(path.join(dir, 'tsconfig.types.json'), TSCONFIG_TYPES);
    mkdirSync(path.join(dir, 'types'), { recursive: true });
    copyFileSync(path.join(PROGRAMS, 'types/api-types.ts'), path.join(dir, 'types/api-types.ts'));
    for (const f of readdirSync(EXAMPLES).filter((f) => f.endsWith('.ts'))) copyFileSync(path.join(EXAMPLES, f), path.join(dir, f));
  }
  for (const f of readdirSync(EXAMPLES).filter((f) => f.endsWith('.mjs'))) copyFileSync(path.join(EXAMPLES, f), path.join(esm, f));
  // Example folders (an adapter with its node:test file) keep their layout.
  for (const d of readdirSync(EXAMPLES).filter((f) => statSync(path.join(EXAMPLES, f)).isDirectory())) {
    cpSync(path.join(EXAMPLES, d), path.join(esm, d), { recursive: true });
  }
  for (const f of readdirSync(PROGRAMS)) {
    if (!statSync(path.join(PROGRAMS, f)).isFile() || f.endsWith('.md')) continue;
    copyFileSync(path.join(PROGRAMS, f), path.join(f.endsWith('-cjs.ts') ? cjs : esm, f));
  }
  const readme = readmePrograms(readFileSync(path.join(REPO, 'README.md'), 'utf8')).map((p, i) => {
    const name = `readme-${i + 1}`;
    write(path.join(esm, `${name}.ts`), p.source);
    return { name, file: `${name}.ts`, usesAddress: /\baddress\s*:/.test(p.source) };
  });
  const tsc = path.join(root, 'node_modules/typescript/bin/tsc');
  await step('tsc', () => Promise.all([cjs, esm].map((dir) => exec(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd: dir }))));
  return { root, cjs, esm, readme, timings };
}

let prepared: Promise<UserApp> | undefined;

/**
 * The application of this run: made by the first suite that asks (the others wait for it);
 * its failure fails every suite that needs it.
 */
export function userApp(): Promise<UserApp> {
  prepared ??= prepareOnce(userAppRoot());
  return prepared;
}

async function prepareOnce(root: string): Promise<UserApp> {
  const lock = `${root}.lock`;
  const done = path.join(`${root}.state`, 'app.json');
  const failed = path.join(`${root}.state`, 'failed.txt');
  try {
    mkdirSync(lock);
  } catch {
    // Another suite of this run makes it: wait for its outcome.
    const deadline = Date.now() + 600_000;
    while (Date.now() < deadline) {
      if (existsSync(done)) return JSON.parse(readFileSync(done, 'utf8')) as UserApp;
      if (existsSync(failed)) throw new Error(`preparing the user application failed in another suite: ${readFileSync(failed, 'utf8')}`);
      await new Promise((r) => setTimeout(r, 250));
    }
    throw new Error(`timed out waiting for another suite to prepare ${root}`);
  }
  mkdirSync(`${root}.state`, { recursive: true });
  try {
    const app = await build(root);
    write(done, app);
    return app;
  } catch (err) {
    write(failed, (err as Error).message);
    throw err;
  }
}

/** Delete this run's application, and those of runs killed more than two hours ago (the global teardown calls it). */
export function removeUserApp(runId?: string): void {
  const root = userAppRoot(runId);
  for (const p of [root, `${root}.lock`, `${root}.state`]) rmSync(p, { recursive: true, force: true });
  for (const name of readdirSync(os.tmpdir())) {
    if (!name.startsWith('raybus-user-programs-')) continue;
    const p = path.join(os.tmpdir(), name);
    try {
      if (Date.now() - statSync(p).mtimeMs > 2 * 3600_000) rmSync(p, { recursive: true, force: true });
    } catch {
      /* removed meanwhile */
    }
  }
}
