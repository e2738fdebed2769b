/**
 * The cluster key (docs/ARCHITECTURE.md, "Code shipping"): code shipped by value is HMAC-signed with it, and a node's
 * workers (RAYBUS_REQUIRE_SIGNED_CODE=1) run it only when the signature verifies.
 */
import { randomBytes } from 'node:crypto';
import { describeCode, loadCode, setClusterKey, signCode, REQUIRE_SIGNED_CODE_VAR, type CodeDescriptor } from '../../../src/serialization/code-shipping';

const scope = { ray: undefined, require };

function freshDescriptor(source = '(x) => x + 1'): CodeDescriptor {
  return { id: `unit-${randomBytes(8).toString('hex')}`, name: 'inc', kind: 'function', source };
}

afterEach(() => {
  delete process.env[REQUIRE_SIGNED_CODE_VAR];
  setClusterKey(undefined);
});

describe('signing', () => {
  test('by-value code is signed with the key, and signed again when the key changes', () => {
    setClusterKey('key-1');
    const desc = describeCode(((a: number) => a * 2) as never, 'function', '/virtual/module.js');
    expect(desc.source).toBeDefined();
    expect(desc.sig).toBe(signCode(desc, 'key-1'));
    setClusterKey('key-2');
    expect(desc.sig).toBe(signCode(desc, 'key-2'));
    setClusterKey(undefined);
    expect(desc.sig).toBeUndefined();
  });

  test('by-reference code carries no signature (it needs no key)', () => {
    setClusterKey('key-1');
    const outside = 41;
    const desc = describeCode((() => outside + 1) as never, 'function', '/virtual/module.js');
    expect(desc.source).toBeUndefined();
    expect(desc.sig).toBeUndefined();
  });

  test('the signature covers the source: any change breaks it', () => {
    const desc = freshDescriptor();
    expect(signCode(desc, 'k')).not.toBe(signCode({ ...desc, source: '(x) => x + 2' }, 'k'));
    expect(signCode(desc, 'k')).not.toBe(signCode(desc, 'k2'));
  });
});

describe('verification on a node', () => {
  beforeEach(() => {
    process.env[REQUIRE_SIGNED_CODE_VAR] = '1';
    setClusterKey('node-key');
  });

  test('runs code signed with the node key', async () => {
    const desc = freshDescriptor();
    const fn = (await loadCode({ ...desc, sig: signCode(desc, 'node-key') }, scope)) as unknown as (x: number) => number;
    expect(fn(1)).toBe(2);
  });

  test('refuses unsigned code, a wrong key, and tampered source, with a clear error', async () => {
    const desc = freshDescriptor();
    await expect(loadCode(desc, scope)).rejects.toThrow(/refused to run function 'inc' shipped by value: the code is not signed/);
    await expect(loadCode({ ...desc, sig: signCode(desc, 'other-key') }, scope)).rejects.toThrow(/cluster key mismatch/);
    const tampered = { ...desc, source: '(x) => process.exit(1)', sig: signCode(desc, 'node-key') };
    await expect(loadCode(tampered, scope)).rejects.toThrow(/cluster key mismatch/);
    await expect(loadCode({ ...desc, sig: 'not-hex' }, scope)).rejects.toThrow(/cluster key mismatch/);
  });

  test('a node without a key refuses by-value code', async () => {
    setClusterKey(undefined);
    const desc = freshDescriptor();
    await expect(loadCode({ ...desc, sig: signCode(desc, 'node-key') }, scope)).rejects.toThrow(/this node has no cluster key/);
  });
});

test('without RAYBUS_REQUIRE_SIGNED_CODE (embedded default, memory:// clusters) no key is needed', async () => {
  const fn = (await loadCode(freshDescriptor(), scope)) as unknown as (x: number) => number;
  expect(fn(2)).toBe(3);
});
