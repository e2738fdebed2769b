/**
 * Loads the modules a process needs at start from a module pack, with V8's code cache.
 *
 * Node compiles each module it requires from its source and resolves each `require` through
 * the file system; for a worker (a fresh process per actor) that is a large part of its start.
 * The build (scripts/module-pack.mjs) writes, beside the entry, a manifest of the
 * modules the entry loads (where each lies, the hash of the content it was built from, and
 * which module each of its requires led to) and a code cache of their compiled code. Opening
 * the pack reads the same files; loading a module compiles it with its cached code and serves
 * its recorded requires without resolving them again.
 *
 * What runs is always the file on disk: a module whose content is not the one the build saw
 * gets neither cached code nor its recorded requires (those go through Node's `require`), and
 * cached code counts only for the content it was made from (V8 itself checks only its length).
 * Each module becomes a real Module in `require.cache` under its real filename, so whatever
 * requires that file later, the usual way, gets the same instance.
 *
 * Paths in the manifest are relative: the package's own modules to the package, those of its
 * dependencies to their package, whose folder is found at run time by resolving the require
 * that reached it (dependencies lie where the install put them).
 *
 * Checking all that (reading every file, hashing it, resolving each package) costs a process
 * more than the rest of its loading, and touches megabytes of Node's own code that nothing
 * else in a worker needs. So once a process has found every file as built and every package
 * where the build had it, the code cache records what those files, the folders Node looks in
 * for each package, and the build's copy of the sources (`<manifest>.sources`, one file) were
 * like then: size, times, inode. A later process that finds them all so (a `stat` each) takes
 * the sources from that one file instead. Any change to a file's content changes its ctime,
 * and a package installed where Node would look first changes that folder's; either sends
 * the process back to checking everything.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vm from 'node:vm';
import Module from 'node:module';
import { fromStamps, inPackage, linkStamp, readCacheMark, readStamped, readStampedBytes, sameStamp, stampOf, writable, writeCacheMark, type LinkStamp, type PackStamps, type Stamp } from './pack-stamps';

/** The manifest's format. */
export const MANIFEST_VERSION = 1;
/** The first line of a code cache file. */
const CACHE_MAGIC = 'raybus module pack code cache 1\n';

/** One module of the manifest. */
export interface PackedModule {
  /** Its package: 0 the pack's own (`root`), n > 0 `packages[n - 1]`. */
  readonly b: number;
  /** Its path inside that package, with '/' separators. */
  readonly f: string;
  /** sha256 (hex) of its content at build time. */
  readonly h: string;
  /** The length of that content in UTF-8 bytes: its place in the sources file. */
  readonly n?: number;
  /** Its requires: specifier -> index of the module it led to. */
  readonly d: Readonly<Record<string, number>>;
  /** Compiled for a caller (`compile`), not loaded as a module of `require.cache`. */
  readonly p?: 1;
}

/** A file: its package (as `PackedModule.b`) and its path in it. */
type PackedFile = readonly [number, string];

/** A require of a package by name, resolved at run time: it finds where that package lies. */
export interface PackedLink {
  /** A module that requires it (every module of its package resolves it the same way). */
  readonly from: PackedFile;
  readonly spec: string;
  /** The file it led to at build time. */
  readonly to: PackedFile;
}

export interface PackManifest {
  readonly v: number;
  /** The pack's own package folder, relative to the manifest's folder. */
  readonly root: string;
  /** The names of the packages of `b` > 0 (for the reader). */
  readonly packages: readonly string[];
  readonly modules: readonly PackedModule[];
  /** In an order where each link's `from` lies in a package found already. */
  readonly links: readonly PackedLink[];
  /** sha256 (hex) over all the modules' contents (`sourcesHash`). */
  readonly hash: string;
  /** The file beside the manifest holding those contents one after the other, in this order. */
  readonly sources?: string;
}

/** The header of a code cache file. */
interface CacheHeader {
  /** The V8 that made it (another one rejects it anyway). */
  readonly v8: string;
  /** `sourcesHash` of the contents it was made from. */
  readonly hash: string;
  /** Per module of the manifest: sha256 of the content its code was made from, and its size. */
  readonly modules: readonly (readonly [string, number])[];
  /** sha256 of the data that follows the header. */
  readonly data: string;
  /** The pack's files when a process last found them all as built. */
  readonly stamps?: PackStamps;
  /**
   * Where each package (`PackedModule.b`) lay when its code was compiled. V8 keeps the file
   * name a function was compiled under in its cached code, and stack traces show that one:
   * the code of a package that lies elsewhere now (the build machine's paths, or a copied or
   * moved install) is not used, and the cache is made anew for where it lies.
   */
  readonly roots?: readonly string[];
}

/** The wrapper function of a CommonJS module. */
export type ModuleWrapper = (exports: unknown, require: NodeJS.Require, module: { exports: unknown }, filename: string, dirname: string) => void;

/** Compiles a file's source as a CommonJS wrapper; undefined when the pack has no code for it. */
export type WrapperCompiler = (filename: string, source: string) => ModuleWrapper | undefined;

export interface ModulePack {
  /** Loads `filename` (absolute) as a module required by `parent`; Node's `require` when the pack cannot. */
  load(filename: string, parent: NodeModule): unknown;
  /** For a caller that evaluates a file privately (outside `require.cache`): its cached code. */
  readonly compile: WrapperCompiler;
  /**
   * The file (and its content) that package `spec` required from the module `from` leads to,
   * when it is one the pack holds for a private caller and it still leads there as at build
   * time: that caller need not ask Node to resolve it, nor read it. Undefined once closed.
   */
  readonly privateModule: (from: string, spec: string) => { readonly filename: string; readonly source: string } | undefined;
  /**
   * Done loading: what the pack kept of the sources and the cache goes; later requires are
   * Node's. If some module had no cached code (another Node, other V8 flags, changed files),
   * or the files were checked against the build and their stamps are new, returns a function
   * that writes a new code cache (with those stamps, unless `stamps: false`): call it once the
   * process has started (making it compiles those modules again).
   */
  close(): ((options?: { readonly stamps?: boolean }) => void) | undefined;
  readonly stats: PackStats;
}

/** How the pack served this process (for tests and diagnostics). */
export interface PackStats {
  /** Modules loaded from the pack. */
  loaded: number;
  /** Of those, with cached code V8 accepted. */
  cached: number;
  /** Cached code V8 rejected. */
  rejected: number;
  /** Modules whose content differs from the build. */
  changed: number;
  /** Whether the code cache file was read and its data intact. */
  cacheRead: boolean;
  /** Whether the files were found as recorded (stamps), the sources taken from the one file. */
  stamped: boolean;
}

/** The stats of the pack this process opened last. */
let lastOpened: PackStats | undefined;

/** How the pack this process opened served it; undefined if it opened none (tests, diagnostics). */
export function packStats(): PackStats | undefined {
  return lastOpened;
}

interface ModuleInternals {
  new (id: string, parent?: NodeModule): NodeModule;
  _cache: Record<string, NodeModule | undefined>;
  _extensions: NodeJS.RequireExtensions;
  _nodeModulePaths(dir: string): string[];
  _resolveFilename(request: string, parent: unknown, isMain?: boolean, options?: { paths?: string[] }): string;
  _resolveLookupPaths(request: string, parent: unknown): string[] | null;
}
const M = Module as unknown as ModuleInternals;

/**
 * node:crypto, required where a hash is needed: a worker on the stamped path needs none. (As
 * util/node-crypto.ts does, which this file does not require: that module is one of the pack's,
 * and loaded by Node before the pack opens it cost each worker about 4 MB of RSS, measured.)
 */
const nodeCrypto = (): typeof import('node:crypto') => require('node:crypto') as typeof import('node:crypto');

/**
 * Node options under which the pack stays closed: preloaded CommonJS code and loaders may hook
 * how modules are resolved or compiled, a policy checks each module Node loads, source maps
 * are registered by Node's own loader, preserved symlinks change the cache's keys, and
 * conditions change where a package's exports lead.
 */
const UNPACKABLE_OPTION = /(?:^|\s)(?:-r|--require|--loader|--experimental-loader|--experimental-policy|--enable-source-maps|--preserve-symlinks|-C|--conditions)(?=[\s=]|$)/;

/** Whether this process may load modules from a pack (see UNPACKABLE_OPTION). */
function packableProcess(): boolean {
  if ((process as { sourceMapsEnabled?: boolean }).sourceMapsEnabled) return false;
  return !UNPACKABLE_OPTION.test(process.execArgv.join(' ')) && !UNPACKABLE_OPTION.test(process.env.NODE_OPTIONS ?? '');
}

/** One hash over the contents of all modules, each with its length (no two lists share it). */
export function sourcesHash(sources: readonly string[]): string {
  const h = nodeCrypto().createHash('sha256');
  for (const s of sources) h.update(`${s.length}\n`).update(s);
  return h.digest('hex');
}

/** sha256 (hex) of one module's content. */
export function contentHash(source: string): string {
  return nodeCrypto().createHash('sha256').update(source).digest('hex');
}

/** The parameters of a CommonJS module's function. */
const PARAMS = ['exports', 'require', 'module', '__filename', '__dirname'];

/** A compiled module function, with what vm says of its cached code. */
type CompiledModule = ModuleWrapper & { cachedDataRejected?: boolean; cachedData?: Buffer };

/**
 * A module's function, compiled as Node compiles it (its body is the file; a hashbang line,
 * which a function body cannot start with, becomes a comment of the same length).
 */
function compileModule(source: string, filename: string, code?: Buffer, produce = false): CompiledModule {
  const body = source.startsWith('#!') ? '//' + source.slice(2) : source;
  // No import() here: Node 20 gives code compiled by vm its default one only with a warning,
  // so modules that may import() are not packed (the build checks, scripts/module-pack.mjs).
  return vm.compileFunction(body, PARAMS, { filename, ...(code ? { cachedData: code } : {}), ...(produce ? { produceCachedData: true } : {}) }) as unknown as CompiledModule;
}

/** A module of the pack, as this process found it. */
interface Entry {
  readonly m: PackedModule;
  /** Its absolute path; undefined while (or if) its package is not found. */
  file?: string;
  /** Its content; undefined when unreadable, and after `close`. */
  source?: string;
  /** Content as at build time: its recorded requires hold. */
  same: boolean;
  /** Its cached code (a view into the cache file's data), if made from this content. */
  code?: Buffer;
  /** Compiled in this process (a cache rewrite covers those). */
  compiled?: boolean;
  /** The content hash its cached code was made for. */
  hash?: string;
  /** That code, kept after `close` for a rewrite to reuse. */
  kept?: Buffer;
}

/**
 * Opens the pack whose manifest is `manifestFile` and whose code cache is `cacheFile`.
 * Undefined when there is none, it is unreadable, or this process should not use one
 * (`packableProcess`): the caller then requires as usual.
 */
export function openModulePack(manifestFile: string, cacheFile: string): ModulePack | undefined {
  if (!packableProcess()) return undefined;
  try {
    // Opening changes nothing in the process: whatever fails, the caller requires as usual.
    return open(manifestFile, cacheFile);
  } catch {
    return undefined;
  }
}

function open(manifestFile: string, cacheFile: string): ModulePack | undefined {
  const manifestRead = readStamped(manifestFile);
  const manifest = JSON.parse(manifestRead.text) as PackManifest;
  if (manifest.v !== MANIFEST_VERSION || !Array.isArray(manifest.modules) || !Array.isArray(manifest.links)) return undefined;
  const sourcesFile = typeof manifest.sources === 'string' ? path.join(path.dirname(manifestFile), manifest.sources) : undefined;
  const roots: (string | undefined)[] = [path.resolve(path.dirname(manifestFile), manifest.root)];
  const entries: Entry[] = manifest.modules.map((m) => ({ m, same: false }));
  const fileOf = ([b, f]: PackedFile): string | undefined => {
    const root = roots[b];
    return root === undefined ? undefined : inPackage(root, f);
  };
  const cache = readCacheFile(cacheFile, entries.length);
  const links = new Set<string>();
  let whole: string | undefined;
  let hashes: (string | undefined)[] | undefined;
  // Stamps to record with the next cache: the ones this process checked everything against,
  // or the ones it found to be true without checking.
  let stamps: PackStamps | undefined;
  const recorded = cache?.header?.stamps;
  const stampedSources = recorded && sourcesFile ? fromStamps(recorded, manifest, manifestRead.stamp, roots[0]!, sourcesFile) : undefined;
  if (stampedSources) {
    recorded!.roots.forEach((r, b) => (roots[b] = r));
    for (const { from, spec } of manifest.links) links.add(`${from[0]}\0${spec}`);
    entries.forEach((e, i) => {
      e.file = fileOf([e.m.b, e.m.f]);
      e.source = stampedSources[i];
    });
    whole = manifest.hash;
    stamps = recorded;
  } else {
    // Requires of packages by name: each is resolved as Node would, from a file of the
    // requiring package; where it leads says where the required package lies.
    const linkStamps: LinkStamp[] = [];
    for (const { from, spec, to } of manifest.links) {
      const fromFile = fileOf(from);
      if (fromFile === undefined) continue;
      let found: string;
      const lookIn = M._nodeModulePaths(path.dirname(fromFile));
      try {
        found = M._resolveFilename(spec, { id: fromFile, filename: fromFile, paths: lookIn });
      } catch {
        continue;
      }
      if (roots[to[0]] === undefined) {
        const tail = path.join(path.sep, to[1]);
        if (found.endsWith(tail)) roots[to[0]] = found.slice(0, found.length - tail.length);
      }
      if (found !== fileOf(to)) continue;
      links.add(`${from[0]}\0${spec}`);
      const stamp = linkStamp(lookIn, spec, found, roots[to[0]]!);
      if (stamp) linkStamps.push(stamp);
    }
    const sources: string[] = [];
    const files: Stamp[] = [];
    for (const e of entries) {
      e.file = fileOf([e.m.b, e.m.f]);
      if (e.file === undefined) continue;
      try {
        const read = readStamped(e.file);
        e.source = read.text;
        sources.push(read.text);
        files.push(read.stamp);
      } catch {
        e.file = undefined;
      }
    }
    // All files as built (the usual case): one hash over all of them; otherwise one each.
    whole = sources.length === entries.length ? sourcesHash(sources) : undefined;
    hashes = whole === manifest.hash ? undefined : entries.map((e) => (e.source === undefined ? undefined : contentHash(e.source)));
    // Everything as built, every package where Node finds it, and the sources file a true
    // copy: what the next process may take on trust.
    if (!hashes && linkStamps.length === manifest.links.length && sourcesFile) {
      try {
        const copy = readStampedBytes(sourcesFile);
        if (copy.bytes.equals(Buffer.from(sources.join('')))) stamps = { manifest: manifestRead.stamp, sources: copy.stamp, roots: roots as string[], files, links: linkStamps };
      } catch {
        /* no sources file: every process reads the files */
      }
    }
  }
  entries.forEach((e, i) => (e.same = e.source !== undefined && (hashes === undefined || hashes[i] === e.m.h)));
  // The hash of each module's content as read (as built, where it is the same).
  const hashOf = (i: number): string | undefined => (hashes ? hashes[i] : entries[i]!.m.h);
  const stats: PackStats = {
    loaded: 0,
    cached: 0,
    rejected: 0,
    changed: entries.filter((e) => e.source !== undefined && !e.same).length,
    cacheRead: false,
    stamped: stampedSources !== undefined,
  };
  assignCode(cache, entries, roots, whole, hashOf, stats);
  const cacheStamp = cache?.stamp;
  lastOpened = stats;
  let loading = true;

  const lookupPaths = new Map<string, string[]>();
  /** The module of entry `i` required by `parent`; undefined when the pack cannot serve it. */
  const instantiate = (i: number, parent: NodeModule): NodeModule | undefined => {
    const e = entries[i];
    if (!e || e.file === undefined || e.m.p) return undefined;
    const cached = M._cache[e.file];
    if (cached) {
      if (!parent.children.includes(cached)) parent.children.push(cached);
      return cached;
    }
    if (!loading || e.source === undefined) return undefined;
    const filename = e.file;
    const dirname = path.dirname(filename);
    const mod = new M(filename, parent);
    mod.filename = filename;
    // Modules of a folder share their lookup paths (each gets its own array, as from Node).
    let paths = lookupPaths.get(dirname);
    if (!paths) lookupPaths.set(dirname, (paths = M._nodeModulePaths(dirname)));
    mod.paths = paths.slice();
    M._cache[filename] = mod;
    let done = false;
    try {
      const wrapper = compileEntry(e);
      stats.loaded++;
      wrapper.call(mod.exports, mod.exports, makeRequire(mod, e), mod, filename, dirname);
      done = true;
    } finally {
      // As Node does: a module that threw is not cached, so a later require tries again.
      if (!done) {
        delete M._cache[filename];
        const at = parent.children.indexOf(mod);
        if (at >= 0) parent.children.splice(at, 1);
      }
    }
    mod.loaded = true;
    return mod;
  };

  const compileEntry = (e: Entry): ModuleWrapper => {
    const fn = compileModule(e.source!, e.file!, e.code);
    if (e.code) {
      if (fn.cachedDataRejected) {
        stats.rejected++;
        e.code = undefined;
      } else stats.cached++;
    }
    e.compiled = true;
    return fn;
  };

  const makeRequire = (mod: NodeModule, e: Entry): NodeJS.Require => {
    const { b, d } = e.m;
    const same = e.same;
    const require = ((id: string) => {
      const to = same ? d[id] : undefined;
      // A package required by name comes from the pack only where it resolves as at build time.
      if (to !== undefined && (id.startsWith('.') || links.has(`${b}\0${id}`))) {
        const m = instantiate(to, mod);
        if (m) return m.exports;
      }
      return mod.require(id);
    }) as NodeJS.Require;
    const resolve = ((request: string, options?: { paths?: string[] }) => M._resolveFilename(request, mod, false, options)) as NodeJS.RequireResolve;
    resolve.paths = (request: string) => M._resolveLookupPaths(request, mod);
    require.resolve = resolve;
    require.main = process.mainModule;
    require.extensions = M._extensions;
    require.cache = M._cache as NodeJS.Require['cache'];
    return require;
  };

  const byFile = new Map<string, number>();
  entries.forEach((e, i) => e.file !== undefined && byFile.set(e.file, i));

  return {
    stats,
    load: (filename, parent) => {
      const i = byFile.get(filename);
      const m = i === undefined ? undefined : instantiate(i, parent);
      return m ? m.exports : parent.require(filename);
    },
    privateModule: (from, spec) => {
      if (!loading) return undefined;
      for (const l of manifest.links) {
        if (l.spec !== spec || !links.has(`${l.from[0]}\0${spec}`) || fileOf(l.from) !== from) continue;
        const to = fileOf(l.to);
        const e = to === undefined ? undefined : entries[byFile.get(to) ?? -1];
        return e?.m.p && e.same && e.source !== undefined ? { filename: to!, source: e.source } : undefined;
      }
      return undefined;
    },
    compile: (filename, source) => {
      const e = entries[byFile.get(filename) ?? -1];
      if (!loading || !e || !e.m.p || e.source !== source) return undefined;
      stats.loaded++;
      return compileEntry(e);
    },
    close: () => {
      loading = false;
      // Some module compiled without cached code (V8 rejected it, or had none for its
      // content), or the files were checked and their stamps are new.
      const stale = entries.some((e) => e.compiled && !e.code) || (stamps !== undefined && stamps !== recorded && writable(cacheFile));
      for (const e of entries) {
        if (stale && e.code) e.kept = e.code;
        e.source = e.code = undefined;
      }
      return stale ? (options) => writeCodeCache(cacheFile, entries, roots, cacheStamp, options?.stamps === false ? undefined : stamps) : undefined;
    },
  };
}

/** The code cache file as read: its modification time, and its header and data when intact. */
interface CacheFile {
  readonly stamp: number;
  readonly header?: CacheHeader;
  readonly body?: Buffer;
}

/**
 * Reads the code cache file of a pack of `modules` modules; undefined when there is none. Its
 * modification time comes with it (a rewrite skips when another process replaced it since).
 */
function readCacheFile(cacheFile: string, modules: number): CacheFile | undefined {
  let data: Buffer;
  let stamp: number;
  let fileStamp: Stamp;
  try {
    const fd = fs.openSync(cacheFile, 'r');
    try {
      const st = fs.fstatSync(fd);
      stamp = st.mtimeMs;
      fileStamp = stampOf(st);
      data = fs.readFileSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return undefined;
  }
  try {
    if (data.toString('latin1', 0, CACHE_MAGIC.length) !== CACHE_MAGIC) return { stamp };
    const end = data.indexOf(10, CACHE_MAGIC.length);
    if (end < 0) return { stamp };
    const header = JSON.parse(data.toString('utf8', CACHE_MAGIC.length, end)) as CacheHeader;
    // Made by another V8: it would reject every module (and it made no stamps of this install).
    if (header.v8 !== process.versions.v8 || !Array.isArray(header.modules) || header.modules.length !== modules) return { stamp };
    const body = data.subarray(end + 1);
    // A damaged file must not reach V8, which checks the data only for its source's length:
    // it is hashed, unless it is the very file its writer marked (same inode, size and
    // times), which spares a worker loading node:crypto at all (see writeCacheMark).
    if (!sameStamp(readCacheMark(cacheFile), fileStamp) && nodeCrypto().createHash('sha256').update(body).digest('hex') !== header.data) return { stamp };
    return { stamp, header, body };
  } catch {
    /* unreadable: compiled without */
    return { stamp };
  }
}

/** Gives the entries the cached code made from their content, where they lie (`roots`). */
function assignCode(cache: CacheFile | undefined, entries: Entry[], roots: readonly (string | undefined)[], whole: string | undefined, hashOf: (i: number) => string | undefined, stats: PackStats): void {
  const { header, body } = cache ?? {};
  if (!header || !body) return;
  stats.cacheRead = true;
  const all = whole !== undefined && header.hash === whole;
  let at = 0;
  header.modules.forEach(([hash, size], i) => {
    const e = entries[i]!;
    // Made where its package lies now (V8 would name the old place in stack traces).
    const here = header.roots !== undefined && header.roots[e.m.b] === roots[e.m.b];
    if (size > 0 && here && e.source !== undefined && (all || hash === hashOf(i))) {
      e.code = body.subarray(at, at + size);
      e.hash = hashOf(i);
    }
    at += size;
  });
}

/**
 * Writes a code cache of the modules this process compiled, made from their files as they are
 * now: to a file of its own, then renamed over the old one, so that no reader sees half of it.
 * Failures are ignored (a read-only install keeps compiling without).
 */
function writeCodeCache(cacheFile: string, entries: Entry[], roots: readonly (string | undefined)[], readStamp: number | undefined, stamps: PackStamps | undefined): void {
  const tmp = `${cacheFile}.${process.pid}.tmp`;
  try {
    // Another process rewrote it meanwhile: this one's would be no better.
    let stamp: number | undefined;
    try {
      stamp = fs.statSync(cacheFile).mtimeMs;
    } catch {
      /* none yet */
    }
    if (stamp !== readStamp) return;
    const parts: Buffer[] = [];
    const modules: [string, number][] = [];
    const sources: string[] = [];
    for (const e of entries) {
      let source: string | undefined;
      try {
        source = e.file === undefined ? undefined : fs.readFileSync(e.file, 'utf8');
      } catch {
        /* gone since */
      }
      const hash = source === undefined ? undefined : contentHash(source);
      // Cached code V8 took for this very content serves again; the rest is compiled anew.
      const code = source !== undefined && e.compiled ? (e.kept && e.hash === hash ? e.kept : compileModule(source, e.file!, undefined, true).cachedData) : undefined;
      if (source !== undefined) sources.push(source);
      parts.push(code ?? Buffer.alloc(0));
      modules.push([code ? hash! : '', code?.length ?? 0]);
    }
    const body = Buffer.concat(parts);
    const header: CacheHeader = {
      v8: process.versions.v8,
      hash: sources.length === entries.length ? sourcesHash(sources) : '',
      modules,
      data: nodeCrypto().createHash('sha256').update(body).digest('hex'),
      roots: roots.map((r) => r ?? ''),
      // Only for the content they were taken with: a file changed since sends the next process
      // back to checking (its stamp differs).
      ...(stamps ? { stamps } : {}),
    };
    fs.writeFileSync(tmp, Buffer.concat([Buffer.from(CACHE_MAGIC + JSON.stringify(header) + '\n'), body]));
    const ino = stamps ? fs.statSync(tmp).ino : undefined;
    fs.renameSync(tmp, cacheFile);
    writeCacheMark(cacheFile, ino);
  } catch {
    try {
      fs.unlinkSync(tmp);
    } catch {
      /* never written */
    }
  }
}
