import { decodeValue, encodeValue, encodeEnvelope, decodeEnvelope } from '../../../src/serialization/serializer';
import { scanValue } from '../../../src/serialization/value-check';
import { decodeError, encodeError, encodeTaskError, makeTaskError } from '../../../src/serialization/error-codec';
import { freeNames, describeCode } from '../../../src/serialization/code-shipping';
import { RayTaskError, ActorDiedError, RayActorError, RayError } from '../../../src/errors/ray-errors';

const noRef = () => false;

describe('value serializer', () => {
  it('round-trips what structuredClone accepts', () => {
    const v = {
      n: 1.5,
      big: 2n ** 70n,
      u: undefined,
      s: 'x',
      m: new Map<unknown, unknown>([[1, 'a']]),
      set: new Set([1, 2]),
      d: new Date(5),
      re: /a+/gi,
      bytes: new Uint8Array([1, 2, 3]),
      f64: new Float64Array([0.5]),
      nested: [{ a: [null, true] }],
    };
    const out = decodeValue(encodeValue(v)) as typeof v;
    // Typed arrays are rebuilt from Node's realm, not jest's sandbox (where msgpackr cannot see
    // them): compare contents here; the e2e suite checks their classes in real worker processes.
    const { f64, bytes, ...rest } = out;
    const { f64: f64In, bytes: bytesIn, ...restIn } = v;
    expect(rest).toEqual(restIn);
    expect(Object.values(f64)).toEqual(Array.from(f64In));
    expect(Array.from(bytes)).toEqual(Array.from(bytesIn));
    expect(out.big).toBe(2n ** 70n);
    expect('u' in out).toBe(true);
    expect(out.m).toBeInstanceOf(Map);
    expect(out.re.flags).toBe('gi');
  });

  it('keeps cycles', () => {
    const a: Record<string, unknown> = { x: 1 };
    a.self = a;
    const out = decodeValue(encodeValue(a)) as Record<string, unknown>;
    expect(out.self).toBe(out);
  });

  it('envelopes round-trip and reject garbage', () => {
    const env = decodeEnvelope(encodeEnvelope({ t: 'x', b: new Uint8Array([1]) })) as { t: string; b: Uint8Array };
    expect(env.t).toBe('x');
    expect(Array.from(env.b)).toEqual([1]);
    const truncated = encodeEnvelope({ t: 'result', task: 'abcdefgh' }).subarray(0, 6);
    expect(() => decodeEnvelope(truncated)).toThrow();
  });
});

describe('scanValue', () => {
  it('names the path of a function', () => {
    expect(() => scanValue([1, { cb: () => 1 }], 'args', noRef, noRef)).toThrow(/args\[1\]\.cb/);
  });
  it('refuses symbols and class instances, naming the path', () => {
    expect(() => scanValue({ s: Symbol('x') }, 'args[0]', noRef, noRef)).toThrow(/args\[0\]\.s/);
    class Secret {
      #hidden = 1;
      get h() {
        return this.#hidden;
      }
    }
    expect(() => scanValue({ k: new Secret() }, 'value', noRef, noRef)).toThrow(/class Secret at value\.k/);
  });
  it('accepts builtins and collects refs', () => {
    const ref = { isRef: true };
    const scan = scanValue({ d: new Date(), m: new Map([[1, ref]]), b: Buffer.from('x') }, 'v', (o) => o === ref, noRef);
    expect(scan.refs).toEqual([ref]);
  });
  it('finds functions inside Map values and Sets', () => {
    expect(() => scanValue(new Map([['k', () => 1]]), 'args[2]', noRef, noRef)).toThrow(/args\[2\]\.get\("k"\)/);
    expect(() => scanValue(new Set([() => 1]), 'v', noRef, noRef)).toThrow(/element 0/);
  });
});

describe('error codec', () => {
  it('rebuilds user errors with name, message, stack and fields', () => {
    const e = Object.assign(new RangeError('too big'), { code: 'E_BIG' });
    const out = decodeError(encodeError(e)) as RangeError & { code: string };
    expect(out).toBeInstanceOf(RangeError);
    expect(out.message).toBe('too big');
    expect(out.stack).toBe(e.stack);
    expect(out.code).toBe('E_BIG');
  });

  it('keeps custom error names', () => {
    class MyErr extends Error {
      override name = 'MyErr';
    }
    const out = decodeError(encodeError(new MyErr('m')));
    expect(out.name).toBe('MyErr');
    expect(out.message).toBe('m');
  });

  it('rebuilds raybus errors as their class', () => {
    const out = decodeError(encodeError(new ActorDiedError('dead', 'a1', true)));
    expect(out).toBeInstanceOf(ActorDiedError);
    expect(out).toBeInstanceOf(RayActorError);
    expect(out).toBeInstanceOf(RayError);
    expect((out as ActorDiedError).actorInitFailed).toBe(true);
  });

  it('a raybus error sent without a stack gets one where it is rebuilt, headed by its name and message', () => {
    const { stack: _sent, ...wire } = encodeError(new ActorDiedError('The actor A (a1) is dead.', 'a1', false));
    const out = decodeError(wire);
    expect(out.stack?.split('\n')[0]).toBe('ActorDiedError: The actor A (a1) is dead.');
    expect(out.stack).toContain('serializer.test');
  });

  // Ray: test_failure.py::test_exception_chain — the error is both a RayTaskError and the cause's class.
  it('task errors are RayTaskError and instances of a builtin cause', () => {
    const wire = encodeTaskError('f', 't1', new TypeError('bad'));
    const err = decodeError(wire);
    expect(err).toBeInstanceOf(RayTaskError);
    expect(err).toBeInstanceOf(TypeError);
    expect(err.name).toBe('RayTaskError(TypeError)');
    expect(err.message).toContain('bad');
    expect((err.cause as Error).message).toBe('bad');
    expect((err as RayTaskError).functionName).toBe('f');
  });

  it('a task error of a task error keeps the original cause', () => {
    const inner = makeTaskError('inner', new SyntaxError('deep'), 't0');
    const err = decodeError(encodeTaskError('outer', 't1', inner));
    expect((err.cause as Error).name).toBe('SyntaxError');
    expect(err).toBeInstanceOf(SyntaxError);
  });

  it('instanceof works across module copies (Symbol.for marker)', () => {
    jest.isolateModules(() => {
      const copy = require('../../../src/errors/ray-errors') as typeof import('../../../src/errors/ray-errors');
      expect(new copy.ActorDiedError('x')).toBeInstanceOf(ActorDiedError);
      expect(new ActorDiedError('x')).toBeInstanceOf(copy.RayActorError);
      expect(new copy.RayError('x')).not.toBeInstanceOf(RayTaskError);
    });
  });
});

describe('code shipping', () => {
  it('finds free names', () => {
    expect(freeNames('(a, b) => a + b + c')).toEqual(['c']);
    expect(freeNames('function f(x) { const y = require("os"); return ray.get(x) + Math.max(y) }')!.sort()).toEqual(['Math', 'ray', 'require']);
    expect(freeNames('class A extends B { m() { return this.x } }')).toEqual(['B']);
  });

  it('ships self-contained code by value and the rest by reference', () => {
    const self = describeCode((a: number) => a * 2, 'function', '/x/mod.js');
    expect(self.source).toContain('a * 2');
    const helper = 3;
    const byRef = describeCode((a: number) => a * helper, 'function', '/x/mod.js');
    expect(byRef.source).toBeUndefined();
    expect(byRef.module).toBe('/x/mod.js');
    expect(byRef.freeNames).toEqual(['helper']);
  });

  it('gives the same id to the same code in the same module', () => {
    const a = describeCode(function f(x: number) { return x; }, 'function', '/m.js');
    const b = describeCode(function f(x: number) { return x; }, 'function', '/m.js');
    const c = describeCode(function f(x: number) { return x; }, 'function', '/other.js');
    expect(a.id).toBe(b.id);
    expect(a.id).not.toBe(c.id);
  });
});

test('large values encoded one after another stay intact, and later encodes do not carry the earlier ones along', () => {
  // msgpackr packs into one shared buffer; after a large result raybus hands that buffer over
  // and gives msgpackr a fresh one (msgpackr-instance.ts, afterPack).
  const big = (n: number, seed: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (i + seed) & 0xff);
  const a = big(3 << 20, 1);
  const b = big(2 << 20, 2);
  const ea = encodeValue(a);
  const small = encodeEnvelope({ t: 'x', n: 1 });
  const eb = encodeEnvelope({ t: 'call', body: b });
  const ea2 = encodeValue(a);
  expect(Buffer.compare(Buffer.from(decodeValue(ea) as Uint8Array), Buffer.from(a))).toBe(0);
  expect(decodeEnvelope(small)).toEqual({ t: 'x', n: 1 });
  expect(Buffer.compare(Buffer.from((decodeEnvelope(eb) as { body: Uint8Array }).body), Buffer.from(b))).toBe(0);
  expect(Buffer.compare(Buffer.from(ea2), Buffer.from(ea))).toBe(0);
  // Each large result has a buffer of its own: none shares memory with the next.
  expect(ea.buffer).not.toBe(eb.buffer);
  expect(eb.buffer).not.toBe(ea2.buffer);
});
