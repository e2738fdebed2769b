/**
 * ObjectRefs, put, get and wait end to end on the embedded default.
 *
 * Refs that must stay "not ready" come from a Gate actor: `gate.pass.remote()` resolves only
 * after `gate.open.remote()`, so readiness is decided by the test, not by timing.
 */
import { firstValueFrom, lastValueFrom, toArray } from 'rxjs';
import type * as Ray from '../../src/index';

// The built package (jest maps 'raybus' to dist/); see remote-functions.test.ts for why
// `require` is used.
const ray: typeof Ray = require('raybus');

type Ref<T = unknown> = Ray.ObjectRef<T>;

const Gate = ray.remote(
  class Gate {
    opened = false;
    waiters: Array<() => void> = [];
    async pass(tag: string) {
      if (!this.opened) await new Promise<void>((r) => this.waiters.push(r));
      return tag;
    }
    open() {
      this.opened = true;
      for (const w of this.waiters.splice(0)) w();
      return true;
    }
  },
);

beforeAll(async () => {
  await ray.init({ numCpus: 4 });
});

afterAll(async () => {
  await ray.shutdown();
});

describe('ObjectRef', () => {
  test('is not thenable: awaiting a ref gives the ref itself', async () => {
    const ref = ray.put(5);
    expect('then' in ref).toBe(false);
    const awaited = await (ref as unknown as Promise<unknown>);
    expect(awaited).toBe(ref);
    const f = ray.remote(() => 1);
    const taskRef = f.remote();
    expect('then' in taskRef).toBe(false);
    expect(await (taskRef as unknown as Promise<unknown>)).toBe(taskRef);
    // An async function can return a ref without it being resolved.
    const passThrough = async () => taskRef;
    expect(await passThrough()).toBe(taskRef);
  });

  test('hex() is a hex string, distinct per ref', () => {
    const a = ray.put(1);
    const b = ray.put(1);
    expect(typeof a.hex()).toBe('string');
    expect(a.hex()).toMatch(/^[0-9a-f]+$/);
    expect(a.hex()).not.toBe(b.hex());
    expect(a.hex()).toBe(a.hex());
  });

  test('asObservable() emits the value once and completes', async () => {
    const f = ray.remote((x: number) => x * 2);
    const ref = f.remote(21);
    expect(await firstValueFrom(ref.asObservable())).toBe(42);
    expect(await lastValueFrom(ref.asObservable().pipe(toArray()))).toEqual([42]);
    expect(await lastValueFrom(ray.put('p').asObservable().pipe(toArray()))).toEqual(['p']);
  });

  test('asObservable() errors for a failed task', async () => {
    const f = ray.remote(() => {
      throw new Error('observable failure');
    });
    const err = (await firstValueFrom(f.remote().asObservable()).then(
      () => undefined,
      (e: unknown) => e,
    )) as Error;
    expect(err).toBeInstanceOf(ray.RayTaskError);
    expect((err.cause as Error).message).toBe('observable failure');
  });
});

describe('put and get', () => {
  test('put returns a ref synchronously; get returns a copy of the value', async () => {
    const value = { a: [1, 2, 3], b: 'text' };
    const ref = ray.put(value);
    expect(ref).toBeInstanceOf(ray.ObjectRef);
    value.a.push(4);
    expect(await ray.get(ref)).toEqual({ a: [1, 2, 3], b: 'text' });
    const [x, y] = await ray.get([ray.put('x'), ray.put(2)]);
    expect([x, y]).toEqual(['x', 2]);
    // A task sees the put value.
    const len = ray.remote((v: { a: number[] }) => v.a.length);
    expect(await ray.get(len.remote(ref))).toBe(3);
  });

  test('put(ref) throws', () => {
    const ref = ray.put(1);
    expect(() => ray.put(ref)).toThrow(TypeError);
  });

  test('get with a non-ref throws synchronously', () => {
    const g = ray.get as unknown as (x: unknown) => unknown;
    expect(() => g(42)).toThrow(TypeError);
    expect(() => g({ id: 'abc' })).toThrow(TypeError);
    expect(() => g([ray.put(1), 'nope'])).toThrow(TypeError);
  });
});

describe('wait', () => {
  test('validation: single ref, duplicates, numReturns out of range, empty list', async () => {
    const w = ray.wait as unknown as (r: unknown, o?: unknown) => Promise<unknown>;
    const a = ray.put(1);
    const b = ray.put(2);
    expect(() => w(a)).toThrow(TypeError);
    expect(() => w([a, 3])).toThrow(TypeError);
    expect(() => w([a, a])).toThrow(/unique/);
    expect(() => w([a, b], { numReturns: 0 })).toThrow();
    expect(() => w([a, b], { numReturns: 3 })).toThrow(/greater than/);
    expect(() => w([a, b], { timeoutMs: -1 })).toThrow();
    expect(await ray.wait([])).toEqual([[], []]);
  });

  test('both lists keep input order, whatever order the refs became ready in', async () => {
    const gate = Gate.remote();
    const later = ray.remote(async () => 'task');
    const g1 = gate.pass.remote('g1');
    const t1 = later.remote();
    const g2 = gate.pass.remote('g2');
    const p2 = ray.put('put'); // ready before t1
    const refs = [g1, t1, g2, p2] as Ref[];
    const [ready, notReady] = await ray.wait(refs, { numReturns: 2, timeoutMs: 20000 });
    expect(ready).toEqual([t1, p2]);
    expect(notReady).toEqual([g1, g2]);
    await ray.get(gate.open.remote());
    const [all, none] = await ray.wait([p2, g2, g1, t1] as Ref[], { numReturns: 4, timeoutMs: 20000 });
    expect(all).toEqual([p2, g2, g1, t1]);
    expect(none).toEqual([]);
    expect(await ray.get([g1, g2])).toEqual(['g1', 'g2']);
  });

  test('errors count as ready', async () => {
    const gate = Gate.remote();
    const boom = ray.remote(() => {
      throw new Error('boom');
    });
    const pending = gate.pass.remote('x');
    const failed = boom.remote();
    const [ready, notReady] = await ray.wait([pending, failed] as Ref[], { numReturns: 1, timeoutMs: 20000 });
    expect(ready).toEqual([failed]);
    expect(notReady).toEqual([pending]);
    await expect(ray.get(failed)).rejects.toBeInstanceOf(ray.RayTaskError);
    await ray.get(gate.open.remote());
  });

  test('timeoutMs returns partial results', async () => {
    const gate = Gate.remote();
    const p = ray.put('ready');
    const g1 = gate.pass.remote('a');
    const g2 = gate.pass.remote('b');
    const started = Date.now();
    const [ready, notReady] = await ray.wait([g1, p, g2] as Ref[], { numReturns: 3, timeoutMs: 200 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(150);
    expect(ready).toEqual([p]);
    expect(notReady).toEqual([g1, g2]);
    await ray.get(gate.open.remote());
    expect(await ray.get([g1, g2], { timeoutMs: 20000 })).toEqual(['a', 'b']);
  });
});
