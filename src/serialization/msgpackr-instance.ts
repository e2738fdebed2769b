/**
 * raybus's own copy of msgpackr. msgpackr keeps its extension registry in module-level
 * state (`addExtension`), shared by every user of the module in the process: registering
 * raybus's ref and handle extensions there would change how anyone else's msgpackr encodes
 * and decodes, and let them change raybus's. So raybus evaluates a private instance of the
 * module (same file, separate module record) and registers its extensions on that alone.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';

type Msgpackr = typeof import('msgpackr');

/** msgpackr's CommonJS wrapper. */
type Wrapper = (exports: unknown, require: NodeRequire, module: { exports: unknown }, filename: string, dirname: string) => void;

let instance: Msgpackr | undefined;

/** How this process makes its private instance (before it makes it). */
export interface PrivateMsgpackrOptions {
  /**
   * Compiles the wrapper from cached code where it has some for that source (undefined: it
   * has not, `new Function` then). A worker's module pack does (bin/worker-pack.ts).
   */
  readonly compile?: (filename: string, source: string) => Wrapper | undefined;
  /**
   * Whether msgpackr may load its native string decoder (msgpackr-extract). Loading it costs
   * a process several milliseconds and megabytes at start; it pays off for messages of many
   * short strings. Default true.
   */
  readonly native?: boolean;
  /**
   * Where msgpackr lies and what it holds, where the caller knows (a worker's module pack
   * checked that `require('msgpackr')` from here still leads there); undefined: Node resolves
   * and reads it, which costs a worker's start about a millisecond.
   */
  readonly locate?: () => { readonly filename: string; readonly source: string } | undefined;
}
let options: PrivateMsgpackrOptions = {};

/** Sets how the private instance is made; call before its first use. */
export function configurePrivateMsgpackr(o: PrivateMsgpackrOptions): void {
  options = o;
}

/** The private msgpackr module of this copy of raybus (made on first use). */
export function privateMsgpackr(): Msgpackr {
  if (instance) return instance;
  const located = options.locate?.();
  const filename = located?.filename ?? require.resolve('msgpackr');
  const mod = { exports: {} as Msgpackr };
  const source = located?.source ?? readFileSync(filename, 'utf8');
  // The CommonJS wrapper, evaluated in this realm (a test runner's sandbox keeps its own Map
  // and Date, which msgpackr must recognise by identity; a worker has no other realm).
  const wrapper = options.compile?.(filename, source) ?? (new Function('exports', 'require', 'module', '__filename', '__dirname', source) as Wrapper);
  const base = createRequire(filename);
  // msgpackr tries the native decoder in a try, and decodes in JavaScript without one.
  const requireFor = options.native === false ? Object.assign((id: string): unknown => (id === 'msgpackr-extract' ? undefined : base(id)), base) : base;
  wrapper(mod.exports, requireFor as NodeRequire, mod, filename, path.dirname(filename));
  instance = mod.exports;
  return instance;
}

/** From this size, a packed result leaves msgpackr's buffer to its caller (see below). */
const LARGE_PACK_BYTES = 1 << 20;

/**
 * Call after each pack with its result. msgpackr packs into one buffer shared by all its
 * Packrs and appends each result after the last; when it runs out of room it copies the rest
 * of that buffer, however large, into a new one. After a large value (100 MB), every pack
 * would drag the old buffer along: hand the large one to the caller and give msgpackr a
 * fresh small one instead.
 */
export function afterPack(packr: { useBuffer(buffer: Uint8Array): void }, packed: Uint8Array): Uint8Array {
  if (packed.byteLength >= LARGE_PACK_BYTES) packr.useBuffer(Buffer.allocUnsafeSlow(64 * 1024));
  return packed;
}
