/**
 * resolveArgs: a task's arguments, with top-level refs replaced by their values, handed on
 * only once every slot is filled, also when a ref's value is already here (its outcome
 * callback runs synchronously).
 */
import { ObjectRef } from '../../../src/refs/object-ref';
import { resolveArgs } from '../../../src/core/ref-resolution';
import type { CoreWorker } from '../../../src/core/core-worker';
import type { ObjectId, ReplyQueue } from '../../../src/protocol/ids';
import type { WireArg, WireOutcome } from '../../../src/protocol/wire';
import type { WireError } from '../../../src/serialization/error-codec';

/** A core whose store already holds `ready` and holds back everything else until `fulfil`. */
function fakeCore(ready: Record<string, WireOutcome>) {
  const waiting = new Map<string, (out: WireOutcome) => void>();
  const core = {
    encodeArg: (a: unknown) => ({ d: new TextEncoder().encode(JSON.stringify(a)) }),
    store: { pin: () => undefined, unpin: () => undefined },
    noteSent: () => undefined,
    onOutcome: (ref: ObjectRef<unknown>, cb: (out: WireOutcome) => void) => {
      const out = ready[ref.id];
      if (out) cb(out);
      else waiting.set(ref.id, cb);
      return () => undefined;
    },
  } as unknown as CoreWorker;
  return { core, fulfil: (id: string, out: WireOutcome) => waiting.get(id)!(out) };
}

const ref = (id: string) => new ObjectRef(id as ObjectId, 'owner' as ReplyQueue);
const text = (a: WireArg) => new TextDecoder().decode(a.d);

test('a ref that is ready already, followed by plain arguments: every slot is filled when the parts are handed on', () => {
  const { core } = fakeCore({ r1: { d: new TextEncoder().encode('10') } });
  const seen: Array<WireArg[] | { error: WireError }> = [];
  resolveArgs(core, [ref('r1'), ['nested'], 3], (parts) => seen.push(Array.isArray(parts) ? [...parts] : parts), 'f', 't1' as never);
  expect(seen).toHaveLength(1);
  const parts = seen[0] as WireArg[];
  expect(parts).toHaveLength(3);
  expect(parts.map(text)).toEqual(['10', '["nested"]', '3']);
});

test('refs that arrive later: handed on once, after the last one, in argument order', () => {
  const { core, fulfil } = fakeCore({ r1: { d: new TextEncoder().encode('1') } });
  const seen: WireArg[][] = [];
  resolveArgs(core, [ref('r1'), 'x', ref('r2')], (parts) => seen.push([...(parts as WireArg[])]), 'f', 't2' as never);
  expect(seen).toHaveLength(0);
  fulfil('r2', { d: new TextEncoder().encode('2') });
  expect(seen.map((p) => p.map(text))).toEqual([['1', '"x"', '2']]);
});
