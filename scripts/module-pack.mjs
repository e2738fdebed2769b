// Builds a module pack (src/bin/module-pack.ts): the manifest of the modules an entry loads at
// start, and their code cache. Both come from running the entry's loading in processes of their
// own (module-pack-child.cjs): one records what the usual `require` loads, the other loads that
// from the pack, as a process would, and writes the code cache.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const CHILD = path.join(path.dirname(fileURLToPath(import.meta.url)), 'module-pack-child.cjs');
const NODE_MODULES = `${path.sep}node_modules${path.sep}`;
const require = createRequire(import.meta.url);

/**
 * Whether a module may run import(): its own, or in code it makes from strings (new Function,
 * eval), which imports the way the code that made it does. Node 20 gives code compiled by vm
 * (a packed module) Node's own import() only through an experimental option that warns; such
 * a module loads through Node's `require` instead. Code from constant strings without import()
 * is fine.
 */
function mayImport(source) {
  const acorn = require('acorn');
  let ast;
  try {
    ast = acorn.parse(source, { ecmaVersion: 'latest', sourceType: 'script', allowHashBang: true, allowReturnOutsideFunction: true });
  } catch {
    return true;
  }
  const constant = (n) => (n.type === 'Literal' && typeof n.value === 'string') || (n.type === 'TemplateLiteral' && n.expressions.length === 0);
  const text = (n) => (n.type === 'Literal' ? n.value : n.quasis[0].value.cooked);
  let found = false;
  const walk = (n) => {
    if (found || !n || typeof n.type !== 'string') return;
    if (n.type === 'ImportExpression') found = true;
    if (n.type === 'CallExpression' || n.type === 'NewExpression') {
      const c = n.callee;
      const name = c.type === 'Identifier' ? c.name : c.type === 'MemberExpression' && !c.computed ? c.property.name : undefined;
      if ((name === 'Function' || name === 'eval') && !n.arguments.every((a) => constant(a) && !/\bimport\b/.test(text(a)))) found = true;
    }
    for (const v of Object.values(n)) {
      if (Array.isArray(v)) v.forEach(walk);
      else if (v && typeof v === 'object') walk(v);
    }
  };
  walk(ast);
  return found;
}

/**
 * Writes the pack of `entry` (an absolute path) to `manifest` and `cache`.
 *   root:   the package whose own modules are packed (paths relative to it);
 *   loader: the built module-pack.js;
 *   setup:  { module, name }: a function the entry's process calls with the pack's compiler
 *           before loading the entry (and the recording process with a recorder);
 *   dependencies: whether modules of other packages are packed too (found at run time).
 * Returns { modules, stats } (stats: what loading from the new pack did, module-pack.ts).
 */
export function buildModulePack({ entry, root, manifest, cache, loader, setup, dependencies = true }) {
  const { contentHash, sourcesHash, MANIFEST_VERSION } = require(loader);
  const recorded = runChild({ mode: 'record', entry, setup });

  // Where each file lies: its package (0: root's own) and its path in it.
  const packages = new Map();
  const place = (file) => {
    const rel = path.relative(root, file);
    if (!rel.startsWith('..') && !path.isAbsolute(rel) && !rel.split(path.sep).includes('node_modules')) return { b: 0, f: rel };
    const at = file.lastIndexOf(NODE_MODULES);
    if (at < 0 || !dependencies) return undefined;
    const parts = file.slice(at + NODE_MODULES.length).split(path.sep);
    const name = parts[0].startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0];
    const pkgRoot = file.slice(0, at + NODE_MODULES.length) + name.split('/').join(path.sep);
    if (!packages.has(pkgRoot)) packages.set(pkgRoot, { b: packages.size + 1, name });
    return { b: packages.get(pkgRoot).b, f: path.relative(pkgRoot, file) };
  };
  // The candidates, in the order they loaded (a private one: compiled by its caller, who
  // vouches for what it evaluates). One that may run import() is not packed (mayImport), but
  // its requires by package name still tell where packages lie.
  const candidates = [];
  const byFile = new Map();
  for (const [file, isPrivate] of [...recorded.files.map((f) => [f, false]), ...recorded.privates.map((f) => [f, true])]) {
    const where = place(file);
    if (!where || byFile.has(file)) continue;
    const source = readFileSync(file, 'utf8');
    byFile.set(file, candidates.length);
    candidates.push({ ...where, f: where.f.split(path.sep).join('/'), source, isPrivate, packed: isPrivate || !mayImport(source), rel: {}, named: {} });
  }

  // Requires by relative path stay in their package; those by package name are resolved again
  // at run time, once per requiring package (links), which must have led to one module.
  const byName = new Map();
  for (const [from, spec, to] of recorded.edges) {
    const a = candidates[byFile.get(from)];
    const t = byFile.get(to);
    if (!a || t === undefined || a.isPrivate || path.isAbsolute(spec)) continue;
    if (spec.startsWith('.')) {
      if (a.b === candidates[t].b) a.rel[spec] = t;
      continue;
    }
    const key = `${a.b}\0${spec}`;
    const link = byName.get(key);
    if (!link) byName.set(key, { from: a, spec, to: t, users: [a] });
    else if (link.to !== t) link.to = -1;
    else link.users.push(a);
  }
  // Each link resolves from a module whose package is found already (the root's first); a
  // package no link finds stays out.
  const found = new Set([0]);
  const links = [];
  for (let more = true; more; ) {
    more = false;
    for (const [key, link] of byName) {
      if (link.to < 0 || !found.has(link.from.b)) continue;
      byName.delete(key);
      const to = candidates[link.to];
      links.push({ from: [link.from.b, link.from.f], spec: link.spec, to: [to.b, to.f] });
      for (const user of link.users) user.named[link.spec] = link.to;
      found.add(to.b);
      more = true;
    }
  }
  const kept = candidates.filter((c) => c.packed && found.has(c.b));
  const index = new Map(kept.map((c) => [candidates.indexOf(c), kept.indexOf(c)]));
  const deps = (c) => Object.fromEntries(Object.entries({ ...c.rel, ...c.named }).flatMap(([spec, t]) => (index.has(t) ? [[spec, index.get(t)]] : [])));
  const modules = kept.map((c) => ({ b: c.b, f: c.f, h: contentHash(c.source), n: Buffer.byteLength(c.source), d: deps(c), ...(c.isPrivate ? { p: 1 } : {}) }));
  const sources = kept.map((c) => c.source);
  const packageNames = [...packages.values()].map((p) => p.name);
  const rootRel = path.relative(path.dirname(manifest), root).split(path.sep).join('/') || '.';
  // The contents one after the other: a process that finds every file as a process before it
  // checked them reads this one file instead (module-pack.ts).
  const sourcesFile = `${path.basename(manifest, '.json')}.sources`;
  writeFileSync(path.join(path.dirname(manifest), sourcesFile), sources.join(''));
  writeFileSync(manifest, JSON.stringify({ v: MANIFEST_VERSION, root: rootRel, packages: packageNames, modules, links, hash: sourcesHash(sources), sources: sourcesFile }));
  rmSync(cache, { force: true });
  const stats = runChild({ mode: 'cache', entry, setup, loader, manifest, cache });
  return { modules: modules.length, packages: packageNames, stats };
}

/** Runs module-pack-child.cjs on `job` in a fresh Node; returns what it wrote. */
function runChild(job) {
  const dir = mkdtempSync(path.join(tmpdir(), 'raybus-pack-'));
  try {
    const out = path.join(dir, 'out.json');
    // Without NODE_OPTIONS: some close the pack, and V8 flags would bind the cache to them.
    const r = spawnSync(process.execPath, [CHILD, JSON.stringify({ ...job, out })], { stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, NODE_OPTIONS: '' } });
    if (r.status !== 0) throw new Error(`module pack: the ${job.mode} step failed (${r.error?.message ?? `exit ${r.status ?? r.signal}`})`);
    return JSON.parse(readFileSync(out, 'utf8'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
