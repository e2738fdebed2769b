/**
 * How the private msgpackr instance is made (msgpackr-instance.ts): a compiler may supply its
 * wrapper (a worker's module pack does), and the native string decoder may be left out (a
 * worker does): strings still decode the same.
 */
import { readFileSync } from 'node:fs';

type InstanceModule = typeof import('../../../src/serialization/msgpackr-instance');

/** The module afresh: the instance is made once per module. */
function fresh(): InstanceModule {
  let m: InstanceModule | undefined;
  jest.isolateModules(() => {
    m = require('../../../src/serialization/msgpackr-instance');
  });
  return m!;
}

const VALUES = ['', 'short', 'é'.repeat(100), 'x'.repeat(70000), Array.from({ length: 300 }, (_, i) => `s${i}`), { a: 'b', nested: { c: 'déjà' } }];

function roundTrips(m: InstanceModule): void {
  const { Packr } = m.privateMsgpackr();
  const p = new Packr({ useRecords: false });
  for (const v of VALUES) expect(p.unpack(p.pack(v))).toEqual(v);
}

describe('the private msgpackr instance', () => {
  test('by default: compiled from source, with whatever native decoder msgpackr finds', () => {
    const m = fresh();
    roundTrips(m);
  });

  test('without the native decoder: msgpackr decodes strings in JavaScript', () => {
    const m = fresh();
    m.configurePrivateMsgpackr({ native: false });
    expect(m.privateMsgpackr().isNativeAccelerationEnabled).toBe(false);
    roundTrips(m);
  });

  test("a compiler's wrapper is used for msgpackr's own file; none from it: compiled from source", () => {
    const calls: { filename: string; same: boolean }[] = [];
    const m = fresh();
    m.configurePrivateMsgpackr({
      compile: (filename, source) => {
        calls.push({ filename, same: source === readFileSync(require.resolve('msgpackr'), 'utf8') });
        return new Function('exports', 'require', 'module', '__filename', '__dirname', source) as never;
      },
    });
    roundTrips(m);
    expect(calls).toEqual([{ filename: require.resolve('msgpackr'), same: true }]);

    const n = fresh();
    n.configurePrivateMsgpackr({ compile: () => undefined });
    roundTrips(n);
  });
});
