/**
 * Module packs (src/bin/module-pack.ts, built by scripts/module-pack.mjs): a process loads the
 * modules of its start from the pack with V8's code cache, each a real Module under its real
 * filename, so a later ordinary require gets the same instance. What runs is always the file on
 * disk; a cache that is damaged, made by another V8 or for other content is not used (and gets
 * rewritten); without a pack, or under options that hook loading, Node's `require` does it all.
 *
 * The loader is exercised on a small package of its own (a dependency in node_modules, a
 * module that may import()), then in real actor workers of the built package.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import type * as Ray from '../../src/index';

// The built package (jest maps 'raybus' to dist/); see remote-functions.test.ts for why
// `require` is used.
const ray: typeof Ray = require('raybus');

const ROOT = path.resolve(__dirname, '../..');
const LOADER = path.join(ROOT, 'dist/cjs/src/bin/module-pack.js');
const BUILDER = path.join(ROOT, 'scripts/module-pack.mjs');

/** The files of the small package, by path in it. */
const FIXTURE: Record<string, string> = {
  'package.json': '{ "name": "fixture" }\n',
  'lib/main.js': [
    "const state = require('./state');",
    "const dep = require('dep');",
    "const leaf = require('./sub/leaf');",
    "const importer = require('./importer');",
    'module.exports = {',
    '  state, dep, leaf, importer, value: state.value,',
    "  info: { filename: __filename, moduleFilename: module.filename, id: module.id, resolved: require.resolve('./state'), depFile: require.resolve('dep'),",
    "    paths: module.paths, nodeCache: require.cache === require('node:module')._cache, main: require.main === process.mainModule },",
    '};',
    '',
  ].join('\n'),
  'lib/state.js': "exports.value = 41;\nexports.where = () => new Error('here').stack.split('\\n')[1];\n",
  'lib/sub/leaf.js': "exports.state = require('../state');\n",
  // Its import() would need Node's own loader: not packed.
  'lib/importer.js': "exports.load = new Function('s', 'return import(s)');\n",
  'node_modules/dep/package.json': '{ "name": "dep", "main": "index.js" }\n',
  'node_modules/dep/index.js': "exports.inner = require('./inner');\n",
  'node_modules/dep/inner.js': 'exports.x = 1;\n',
  // The process's entry, as bin/worker.ts: open the pack, load, close (rewriting if asked).
  'run.js': [
    "const path = require('node:path');",
    "const Module = require('node:module');",
    `const { openModulePack, packStats } = require(${JSON.stringify(LOADER)});`,
    "const pack = openModulePack(path.join(__dirname, 'pack.json'), path.join(__dirname, 'pack.cache'));",
    "const mainFile = path.join(__dirname, 'lib', 'main.js');",
    'const main = pack ? pack.load(mainFile, module) : require(mainFile);',
    'const rewrite = pack && pack.close();',
    "if (rewrite && process.argv.includes('--rewrite')) rewrite();",
    'main.importer.load("node:path").then((imported) => {',
    '  console.log(JSON.stringify({',
    '    opened: Boolean(pack), stats: packStats() || null, stale: Boolean(rewrite), value: main.value, info: main.info,',
    "    sameState: require('./lib/state') === main.state, sameLeaf: main.leaf.state === main.state,",
    "    sameDep: require(main.info.depFile) === main.dep, imported: typeof imported.join,",
    "    stateLoaded: Module._cache[path.join(__dirname, 'lib', 'state.js')].loaded,",
    "    crypto: process.moduleLoadList.includes('NativeModule crypto'),",
    '    where: main.state.where(),',
    '  }));',
    '});',
    '',
  ].join('\n'),
};

interface RunResult {
  opened: boolean;
  stats: { loaded: number; cached: number; rejected: number; changed: number; cacheRead: boolean; stamped: boolean } | null;
  stale: boolean;
  value: number;
  info: { filename: string; moduleFilename: string; id: string; resolved: string; depFile: string; paths: string[]; nodeCache: boolean; main: boolean };
  sameState: boolean;
  sameLeaf: boolean;
  sameDep: boolean;
  imported: string;
  stateLoaded: boolean;
  /** Whether node:crypto was loaded (only a check that hashes loads it). */
  crypto: boolean;
  /** A stack frame of a packed module (lib/state.js). */
  where: string;
}

let tmp: string;
/** The small package with its pack built. */
let built: string;

beforeAll(() => {
  tmp = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'raybus-pack-test-')));
  built = path.join(tmp, 'built');
  for (const [file, text] of Object.entries(FIXTURE)) {
    fs.mkdirSync(path.dirname(path.join(built, file)), { recursive: true });
    fs.writeFileSync(path.join(built, file), text);
  }
  buildPack(built);
});

/** Builds the pack of the small package in `dir`, as the build does. */
function buildPack(dir: string): void {
  const job = { entry: path.join(dir, 'lib/main.js'), root: dir, manifest: path.join(dir, 'pack.json'), cache: path.join(dir, 'pack.cache'), loader: LOADER };
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', `import { buildModulePack } from ${JSON.stringify(pathToFileURL(BUILDER).href)}; buildModulePack(${JSON.stringify(job)});`], {
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`building the pack failed: ${r.stderr}`);
}

afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

/**
 * A copy of the built package at `rel` under the test's folder, built there: cached code is
 * used only where it was made (see the test of a copy as it is).
 */
function copy(rel: string): string {
  const dir = path.join(tmp, rel);
  fs.cpSync(built, dir, { recursive: true });
  buildPack(dir);
  return dir;
}

/** Runs the package's entry in a fresh Node. */
function run(dir: string, nodeArgs: string[] = [], args: string[] = []): RunResult {
  const r = spawnSync(process.execPath, [...nodeArgs, path.join(dir, 'run.js'), ...args], { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } });
  if (r.status !== 0) throw new Error(`run.js failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as RunResult;
}

/** What holds whichever way the modules were loaded. */
function expectWorking(r: RunResult, dir: string): void {
  expect(r.value).toBe(41);
  expect(r.sameState).toBe(true);
  expect(r.sameLeaf).toBe(true);
  expect(r.sameDep).toBe(true);
  expect(r.stateLoaded).toBe(true);
  expect(r.imported).toBe('function');
  const main = path.join(dir, 'lib', 'main.js');
  expect(r.info).toEqual({
    filename: main,
    moduleFilename: main,
    id: main,
    resolved: path.join(dir, 'lib', 'state.js'),
    depFile: r.info.depFile,
    paths: require('node:module')._nodeModulePaths(path.dirname(main)),
    nodeCache: true,
    main: true,
  });
}

describe('the build', () => {
  test('packs what the entry loads, its dependency included, but not a module that may import()', () => {
    const manifest = JSON.parse(fs.readFileSync(path.join(built, 'pack.json'), 'utf8')) as {
      root: string;
      modules: { b: number; f: string; n: number }[];
      links: unknown[];
      sources: string;
    };
    expect(manifest.root).toBe('.');
    expect(manifest.modules.map((m) => m.f).sort()).toEqual(['index.js', 'inner.js', 'lib/main.js', 'lib/state.js', 'lib/sub/leaf.js']);
    expect(manifest.links).toEqual([{ from: [0, 'lib/main.js'], spec: 'dep', to: [1, 'index.js'] }]);
    const cache = fs.readFileSync(path.join(built, 'pack.cache'), 'latin1');
    expect(cache.startsWith('raybus module pack code cache 1\n')).toBe(true);
    // The build's stamps would be of the build's files: none are shipped.
    expect(cache).not.toContain('"stamps"');
    // The sources file: every module's content, in the manifest's order.
    const fileOf = (m: { b: number; f: string }): string => path.join(built, m.b === 0 ? '' : 'node_modules/dep', m.f);
    expect(manifest.sources).toBe('pack.sources');
    expect(fs.readFileSync(path.join(built, 'pack.sources'), 'utf8')).toBe(manifest.modules.map((m) => fs.readFileSync(fileOf(m), 'utf8')).join(''));
    expect(manifest.modules.map((m) => m.n)).toEqual(manifest.modules.map((m) => fs.statSync(fileOf(m)).size));
  });
});

describe('loading from a pack', () => {
  test('every module from the pack with its cached code, each one instance under its real filename', () => {
    const dir = copy('plain');
    const r = run(dir);
    expect(r.opened).toBe(true);
    expect(r.stats).toEqual({ loaded: 5, cached: 5, rejected: 0, changed: 0, cacheRead: true, stamped: false });
    // Checked every file against the build: the stamps to record are new.
    expect(r.stale).toBe(true);
    expectWorking(r, dir);
    expect(r.info.depFile).toBe(path.join(dir, 'node_modules', 'dep', 'index.js'));
  });

  test('once a process recorded the files as it checked them, the next takes the sources from the one file', () => {
    const dir = copy('stamped');
    expect(run(dir, [], ['--rewrite']).stats).toMatchObject({ cached: 5, stamped: false });
    const r = run(dir);
    expect(r.stats).toEqual({ loaded: 5, cached: 5, rejected: 0, changed: 0, cacheRead: true, stamped: true });
    expect(r.stale).toBe(false);
    expectWorking(r, dir);
    expect(r.info.depFile).toBe(path.join(dir, 'node_modules', 'dep', 'index.js'));
  });

  test('a cache its writer marked is taken unhashed (no node:crypto at all); damaged after the mark, it is hashed and refused', () => {
    const dir = copy('marked');
    const mark = path.join(dir, 'pack.cache.mark');
    // The build marks nothing: the mark is of the file on the machine that wrote it.
    expect(fs.existsSync(mark)).toBe(false);
    expect(run(dir, [], ['--rewrite']).crypto).toBe(true);
    expect(fs.existsSync(mark)).toBe(true);
    const r = run(dir);
    expect(r.stats).toEqual({ loaded: 5, cached: 5, rejected: 0, changed: 0, cacheRead: true, stamped: true });
    expect(r.crypto).toBe(false);
    expectWorking(r, dir);
    // Written in place (same file, same size): its times differ from the mark's.
    const file = path.join(dir, 'pack.cache');
    const bytes = fs.readFileSync(file);
    for (let i = bytes.length - 200; i < bytes.length; i += 7) bytes[i]! ^= 0xff;
    fs.writeFileSync(file, bytes);
    const d = run(dir);
    expect(d.crypto).toBe(true);
    expect(d.stats).toMatchObject({ cached: 0, cacheRead: false, stamped: false });
    expectWorking(d, dir);
  });

  test("a copy as it is (another path): the code cached for the original's paths is not used, and is made anew for its own", () => {
    const dir = path.join(tmp, 'moved');
    fs.cpSync(built, dir, { recursive: true });
    // V8 keeps the file name code was compiled under: used here, stack traces would name the original's files.
    const first = run(dir, [], ['--rewrite']);
    expect(first.stats).toEqual({ loaded: 5, cached: 0, rejected: 0, changed: 0, cacheRead: true, stamped: false });
    expect(first.stale).toBe(true);
    expect(first.where).toContain(path.join(dir, 'lib', 'state.js'));
    expectWorking(first, dir);
    const next = run(dir);
    expect(next.stats).toEqual({ loaded: 5, cached: 5, rejected: 0, changed: 0, cacheRead: true, stamped: true });
    expect(next.where).toContain(path.join(dir, 'lib', 'state.js'));
    expect(run(built).where).toContain(path.join(built, 'lib', 'state.js'));
  });

  test('a module written after the stamps (same length) runs as it is on disk', () => {
    const dir = copy('stamped-changed');
    run(dir, [], ['--rewrite']);
    // Same length and, on a coarse clock, maybe the same mtime: its ctime still moves.
    const state = path.join(dir, 'lib/state.js');
    fs.writeFileSync(state, fs.readFileSync(state, 'utf8').replace('41', '42'));
    const r = run(dir);
    expect(r.value).toBe(42);
    expect(r.stats).toEqual({ loaded: 5, cached: 4, rejected: 0, changed: 1, cacheRead: true, stamped: false });
    expect(r.sameState && r.sameLeaf).toBe(true);
  });

  test('a package installed where Node looks first, after the stamps: that one is loaded, as Node would', () => {
    const dir = copy('stamped-shadowed');
    run(dir, [], ['--rewrite']);
    fs.mkdirSync(path.join(dir, 'lib/node_modules/dep'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'lib/node_modules/dep/package.json'), '{ "name": "dep", "main": "index.js" }\n');
    fs.writeFileSync(path.join(dir, 'lib/node_modules/dep/index.js'), "exports.inner = require('./inner');\n");
    fs.writeFileSync(path.join(dir, 'lib/node_modules/dep/inner.js'), 'exports.x = 2;\n');
    const r = run(dir);
    // Found there, its package's files come from the pack as they are (inner.js differs).
    expect(r.stats).toMatchObject({ stamped: false, changed: 1 });
    expectWorking(r, dir);
    expect(r.info.depFile).toBe(path.join(dir, 'lib', 'node_modules', 'dep', 'index.js'));
  });

  test('a sources file changed after the stamps is not used', () => {
    const dir = copy('stamped-sources');
    run(dir, [], ['--rewrite']);
    const file = path.join(dir, 'pack.sources');
    fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace('exports.value = 41;', 'exports.value = 43;'));
    const r = run(dir);
    expect(r.stats).toMatchObject({ stamped: false, changed: 0, cached: 5 });
    expectWorking(r, dir);
  });

  test('without a pack, Node requires it all', () => {
    const dir = copy('no-pack');
    fs.rmSync(path.join(dir, 'pack.json'));
    const r = run(dir);
    expect(r.opened).toBe(false);
    expectWorking(r, dir);
  });

  test('a dependency installed elsewhere (hoisted) is found where it lies', () => {
    const dir = copy('hoisted/app');
    fs.renameSync(path.join(dir, 'node_modules'), path.join(tmp, 'hoisted', 'node_modules'));
    // The dependency's code was cached where it lay: compiled anew where it lies now.
    const r = run(dir);
    expect(r.stats).toEqual({ loaded: 5, cached: 3, rejected: 0, changed: 0, cacheRead: true, stamped: false });
    expectWorking(r, dir);
    expect(r.info.depFile).toBe(path.join(tmp, 'hoisted', 'node_modules', 'dep', 'index.js'));
  });

  test('a module changed since the build runs as it is on disk, without the cached code of the old one', () => {
    const dir = copy('changed');
    // Same length: V8 alone would take the old code for it.
    const state = path.join(dir, 'lib/state.js');
    fs.writeFileSync(state, fs.readFileSync(state, 'utf8').replace('41', '42'));
    const r = run(dir);
    expect(r.value).toBe(42);
    expect(r.stats).toEqual({ loaded: 5, cached: 4, rejected: 0, changed: 1, cacheRead: true, stamped: false });
    expect(r.sameState && r.sameLeaf).toBe(true);
  });

  test('a damaged code cache is not used, never breaks loading, and is rewritten', () => {
    const dir = copy('damaged');
    const file = path.join(dir, 'pack.cache');
    const bytes = fs.readFileSync(file);
    for (let i = bytes.length - 200; i < bytes.length; i += 7) bytes[i]! ^= 0xff;
    fs.writeFileSync(file, bytes);
    const r = run(dir, [], ['--rewrite']);
    expect(r.stats).toEqual({ loaded: 5, cached: 0, rejected: 0, changed: 0, cacheRead: false, stamped: false });
    expect(r.stale).toBe(true);
    expectWorking(r, dir);
    expect(run(dir).stats).toEqual({ loaded: 5, cached: 5, rejected: 0, changed: 0, cacheRead: true, stamped: true });
  });

  test('garbage for a code cache, or a manifest that is not one: loading goes on', () => {
    const dir = copy('garbage');
    fs.writeFileSync(path.join(dir, 'pack.cache'), 'not a cache');
    expect(run(dir).stats).toMatchObject({ loaded: 5, cached: 0, cacheRead: false });
    fs.writeFileSync(path.join(dir, 'pack.json'), '{"v":1,"modules":[{"b":3}],"links":[{}]}');
    const r = run(dir);
    expect(r.opened).toBe(false);
    expectWorking(r, dir);
  });

  test('a cache made under other V8 flags is rejected by V8, and rewritten for these', () => {
    const dir = copy('flags');
    const flagged = run(dir, ['--no-flush-bytecode'], ['--rewrite']);
    expect(flagged.stats).toMatchObject({ loaded: 5, rejected: 5, cached: 0 });
    const r = run(dir, [], ['--rewrite']);
    // The stamps the flagged process recorded hold: only the code is made again.
    expect(r.stats).toMatchObject({ loaded: 5, rejected: 5, cached: 0, stamped: true });
    expectWorking(r, dir);
    expect(run(dir).stats).toEqual({ loaded: 5, cached: 5, rejected: 0, changed: 0, cacheRead: true, stamped: true });
  });

  test('a code cache that cannot be read nor rewritten (a folder in its place): loading goes on', () => {
    const dir = copy('unwritable');
    fs.rmSync(path.join(dir, 'pack.cache'));
    fs.mkdirSync(path.join(dir, 'pack.cache'));
    const r = run(dir, [], ['--rewrite']);
    expect(r.stats).toEqual({ loaded: 5, cached: 0, rejected: 0, changed: 0, cacheRead: false, stamped: false });
    expectWorking(r, dir);
    expect(fs.readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  test('preloaded CommonJS code (-r) may hook loading: the pack stays closed', () => {
    const dir = copy('preload');
    fs.writeFileSync(path.join(dir, 'hook.js'), '');
    const r = run(dir, ['-r', path.join(dir, 'hook.js')]);
    expect(r.opened).toBe(false);
    expectWorking(r, dir);
  });
});

describe("the worker pack's private msgpackr", () => {
  test('the pack gives the file require(\'msgpackr\') leads to, with its content, while it is open', () => {
    const bin = path.join(ROOT, 'dist/cjs/src/bin');
    const from = path.join(ROOT, 'dist/cjs/src/serialization/msgpackr-instance.js');
    const script = [
      `const { openModulePack } = require(${JSON.stringify(path.join(bin, 'module-pack.js'))});`,
      `const wp = require(${JSON.stringify(path.join(bin, 'worker-pack.js'))});`,
      'const pack = openModulePack(wp.WORKER_PACK_MANIFEST, wp.WORKER_PACK_CACHE);',
      `const found = pack.privateModule(${JSON.stringify(from)}, 'msgpackr');`,
      `const other = pack.privateModule(${JSON.stringify(from)}, 'tslib');`,
      'pack.close();',
      `const closed = pack.privateModule(${JSON.stringify(from)}, 'msgpackr');`,
      `const expected = require('node:module').createRequire(${JSON.stringify(from)}).resolve('msgpackr');`,
      "const same = found !== undefined && found.source === require('node:fs').readFileSync(expected, 'utf8');",
      'console.log(JSON.stringify({ filename: found && found.filename, expected, same, other: other === undefined, closed: closed === undefined }));',
    ].join('\n');
    const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } });
    expect(r.stderr).toBe('');
    const got = JSON.parse(r.stdout) as { filename: string; expected: string; same: boolean; other: boolean; closed: boolean };
    expect(got).toEqual({ filename: got.expected, expected: got.expected, same: true, other: true, closed: true });
  });
});

describe('actor workers of the built package', () => {
  beforeAll(async () => {
    await ray.init({ numCpus: 2 });
  });

  afterAll(async () => {
    await ray.shutdown();
  });

  test("load from the worker pack; a user's later require('raybus') shares its modules", async () => {
    const Probe = ray.remote(
      class Probe {
        identity() {
          const path = require('node:path');
          const fs = require('node:fs');
          const bin = path.dirname(require.main!.filename);
          const stats = require(path.join(bin, 'module-pack.js')).packStats();
          const before = new Set(Object.keys(require.cache));
          // What a user's module importing raybus loads (the package's main).
          const api = require(path.join(bin, '..', 'index.js'));
          const keys = Object.keys(require.cache);
          const real = new Set(keys.map((k) => fs.realpathSync(k)));
          const state = keys.filter((k) => /[\\/]core[\\/]runtime-state\.js$/.test(k));
          return {
            stats,
            stateFromStart: state.every((k) => before.has(k)),
            states: state.length,
            duplicates: keys.length - real.size,
            actorId: api.default.getRuntimeContext().actorId,
          };
        }
        // By-value code with import() of its own: code-shipping compiles it, so it stays out of the pack.
        dynamicImport() {
          return eval('import("node:path")').then((m: { join: unknown }) => typeof m.join);
        }
      },
    );
    const a = Probe.remote();
    const r = await ray.get(a.identity.remote());
    expect(r.stats).not.toBeNull();
    expect(r.stats.loaded).toBeGreaterThan(50);
    expect(r.stats.cached + r.stats.rejected).toBeLessThanOrEqual(r.stats.loaded);
    expect(r.stats.changed).toBe(0);
    expect(r.stateFromStart).toBe(true);
    expect(r.states).toBe(1);
    expect(r.duplicates).toBe(0);
    expect(r.actorId).toEqual(expect.any(String));
    await expect(ray.get(a.dynamicImport.remote())).resolves.toBe('function');
    await ray.kill(a);
  });
});

describe('a copy of the built package whose worker code cache was damaged', () => {
  /** A driver of the copy: one actor call answers the worker's pack stats; the actor lives on a while. */
  const DRIVER = [
    "const ray = require(process.argv[2]).default;",
    '(async () => {',
    '  await ray.init({ numCpus: 1 });',
    '  const Probe = ray.remote(class Probe { stats() { const path = require("node:path"); return require(path.join(path.dirname(require.main.filename), "module-pack.js")).packStats(); } });',
    '  const a = Probe.remote();',
    '  const stats = await ray.get(a.stats.remote());',
    // A worker that could not read the cache rewrites it a second after it started
    // (bin/worker.ts): wait until it renamed the new one over the old, or 20 s.
    '  const fs = require("node:fs");',
    '  const cache = process.argv[3], first = fs.statSync(cache).ino;',
    '  for (const end = Date.now() + 20000; !stats.cacheRead && Date.now() < end && fs.statSync(cache).ino === first; ) await new Promise((r) => setTimeout(r, 50));',
    '  await ray.shutdown();',
    '  console.log(JSON.stringify(stats));',
    '})();',
    '',
  ].join('\n');

  // Its node_modules is a link to another folder, as pnpm lays packages out.
  test('its workers start and answer without it, and one rewrites it, with stamps the next ones take', () => {
    const pkg = path.join(tmp, 'package-copy');
    fs.mkdirSync(pkg);
    fs.cpSync(path.join(ROOT, 'dist'), path.join(pkg, 'dist'), { recursive: true });
    fs.copyFileSync(path.join(ROOT, 'package.json'), path.join(pkg, 'package.json'));
    fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(pkg, 'node_modules'));
    fs.writeFileSync(path.join(pkg, 'driver.js'), DRIVER);
    const cache = path.join(pkg, 'dist/cjs/src/bin/worker-pack.cache');
    const bytes = fs.readFileSync(cache);
    for (let i = bytes.length - 1000; i < bytes.length; i += 13) bytes[i]! ^= 0x5a;
    fs.writeFileSync(cache, bytes);
    const drive = (): { loaded: number; cached: number; cacheRead: boolean; stamped: boolean } => {
      const r = spawnSync(process.execPath, [path.join(pkg, 'driver.js'), path.join(pkg, 'dist/cjs/src/index.js'), cache], { encoding: 'utf8', timeout: 45000 });
      if (r.status !== 0) throw new Error(`the driver failed: ${r.stderr}`);
      return JSON.parse(r.stdout.trim().split('\n').pop()!);
    };
    const damaged = drive();
    expect(damaged).toMatchObject({ cacheRead: false, cached: 0 });
    expect(damaged.loaded).toBeGreaterThan(50);
    const rewritten = drive();
    expect(rewritten).toMatchObject({ cacheRead: true, loaded: damaged.loaded, cached: damaged.loaded, stamped: true });
  }, 100_000);
});
