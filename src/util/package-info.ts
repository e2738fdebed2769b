/**
 * Where this copy of raybus is installed, and its version: found by walking up from this file
 * to the `package.json` named `raybus` (the same from src/ under a test runner and from
 * dist/cjs/src/ in the published package).
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';

let root: { dir: string; version: string } | undefined;

function find(): { dir: string; version: string } {
  if (root) return root;
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    try {
      const pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'raybus') return (root = { dir, version: pkg.version ?? '0.0.0' });
    } catch {
      /* no package.json here */
    }
    if (path.dirname(dir) === dir) return (root = { dir: path.resolve(__dirname, '..', '..'), version: '0.0.0' });
  }
}

/** The directory of raybus's package.json. */
export function packageRoot(): string {
  return find().dir;
}

/** raybus's version, as its package.json says. */
export function packageVersion(): string {
  return find().version;
}
