// The build's helper process for a module pack (module-pack.mjs), run fresh each time so that
// it loads exactly what a process loads at start:
//   record: load the entry the usual way and write which modules it loaded and where each of
//           their requires (and require.resolve calls) led;
//   cache:  load the entry from the pack (src/bin/module-pack.ts) and write its code cache.
// Argument: a JSON object { mode, entry, out, loader?, manifest?, cache?, setup?: { module, name } },
// setup naming a function the entry's process calls with the pack's compiler (and, from the
// pack, its privateModule) before loading.
'use strict';
const fs = require('node:fs');
const Module = require('node:module');

const job = JSON.parse(process.argv[2]);
const setup = (compile, privateModule) => {
  if (job.setup) require(job.setup.module)[job.setup.name](compile, privateModule);
};

if (job.mode === 'record') {
  const requests = [];
  const privates = [];
  const baseRequire = Module.prototype.require;
  const baseResolve = Module._resolveFilename;
  // Both: Node skips resolving a relative require it resolved before from the same folder.
  Module.prototype.require = function (id) {
    if (this.filename) requests.push([this.filename, id]);
    return baseRequire.call(this, id);
  };
  Module._resolveFilename = function (request, parent, ...rest) {
    if (parent && parent.filename) requests.push([parent.filename, request]);
    return baseResolve.call(this, request, parent, ...rest);
  };
  setup((filename) => {
    privates.push(filename);
    return undefined;
  });
  require(job.entry);
  Module.prototype.require = baseRequire;
  Module._resolveFilename = baseResolve;
  const files = Object.keys(Module._cache).filter((f) => f !== __filename && /\.c?js$/.test(f));
  const seen = new Set();
  const edges = [];
  for (const [from, id] of requests) {
    const key = `${from}\0${id}`;
    const parent = Module._cache[from];
    if (seen.has(key) || !parent) continue;
    seen.add(key);
    try {
      edges.push([from, id, Module._resolveFilename(id, parent)]);
    } catch {
      /* required in a try, and missing: nothing to record */
    }
  }
  fs.writeFileSync(job.out, JSON.stringify({ files, privates, edges }));
} else if (job.mode === 'cache') {
  const { openModulePack } = require(job.loader);
  const pack = openModulePack(job.manifest, job.cache);
  if (!pack) throw new Error(`the module pack ${job.manifest} did not open`);
  setup(pack.compile, pack.privateModule);
  pack.load(job.entry, module);
  const write = pack.close();
  // Stamps are of this machine's files: the package's users record their own.
  if (write) write({ stamps: false });
  fs.writeFileSync(job.out, JSON.stringify(pack.stats));
} else {
  throw new Error(`unknown mode ${job.mode}`);
}
