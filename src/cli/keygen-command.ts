/**
 * `raybus keygen [--out FILE]`: make a cluster key — 32 random bytes as 64 hex characters on
 * one line — and write it to FILE (readable by its owner only; an existing file is never
 * overwritten), or print it. Every driver and node of a cluster uses the same key.
 */
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { UsageError } from './args';

/** A new cluster key: 64 hex characters. */
export function newClusterKey(): string {
  return randomBytes(32).toString('hex');
}

/** The options of `raybus keygen`. */
export function parseKeygenArgs(argv: readonly string[]): { out?: string } {
  let out: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--out' || arg.startsWith('--out=')) {
      if (out !== undefined) throw new UsageError(`option '--out' was given more than once`);
      out = arg === '--out' ? argv[++i] : arg.slice('--out='.length);
      if (!out || out.startsWith('--')) throw new UsageError(`option '--out' needs a file name`);
      continue;
    }
    throw new UsageError(arg.startsWith('--') ? `unknown option '${arg.split('=')[0]}' (options: --out)` : `unexpected argument '${arg}'`);
  }
  return out === undefined ? {} : { out };
}

export function runKeygen(argv: readonly string[], cwd = process.cwd()): number {
  const { out } = parseKeygenArgs(argv);
  const key = newClusterKey();
  if (out === undefined) {
    process.stdout.write(`${key}\n`);
    return 0;
  }
  const file = path.resolve(cwd, out);
  try {
    // 'wx': a key in use is never overwritten by accident.
    writeFileSync(file, `${key}\n`, { mode: 0o600, flag: 'wx' });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new Error(code === 'EEXIST' ? `${out} exists already; not overwriting a cluster key (remove it first)` : `cannot write ${out}: ${code ?? (err as Error).message}`);
  }
  process.stderr.write(
    `raybus keygen: wrote a new cluster key to ${file} (readable by you only). Give every node ` +
      `(raybus start --cluster-key-file ${out}) and driver (init({ clusterKey }) or RAYBUS_CLUSTER_KEY) the same key, over a secure channel.\n`,
  );
  return 0;
}
