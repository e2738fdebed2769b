/**
 * Code identity across loaders (docs/ARCHITECTURE.md, "Code shipping"): code shipped by
 * reference is found in a worker under an id that does not depend on how a loader compiled
 * the module (tsx compiles an ES module and a CommonJS module to different text), and code
 * that TypeScript runners wrap in `__name(...)` still travels by value.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

type CodeShipping = typeof import('../../../src/serialization/code-shipping');
type Code = (...args: never[]) => unknown;

/** A fresh copy of code shipping with an empty registry, as in another process. */
function freshProcess(): CodeShipping {
  const g = globalThis as unknown as Record<symbol, unknown>;
  delete g[Symbol.for('raybus.codeRegistry')];
  delete g[Symbol.for('raybus.codeModules')];
  let mod!: CodeShipping;
  jest.isolateModules(() => {
    mod = require('../../../src/serialization/code-shipping') as CodeShipping;
  });
  return mod;
}

/** Make a function or class from source text, with `names` in scope (what a module gives it). */
function compile(source: string, names: Record<string, unknown> = {}): Code {
  return new Function(...Object.keys(names), `return (${source});`)(...Object.values(names)) as Code;
}

const nameShim = (t: object, v: string): object => Object.defineProperty(t, 'name', { value: v, configurable: true });
const crypto = { createHash: () => undefined };

let dir: string;
let file: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'raybus-code-shipping-'));
  file = path.join(dir, 'main.ts');
  writeFileSync(file, 'export const digest = ray.remote((s: string) => createHash("sha256").update(s).digest("hex"));\n');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

test('by-reference ids are the same whether a loader emitted ES module or CommonJS text', () => {
  // What tsx emits for the same module as an ES module, and as CommonJS.
  const esmText = {
    fn: '(s) => createHash("sha256").update(s).digest("hex")',
    cls: 'class Hasher { static { __name(this, "Hasher"); } h(s) { return createHash("md5").update(s).digest("hex"); } }',
  };
  const cjsText = {
    fn: '(s) => (0, import_node_crypto.createHash)("sha256").update(s).digest("hex")',
    cls: 'class Hasher { static { __name(this, "Hasher"); } h(s) { return (0, import_node_crypto.createHash)("md5").update(s).digest("hex"); } }',
  };
  const driver = freshProcess();
  const fromEsm = [
    driver.describeCode(compile(esmText.fn, { createHash: crypto.createHash }), 'function', file),
    driver.describeCode(compile(esmText.cls, { createHash: crypto.createHash, __name: nameShim }), 'class', file),
  ];
  expect(fromEsm.map((d) => d.source)).toEqual([undefined, undefined]);
  const worker = freshProcess();
  const fromCjs = [
    worker.describeCode(compile(cjsText.fn, { import_node_crypto: crypto }), 'function', file),
    worker.describeCode(compile(cjsText.cls, { import_node_crypto: crypto, __name: nameShim }), 'class', file),
  ];
  expect(fromCjs.map((d) => d.id)).toEqual(fromEsm.map((d) => d.id));
  expect(worker.lookupRegistered(fromEsm[1]!.id)).toBeDefined();
});

test('the same code registered again keeps its id; other code of the same name gets the next one', () => {
  const cs = freshProcess();
  const helper = 1;
  const a = cs.describeCode(function f(x: number) { return x + helper; }, 'function', file);
  const again = cs.describeCode(function f(x: number) { return x + helper; }, 'function', file);
  const other = cs.describeCode(function f(x: number) { return x - helper; }, 'function', file);
  expect(again.id).toBe(a.id);
  expect(other.id).not.toBe(a.id);
  // In a fresh process registering in the same order, the ids are the same.
  const worker = freshProcess();
  const ids = [
    worker.describeCode(function f(x: number) { return x + helper; }, 'function', file).id,
    worker.describeCode(function f(x: number) { return x - helper; }, 'function', file).id,
  ];
  expect(ids).toEqual([a.id, other.id]);
});

test('a changed module file gives its code new ids (a worker never runs an older version by mistake)', () => {
  const helper = 1;
  const before = freshProcess().describeCode((x: number) => x + helper, 'function', file);
  writeFileSync(file, 'export const digest = 2;\n');
  const after = freshProcess().describeCode((x: number) => x + helper, 'function', file);
  expect(after.id).not.toBe(before.id);
});

test('code wrapped in __name by a TypeScript runner travels by value and keeps its names', async () => {
  const cs = freshProcess();
  const source =
    'class Tally { static { __name(this, "Tally"); } add(k) { const twice = __name(function (v) { return 2 * v; }, "twice"); return [twice(k), twice.name]; } }';
  const desc = cs.describeCode(compile(source, { __name: nameShim }), 'class', file);
  expect(desc.source).toBe(source);
  const worker = freshProcess();
  const Rebuilt = (await worker.loadCode(desc, { ray: undefined, require })) as unknown as new () => { add(k: number): [number, string] };
  expect(Rebuilt.name).toBe('Tally');
  expect(new Rebuilt().add(3)).toEqual([6, 'twice']);
});
