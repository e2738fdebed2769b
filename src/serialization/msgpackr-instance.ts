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

let instance: Msgpackr | undefined;

/** The private msgpackr module of this copy of raybus (made on first use). */
export function privateMsgpackr(): Msgpackr {
  if (instance) return instance;
  const filename = require.resolve('msgpackr');
  const mod = { exports: {} as Msgpackr };
  // The CommonJS wrapper, evaluated in this realm (a test runner's sandbox keeps its own Map
  // and Date, which msgpackr must recognise by identity).
  const wrapper = new Function('exports', 'require', 'module', '__filename', '__dirname', readFileSync(filename, 'utf8')) as (
    exports: unknown,
    require: NodeRequire,
    module: { exports: unknown },
    filename: string,
    dirname: string,
  ) => void;
  wrapper(mod.exports, createRequire(filename), mod, filename, path.dirname(filename));
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
