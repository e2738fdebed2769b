/**
 * Resolving refs for the caller: `get` (input order, first error wins, timeout), `wait`
 * (ready / not ready in input order; generators are ready when their next item is), and a
 * task's or call's arguments before it is sent.
 */
import type { ActorId, TaskId } from '../protocol/ids';
import { firstValueFrom, timeout as rxTimeout } from 'rxjs';
import { isObjectRef, type ObjectRef } from '../refs/object-ref';
import { ObjectRefGenerator } from '../refs/object-ref-generator';
import { decodeError, encodeTaskError, type WireError } from '../serialization/error-codec';
import { GetTimeoutError } from '../errors/ray-errors';
import type { WireArg, WireOutcome } from '../protocol/wire';
import type { CoreWorker } from './core-worker';

/** `ray.get` for one ref or an array; rejects on the first error found. */
export async function getValues(core: CoreWorker, refs: ObjectRef<unknown> | ObjectRef<unknown>[], timeoutMs?: number): Promise<unknown> {
  if (!Array.isArray(refs)) {
    const out = core.store.outcomeOf(refs.id) ?? (await awaitOutcome(core, refs, timeoutMs));
    return core.decodeOutcome(out);
  }
  const outs = refs.map((r) => core.store.outcomeOf(r.id));
  if (outs.every((o) => o !== undefined)) {
    for (const o of outs) if ('e' in o!) throw decodeError((o as { e: WireError }).e);
    return outs.map((o) => core.decodeOutcome(o!));
  }
  const deadline = timeoutMs === undefined ? undefined : Date.now() + timeoutMs;
  return new Promise<unknown[]>((resolve, reject) => {
    let left = refs.length;
    const values: WireOutcome[] = new Array(refs.length);
    let done = false;
    const cancels: Array<() => void> = [];
    const timer = deadline === undefined ? undefined : setTimeout(() => finish(new GetTimeoutError(`ray.get timed out after ${timeoutMs} ms`)), Math.max(0, deadline - Date.now()));
    const finish = (err?: Error): void => {
      if (done) return;
      done = true;
      if (timer) clearTimeout(timer);
      for (const cancel of cancels) cancel();
      if (err) reject(err);
      else {
        try {
          resolve(values.map((o) => core.decodeOutcome(o)));
        } catch (e) {
          reject(e as Error);
        }
      }
    };
    refs.forEach((ref, i) => {
      if (done) return;
      cancels.push(
        core.onOutcome(ref, (out) => {
          values[i] = out;
          if ('e' in out) return finish(decodeError(out.e));
          left -= 1;
          if (left === 0) finish();
        }),
      );
    });
  });
}

function awaitOutcome(core: CoreWorker, ref: ObjectRef<unknown>, timeoutMs?: number): Promise<WireOutcome> {
  const o$ = core.outcome$(ref);
  if (timeoutMs === undefined) return firstValueFrom(o$);
  return firstValueFrom(
    o$.pipe(
      rxTimeout({
        first: timeoutMs,
        with: () => {
          throw new GetTimeoutError(`ray.get timed out after ${timeoutMs} ms waiting for ${ref.id}`);
        },
      }),
    ),
  );
}

/**
 * `ray.wait`: [ready, notReady] in input order. A generator is ready when its next item is
 * available or it has ended.
 */
export async function waitFor<W extends ObjectRef<unknown> | ObjectRefGenerator<unknown>>(
core: CoreWorker,
refs: W[],
numReturns: number,
timeoutMs?: number,
): Promise<[W[], W[]]> {
  const ready = new Set<number>();
  const split = (): [W[], W[]] => {
    const r: W[] = [];
    const n: W[] = [];
    refs.forEach((ref, i) => (ready.has(i) && r.length < numReturns ? r : n).push(ref));
    return [r, n];
  };
  const isReadyNow = (w: W): boolean =>
    w instanceof ObjectRefGenerator ? (w.source ? w.source.peek() !== 'pending' : true) : core.store.isReady((w as ObjectRef<unknown>).id);
  refs.forEach((ref, i) => {
    if (isReadyNow(ref)) ready.add(i);
  });
  if (ready.size >= numReturns || timeoutMs === 0) return split();
  return new Promise((resolve) => {
    const subs: Array<{ unsubscribe(): void }> = [];
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      if (timer) clearTimeout(timer);
      for (const s of subs) s.unsubscribe();
      resolve(split());
    };
    const mark = (i: number): void => {
      ready.add(i);
      if (ready.size >= numReturns) finish();
    };
    const timer = timeoutMs === undefined ? undefined : setTimeout(finish, timeoutMs);
    refs.forEach((ref, i) => {
      if (ready.has(i) || done) return;
      if (ref instanceof ObjectRefGenerator) {
        void ref.source?.whenAvailable().then(() => !done && mark(i));
        return;
      }
      subs.push(core.outcome$(ref as ObjectRef<unknown>).subscribe(() => mark(i)));
    });
  });
}

/**
 * Resolve the top-level ObjectRef arguments of a task or actor call to their bytes and encode
 * the rest now (arguments are copied at submission). Calls `then` synchronously when no
 * argument is a ref; a failed ref fails the call with a RayTaskError naming it.
 */
export function resolveArgs(
  core: CoreWorker,
  args: unknown[],
  then: (parts: WireArg[] | { error: WireError }) => void,
  functionName: string,
  taskId: TaskId | ActorId,
): void {
  const parts: Array<WireArg | ObjectRef<unknown>> = args.map((a, i) => (isObjectRef(a) ? a : core.encodeArg(a, `args[${i}]`)));
  const deps = parts.filter(isObjectRef) as ObjectRef<unknown>[];
  if (deps.length === 0) return then(parts as WireArg[]);
  let left = deps.length;
  let failed = false;
  // Plain arguments first: a ref whose value is here already calls back synchronously.
  const resolved = parts.map((p) => (isObjectRef(p) ? undefined : p)) as WireArg[];
  parts.forEach((p, i) => {
    if (!isObjectRef(p)) return;
    // The submission holds its arguments: without a pin, dropping the caller's ref could
    // free the entry before the value arrives, and the task would never be submitted.
    core.store.pin(p.id);
    core.onOutcome(p, (out) => {
      core.store.unpin(p.id);
      if (failed) return;
      if ('e' in out) {
        failed = true;
        return then({ error: encodeTaskError(functionName, taskId, decodeError(out.e)) });
      }
      core.noteSent(out.r);
      resolved[i] = out.r ? { d: out.d, r: out.r } : { d: out.d };
      left -= 1;
      if (left === 0) then(resolved);
    });
  });
}
