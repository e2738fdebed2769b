/**
 * Why a worker could not import the module of code shipped by reference, in words that name
 * the cause and the fix.
 */
import { explainImportFailure } from '../../../src/serialization/module-loader';

test('a TypeScript module without a loader names the loader and how to get one on nodes', () => {
  const err = Object.assign(new TypeError('Unknown file extension ".ts" for /app/main.ts'), { code: 'ERR_UNKNOWN_FILE_EXTENSION' });
  const text = explainImportFailure('/app/main.ts', err);
  expect(text).toContain('Unknown file extension');
  expect(text).toContain('no loader for .ts files');
  expect(text).toContain('node --import tsx');
  expect(text).toContain('raybus start --import tsx');
  // CommonJS without a loader fails with a syntax error on the first type annotation.
  expect(explainImportFailure('/app/main.cts', new SyntaxError("Unexpected token ':'"))).toContain('no loader for .cts files');
});

test('a module missing on this machine says so', () => {
  const err = Object.assign(new Error("Cannot find module '/app/gone.js' imported from /x"), { code: 'ERR_MODULE_NOT_FOUND' });
  expect(explainImportFailure('/app/gone.js', err)).toContain('not at that path on this machine');
});

test("the module's own error is reported with where it was thrown", () => {
  const err = new RangeError('config missing');
  err.stack = 'RangeError: config missing\n    at Object.<anonymous> (/app/main.js:3:9)\n    at Module._compile (node:internal/modules/cjs/loader:1)';
  expect(explainImportFailure('/app/main.js', err)).toBe('RangeError: config missing (at Object.<anonymous> (/app/main.js:3:9))');
});
