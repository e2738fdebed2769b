/**
 * How code reaches workers (docs/ARCHITECTURE.md, "Code shipping") on the embedded default: self-contained code by value,
 * code that uses its module's imports by reference (the worker imports the defining module),
 * and a clear error — never a hang — when a worker cannot find the code.
 */
import * as path from 'node:path';
import type * as Ray from '../../src/index';

// The built package (jest maps 'raybus' to dist/); see remote-functions.test.ts for why
// `require` is used.
const ray: typeof Ray = require('raybus');

interface Fixture {
  usesHelper: Ray.RemoteFunction<(x: string) => { out: string; pid: number }>;
  Greeter: { remote(): { greet: Ray.ActorMethod<(name: string) => string> } };
  makeNested(): Ray.RemoteFunction<(x: string) => string>;
}
const FIXTURE = path.join(__dirname, '..', 'fixtures', 'by-reference.js');
const fixture = require('../fixtures/by-reference') as Fixture;

const T = { timeoutMs: 20000 };

beforeAll(async () => {
  await ray.init({ numCpus: 4 });
});

afterAll(async () => {
  await ray.shutdown();
});

test('a top-level function that uses a module helper is shipped by reference and runs in a worker', async () => {
  const result = await ray.get(fixture.usesHelper.remote('a'), T);
  expect(result.out).toBe('helped:a!');
  expect(result.pid).not.toBe(process.pid);
  const many = await ray.get(['b', 'c', 'd'].map((x) => fixture.usesHelper.remote(x)), T);
  expect(many.map((r) => r.out)).toEqual(['helped:b!', 'helped:c!', 'helped:d!']);
});

test('a top-level actor class that uses a module helper is shipped by reference', async () => {
  const g = fixture.Greeter.remote();
  expect(await ray.get(g.greet.remote('world') as unknown as Ray.ObjectRef<string>, T)).toBe('helped:world!');
});

test("a worker importing a user's module loads no driver part of raybus (runtimes, parser) until it submits", async () => {
  const g = fixture.Greeter.remote() as unknown as { loaded: { remote(): Ray.ObjectRef<string[]> }; viaTask: { remote(x: string): Ray.ObjectRef<string> } };
  // The runtimes load with init(), which a worker never calls; the parser describes code to send.
  expect(await ray.get(g.loaded.remote(), T)).toEqual([]);
  expect(await ray.get(g.viaTask.remote('n'), T)).toBe('helped:n!');
  expect(await ray.get(g.loaded.remote(), T)).toEqual(['acorn/dist/acorn.js']);
});

test('a function made inside a function fails with an error naming it, its module and the fix', async () => {
  const nested = fixture.makeNested();
  // If the worker hung instead of failing, this would be a GetTimeoutError.
  const err = (await ray.get(nested.remote('x'), T).then(
    () => undefined,
    (e: unknown) => e,
  )) as Error;
  expect(err).toBeInstanceOf(Error);
  expect(err).not.toBeInstanceOf(ray.GetTimeoutError);
  expect(err).toBeInstanceOf(ray.RayError);
  expect(err.message).toContain('nestedHelperUser');
  expect(err.message).toContain(FIXTURE);
  expect(err.message).toContain('top level');
  // The worker pool is still healthy.
  expect((await ray.get(fixture.usesHelper.remote('after'), T)).out).toBe('helped:after!');
});

test('a by-value function may use require (node:os)', async () => {
  const info = ray.remote(() => {
    const os = require('node:os') as typeof import('node:os');
    return { platform: os.platform(), eol: os.EOL, pid: process.pid };
  });
  const got = await ray.get(info.remote(), T);
  expect(got.platform).toBe(process.platform);
  expect(got.eol).toBe(require('node:os').EOL);
  expect(got.pid).not.toBe(process.pid);
});

test('a by-value function defined in this test file runs in a worker without importing the test file', async () => {
  const square = ray.remote((x: number) => ({ sq: x * x, pid: process.pid }));
  const got = await ray.get(square.remote(9), T);
  expect(got.sq).toBe(81);
  expect(got.pid).not.toBe(process.pid);
});
