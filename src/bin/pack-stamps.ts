/**
 * Stamps of a module pack's files (module-pack.ts): what a file or folder was when a process
 * checked it, so that the next process can tell, with a `stat` each, that nothing changed
 * since. A process that found every file as built and every dependency where Node resolves it
 * records them in the code cache; the next one that finds all of them so takes the sources
 * from the pack's one sources file instead of reading, hashing and resolving again. Writing a
 * file changes its ctime (which no one can set back); installing a package where Node looks
 * first changes that folder's. The code cache's writer likewise leaves the cache file's own
 * stamp beside it (its mark), so that a reader finding that very file need not hash it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import Module from 'node:module';

/** Size, modification and change times (ms), inode and device of a file or folder. */
export type Stamp = readonly [number, number, number, number, number];

/**
 * A dependency as Node found it: the node_modules folders Node looks in for it, nearest first,
 * up to the one it was found in (null: there was none), and that package's package.json.
 */
export interface LinkStamp {
  readonly dirs: readonly (Stamp | null)[];
  readonly pkg: Stamp;
}

/** The pack's files as a process found them all as built. */
export interface PackStamps {
  readonly manifest: Stamp;
  readonly sources: Stamp;
  /** Where each package (`PackedModule.b`) was. */
  readonly roots: readonly string[];
  /** Per module. */
  readonly files: readonly Stamp[];
  /** Per link of the manifest. */
  readonly links: readonly LinkStamp[];
}

/** What `fromStamps` reads of a manifest (module-pack.ts's PackManifest). */
interface StampedManifest {
  readonly packages: readonly string[];
  readonly modules: readonly { readonly b: number; readonly f: string; readonly n?: number }[];
  readonly links: readonly { readonly from: readonly [number, string]; readonly to: readonly [number, string] }[];
}

const nodeModulePaths = (Module as unknown as { _nodeModulePaths(dir: string): string[] })._nodeModulePaths;

/**
 * `path.join(root, file)` for a normalized absolute `root` and a manifest path (normalized, '/'
 * separators), without path.join's normalizing: called for every module at start, that would
 * make V8 optimize path's string loop, which costs a worker CPU and megabytes of V8's
 * optimizing compiler that its own work may never need.
 */
export function inPackage(root: string, file: string): string {
  return path.sep === '/' ? (root.endsWith('/') ? root + file : `${root}/${file}`) : path.join(root, file);
}

/** Whether this process may replace `file` (a read-only install keeps checking the files). */
export function writable(file: string): boolean {
  try {
    fs.accessSync(path.dirname(file), fs.constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/** A file's bytes and its stamp, from one open. */
export function readStampedBytes(file: string): { bytes: Buffer; stamp: Stamp } {
  const fd = fs.openSync(file, 'r');
  try {
    const stamp = stampOf(fs.fstatSync(fd));
    return { bytes: fs.readFileSync(fd), stamp };
  } finally {
    fs.closeSync(fd);
  }
}

/** A file's text and its stamp, from one open. */
export function readStamped(file: string): { text: string; stamp: Stamp } {
  const { bytes, stamp } = readStampedBytes(file);
  return { text: bytes.toString('utf8'), stamp };
}

/** The stamp of a file as `fs.stat` describes it. */
export function stampOf(st: fs.Stats): Stamp {
  return [st.size, st.mtimeMs, st.ctimeMs, st.ino, st.dev];
}

/** The stamp of a file or folder; null when there is none. */
function statOf(file: string): Stamp | null {
  const st = fs.statSync(file, { throwIfNoEntry: false });
  return st ? stampOf(st) : null;
}

/** Whether two stamps are of the same file as it was (two nulls: both absent). */
export function sameStamp(a: Stamp | null | undefined, b: Stamp | null | undefined): boolean {
  if (!a || !b) return a === null && b === null;
  return a[0] === b[0] && a[1] === b[1] && a[2] === b[2] && a[3] === b[3] && a[4] === b[4];
}

/**
 * The stamp of a dependency that `require(spec)` from a file whose lookup folders are `lookIn`
 * found at `found`, in the package folder `root`; undefined when its folder is not one of them.
 * The folder Node took it from is the first that has it (a link to it, under pnpm): changing
 * that folder's entries, or making a nearer one, changes a recorded stamp.
 */
export function linkStamp(lookIn: readonly string[], spec: string, found: string, root: string): LinkStamp | undefined {
  const name = spec
    .split('/')
    .slice(0, spec.startsWith('@') ? 2 : 1)
    .join('/');
  const at = Math.max(
    lookIn.findIndex((dir) => statOf(inPackage(dir, name)) !== null),
    lookIn.findIndex((dir) => found.startsWith(dir + path.sep)),
  );
  const pkg = statOf(inPackage(root, 'package.json'));
  return at >= 0 && pkg ? { dirs: lookIn.slice(0, at + 1).map(statOf), pkg } : undefined;
}

/**
 * The modules' sources from the pack's sources file, when everything is as `stamps` recorded
 * (the manifest, the package's place, every module file, every folder Node looks in for each
 * package); undefined otherwise.
 */
export function fromStamps(stamps: PackStamps, manifest: StampedManifest, manifestStamp: Stamp, root: string, sourcesFile: string): string[] | undefined {
  const { modules, links } = manifest;
  if (!sameStamp(manifestStamp, stamps.manifest) || stamps.roots[0] !== root) return undefined;
  if (stamps.roots.length !== manifest.packages.length + 1 || stamps.files.length !== modules.length || stamps.links.length !== links.length) return undefined;
  for (let i = 0; i < modules.length; i++) {
    const m = modules[i]!;
    if (m.n === undefined || !sameStamp(statOf(inPackage(stamps.roots[m.b]!, m.f)), stamps.files[i])) return undefined;
  }
  for (let i = 0; i < links.length; i++) {
    const { from, to } = links[i]!;
    const { dirs, pkg } = stamps.links[i]!;
    const lookIn = nodeModulePaths(path.dirname(inPackage(stamps.roots[from[0]]!, from[1])));
    if (dirs.length > lookIn.length || !dirs.every((d, k) => sameStamp(statOf(lookIn[k]!), d))) return undefined;
    if (!sameStamp(statOf(inPackage(stamps.roots[to[0]]!, 'package.json')), pkg)) return undefined;
  }
  const copy = readStampedBytes(sourcesFile);
  if (!sameStamp(copy.stamp, stamps.sources)) return undefined;
  // Each module decoded apart: one with a non-ASCII character would make one string of all
  // of them two bytes a character, and every slice would keep all of it alive.
  const sources: string[] = [];
  let at = 0;
  for (const m of modules) {
    sources.push(copy.bytes.toString('utf8', at, at + m.n!));
    at += m.n!;
  }
  return at === copy.bytes.length ? sources : undefined;
}

/** The file beside the code cache in which its writer marks it (see writeCacheMark). */
function cacheMarkFile(cacheFile: string): string {
  return `${cacheFile}.mark`;
}

/** The stamp the code cache's writer left; undefined when there is none (or it is unreadable). */
export function readCacheMark(cacheFile: string): Stamp | undefined {
  try {
    const mark = JSON.parse(fs.readFileSync(cacheMarkFile(cacheFile), 'latin1')) as unknown;
    return Array.isArray(mark) && mark.length === 5 && mark.every((n) => typeof n === 'number') ? (mark as unknown as Stamp) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Marks the code cache file `ino` that this process just wrote (and renamed into place) as
 * intact: its stamp goes into a file beside it, so that a reader finding the very same file
 * (any rewrite or replacement changes its inode, size or times) need not hash its data. Only
 * with stamps, which likewise let a reader trust the sources by their stamps; without them
 * (the build's cache, made on another machine), any old mark goes.
 */
export function writeCacheMark(cacheFile: string, ino: number | undefined): void {
  const markFile = cacheMarkFile(cacheFile);
  const tmp = `${markFile}.${process.pid}.tmp`;
  try {
    const st = ino === undefined ? undefined : fs.statSync(cacheFile);
    // Another process renamed its own cache over this one meanwhile: this one marks nothing.
    if (!st || st.ino !== ino) {
      fs.rmSync(markFile, { force: true });
      return;
    }
    fs.writeFileSync(tmp, JSON.stringify(stampOf(st)));
    fs.renameSync(tmp, markFile);
  } catch {
    fs.rmSync(tmp, { force: true });
  }
}
