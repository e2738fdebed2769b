// Builds the CommonJS output with tsc, then thin ESM wrappers that re-export it, so that
// `import` and `require` share one module instance (no dual-package hazard).
import { execFileSync } from 'node:child_process';
import { rmSync, writeFileSync, mkdirSync, chmodSync, cpSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { buildModulePack } from './module-pack.mjs';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
rmSync(path.join(root, 'dist'), { recursive: true, force: true });
execFileSync(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-p', path.join(root, 'tsconfig.build.json')], {
  stdio: 'inherit',
});
// The dashboard's page (HTML, CSS, JS) is served from beside its compiled server module.
cpSync(path.join(root, 'src/dashboard/assets'), path.join(root, 'dist/cjs/src/dashboard/assets'), { recursive: true });
const require = createRequire(import.meta.url);
const esm = path.join(root, 'dist/esm');
mkdirSync(esm, { recursive: true });
for (const [name, cjs] of [
  ['index', '../cjs/src/index.js'],
  ['testing', '../cjs/src/testing/index.js'],
  ['amqp', '../cjs/adapters/amqp/index.js'],
  ['nats', '../cjs/adapters/nats/index.js'],
]) {
  const mod = require(path.join(esm, cjs));
  const names = Object.keys(mod).filter((k) => k !== 'default' && k !== '__esModule' && /^[A-Za-z_$][\w$]*$/.test(k));
  const lines = [`import cjs from '${cjs}';`, ...names.map((n) => `export const ${n} = cjs.${n};`)];
  if ('default' in mod) lines.push('export default cjs.default;');
  writeFileSync(path.join(esm, `${name}.mjs`), lines.join('\n') + '\n');
  const dts = cjs;
  writeFileSync(path.join(esm, `${name}.d.mts`), `export * from '${dts}';\n${'default' in mod ? `export { default } from '${dts}';\n` : ''}`);
}
chmodSync(path.join(root, 'dist/cjs/src/cli/main.js'), 0o755);
// The worker's module pack: what a worker loads at start, loaded with V8's code cache
// (src/bin/module-pack.ts): each actor's worker is a fresh process.
const bin = path.join(root, 'dist/cjs/src/bin');
const workerPack = require(path.join(bin, 'worker-pack.js'));
const pack = buildModulePack({
  root,
  entry: workerPack.WORKER_MAIN,
  manifest: workerPack.WORKER_PACK_MANIFEST,
  cache: workerPack.WORKER_PACK_CACHE,
  loader: path.join(bin, 'module-pack.js'),
  setup: { module: path.join(bin, 'worker-pack.js'), name: 'prepareWorkerLoad' },
});
console.log(`raybus: worker pack of ${pack.modules} modules (${pack.stats.loaded} loaded from it, their code cached)`);
console.log('raybus: built dist/cjs and dist/esm');
