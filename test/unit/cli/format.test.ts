/** How the CLI prints resources and tables. */
import { fmt, table } from '../../../src/cli/format';

test('resources as k=v with two decimals; nested objects in braces, never [object Object]', () => {
  expect(fmt({ CPU: 1, GPU: 0.5 })).toBe('CPU=1, GPU=0.50');
  expect(fmt({ bundleIndex: 0, unitResources: { CPU: 1, memory: 2.25 } })).toBe('bundleIndex=0, unitResources={CPU=1, memory=2.25}');
});

test('a placement group row: bundles joined by |', () => {
  const out = table([{ name: 'pg', bundles: [{ bundleIndex: 0, unitResources: { CPU: 1 } }, { bundleIndex: 1, unitResources: { CPU: 2 } }] }]);
  expect(out).toContain('bundleIndex=0, unitResources={CPU=1} | bundleIndex=1, unitResources={CPU=2}');
  expect(out).not.toContain('[object Object]');
});
