/**
 * Who may ship code to a worker (docs/ARCHITECTURE.md, "Security"): on a node that
 * authenticates its bus (RAYBUS_REQUIRE_SIGNED_CODE=1) a worker loads code — by value or by
 * reference — only from a message the node opened with the cluster key; the seal covers the
 * whole message, so code cannot be detached from the task it came with.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describeCode, loadCode, REQUIRE_SIGNED_CODE_VAR, type CodeDescriptor } from '../../../src/serialization/code-shipping';

const scope = { ray: undefined, require };
const AUTHENTICATED = { authenticated: true };
const UNAUTHENTICATED = { authenticated: false };

function freshDescriptor(source = '(x) => x + 1'): CodeDescriptor {
  return { id: `unit-${randomBytes(8).toString('hex')}`, name: 'inc', kind: 'function', source };
}

let dir: string;
beforeAll(() => (dir = mkdtempSync(path.join(os.tmpdir(), 'raybus-code-origin-'))));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => {
  delete process.env[REQUIRE_SIGNED_CODE_VAR];
});

describe('on a node that authenticates its bus', () => {
  beforeEach(() => {
    process.env[REQUIRE_SIGNED_CODE_VAR] = '1';
  });

  test('runs by-value code that came in an authenticated message', async () => {
    const fn = (await loadCode(freshDescriptor(), scope, AUTHENTICATED)) as unknown as (x: number) => number;
    expect(fn(1)).toBe(2);
  });

  test('refuses by-value code from an unauthenticated message, with a clear error', async () => {
    await expect(loadCode(freshDescriptor(), scope, UNAUTHENTICATED)).rejects.toThrow(
      /refused to load function 'inc': it did not come in a message authenticated with the cluster key/,
    );
    // The default is the safe one.
    await expect(loadCode(freshDescriptor(), scope)).rejects.toThrow(/authenticated with the cluster key/);
  });

  test('never imports a module named by an unauthenticated message (by reference)', async () => {
    const marker = path.join(dir, `marker-${randomBytes(4).toString('hex')}`);
    const mod = path.join(dir, `evil-${randomBytes(4).toString('hex')}.js`);
    writeFileSync(mod, `require('node:fs').writeFileSync(${JSON.stringify(marker)}, 'ran');`);
    const desc: CodeDescriptor = { id: `unit-${randomBytes(8).toString('hex')}`, name: 'evil', kind: 'function', module: mod };
    await expect(loadCode(desc, scope, UNAUTHENTICATED)).rejects.toThrow(/refused to load function 'evil'/);
    expect(existsSync(marker)).toBe(false);
  });

  test('refuses even code this worker registered already, unless the message is authenticated', async () => {
    const desc = describeCode(((a: number) => a * 3) as never, 'function', '/virtual/module.js');
    await expect(loadCode(desc, scope, UNAUTHENTICATED)).rejects.toThrow(/authenticated with the cluster key/);
    const fn = (await loadCode(desc, scope, AUTHENTICATED)) as unknown as (x: number) => number;
    expect(fn(2)).toBe(6);
  });
});

test('a descriptor carries no signature or key material: the message seal replaced it', () => {
  const desc = describeCode(((a: number) => a * 2) as never, 'function', '/virtual/module.js');
  expect(Object.keys(desc).sort()).toEqual(['id', 'kind', 'module', 'name', 'source']);
});

test('without RAYBUS_REQUIRE_SIGNED_CODE (embedded default, memory:// clusters, no key) everything loads', async () => {
  const fn = (await loadCode(freshDescriptor(), scope, UNAUTHENTICATED)) as unknown as (x: number) => number;
  expect(fn(2)).toBe(3);
});
