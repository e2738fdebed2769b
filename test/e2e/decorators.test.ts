/**
 * Class decorators in both calling conventions (TC39 and legacy `experimentalDecorators`),
 * run the way a user runs them: a TypeScript module compiled to JavaScript, executed as a
 * driver process. Decorated classes are not self-contained (the compiler wraps them), so
 * they travel by reference: the worker imports the compiled module.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as ts from 'typescript';

const DIST = path.resolve(__dirname, '../../dist/cjs/src/index.js');

const SOURCE = `
import ray = require(${JSON.stringify(DIST)});

@ray.remote
class Plain {
  n = 1;
  inc(): number { return ++this.n; }
}

@ray.remote({ maxRestarts: 0, num_cpus: 0 })
class WithOptions {
  hello(x: string): string { return 'hi ' + x; }
}

class Pairs {
  @ray.method({ numReturns: 2 })
  pair(): number[] { return [1, 2]; }
}
const RemotePairs = ray.remote(Pairs);

async function main(): Promise<void> {
  await ray.init({ numCpus: 2 });
  const out: Record<string, unknown> = {};
  const p = (Plain as any).remote();
  out.plain = await ray.get([p.inc.remote(), p.inc.remote()]);
  const w = (WithOptions as any).remote();
  out.options = await ray.get(w.hello.remote('there'));
  try { new (Plain as any)(); } catch (e) { out.direct = (e as Error).message; }
  const [a, b] = (RemotePairs as any).remote().pair.remote();
  out.pair = await ray.get([a, b]);
  console.log('RESULT ' + JSON.stringify(out));
  await ray.shutdown();
}
if (require.main === module) main().catch((e) => { console.error(e); process.exit(1); });
`;

function run(file: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [file], { timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

describe.each([
  ['TC39 decorators', false],
  ['legacy experimentalDecorators', true],
])('%s', (_label, experimentalDecorators) => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'raybus-decorators-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('decorated classes and methods work end to end, and the script exits by itself', async () => {
    const js = ts.transpileModule(SOURCE, {
      compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, experimentalDecorators },
    }).outputText;
    const file = path.join(dir, 'driver.js');
    writeFileSync(file, js);
    const { code, stdout, stderr } = await run(file);
    expect(stderr).not.toMatch(/Error/);
    expect(code).toBe(0);
    const line = stdout.split('\n').find((l) => l.startsWith('RESULT '));
    expect(line).toBeDefined();
    const out = JSON.parse(line!.slice('RESULT '.length)) as Record<string, unknown>;
    expect(out.plain).toEqual([2, 3]);
    expect(out.options).toBe('hi there');
    expect(out.direct).toMatch(/\.remote\(\)/);
    expect(out.pair).toEqual([1, 2]);
  }, 90_000);
});
