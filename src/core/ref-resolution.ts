/**
 * Resolving refs for the caller: `get` (input order, first error wins, timeout), `wait`
 * (ready / not ready in input order; generators are ready when their next item is), and a
 * task's or call's arguments before it is sent. Timeouts run on the injected clock.
 */
import type { ActorId, ObjectId, TaskId } from '../protocol/ids';
import { isObjectRef, type ObjectRef } from '../refs/object-ref';
import { ObjectRefGenerator } from '../refs/object-ref-generator';
import { decodeError, encodeTaskError, type WireError } from '../serialization/error-codec';
import { GetTimeoutError } from '../errors/ray-errors';
import type { WireArg, WireOutcome, WireRef } from '../protocol/wire';
import type { Clock, Timer } from '../util/clock';
import type { BlockHook } from './blocked-waits';
import { nextTurn, TurnBudget } from '../util/turn-budget';

/**
 * Values `get` hands over at once (they are here) in one event-loop turn; a program getting
 * slice after slice of ready results goes on in the next turn past it (~10 ms of decoding).
 */
const READY_VALUES_PER_TURN = 8192;
const readyValues = new TurnBudget(READY_VALUES_PER_TURN);

/** What `get` and `wait` need: the outcomes of refs, here or on their way (the object manager). */
export interface OutcomeSource {
  /** The outcome of `id` if it is here now. */
  outcomeOf(id: ObjectId): WireOutcome | undefined;
  isReady(id: ObjectId): boolean;
  /** Call `cb` once with the outcome (fetching it if borrowed); returns a cancel function. */
  onOutcome(ref: ObjectRef<unknown>, cb: (out: WireOutcome) => void): () => void;
  /** The value of an outcome, or throw its error. */
  decodeOutcome(out: WireOutcome): unknown;
}

/** What argument resolution needs besides the outcomes (the object manager). */
export interface ArgEncoder {
  onOutcome(ref: ObjectRef<unknown>, cb: (out: WireOutcome) => void): () => void;
  /** Encode a value leaving the process (counts the refs inside it as borrowed). */
  encodeArg(value: unknown, path: string): WireArg;
  /** Bytes carrying these refs leave the process: one borrow token each. */
  noteSent(refs: WireRef[] | undefined): void;
  pin(id: ObjectId): void;
  unpin(id: ObjectId): void;
}

/**
 * `ray.get` for one ref or an array; rejects on the first error found, without waiting for the
 * rest. `block` is told when the call has to wait (a task then gives its CPU back meanwhile).
 */
export function getValues(objects: OutcomeSource, clock: Clock, refs: ObjectRef<unknown> | ObjectRef<unknown>[], timeoutMs?: number, block?: BlockHook): Promise<unknown> {
  if (!Array.isArray(refs)) {
    const out = objects.outcomeOf(refs.id);
    if (!out) return awaitValue(objects, clock, refs, timeoutMs, block);
    return readyValues.take(1) ? decodeNow(objects, out) : nextTurn().then(() => getValues(objects, clock, refs, timeoutMs, block));
  }
  const outs = refs.map((r) => objects.outcomeOf(r.id));
  if (outs.every((o) => o !== undefined)) {
    if (!readyValues.take(outs.length)) return nextTurn().then(() => getValues(objects, clock, refs, timeoutMs, block));
    try {
      for (const o of outs) if ('e' in o!) throw decodeError((o as { e: WireError }).e);
      return Promise.resolve(outs.map((o) => objects.decodeOutcome(o!)));
    } catch (err) {
      return Promise.reject(err as Error);
    }
  }
  return new Promise<unknown[]>((resolve, reject) => {
    let left = refs.length;
    const values: WireOutcome[] = new Array(refs.length);
    let done = false;
    const cancels: Array<() => void> = [];
    let timer: Timer | undefined;
    const unblock = block?.();
    const finish = (err?: Error): void => {
      if (done) return;
      done = true;
      clock.clear(timer);
      unblock?.();
      for (const cancel of cancels) cancel();
      if (err) reject(err);
      else {
        try {
          resolve(values.map((o) => objects.decodeOutcome(o)));
        } catch (e) {
          reject(e as Error);
        }
      }
    };
    if (timeoutMs !== undefined) timer = clock.setTimeout(() => finish(new GetTimeoutError(`ray.get timed out after ${timeoutMs} ms`)), timeoutMs);
    refs.forEach((ref, i) => {
      if (done) return;
      cancels.push(
        objects.onOutcome(ref, (out) => {
          values[i] = out;
          if ('e' in out) return finish(decodeError(out.e));
          left -= 1;
          if (left === 0) finish();
        }),
      );
    });
  });
}

function decodeNow(objects: OutcomeSource, out: WireOutcome): Promise<unknown> {
  try {
    return Promise.resolve(objects.decodeOutcome(out));
  } catch (err) {
    return Promise.reject(err as Error);
  }
}

/** The value of one ref (or its error), or GetTimeoutError after `timeoutMs` on `clock`. */
function awaitValue(objects: OutcomeSource, clock: Clock, ref: ObjectRef<unknown>, timeoutMs?: number, block?: BlockHook): Promise<unknown> {
  return new Promise<unknown>((resolve, reject) => {
    let timer: Timer | undefined;
    let settled = false;
    let unblock: (() => void) | undefined;
    const cancel = objects.onOutcome(ref, (out) => {
      settled = true;
      clock.clear(timer);
      unblock?.();
      try {
        resolve(objects.decodeOutcome(out));
      } catch (err) {
        reject(err as Error);
      }
    });
    // The outcome may come at once (a borrowed object whose owner is known dead): no timer then.
    if (!settled) unblock = block?.();
    if (timeoutMs !== undefined && !settled) {
      timer = clock.setTimeout(() => {
        unblock?.();
        cancel();
        reject(new GetTimeoutError(`ray.get timed out after ${timeoutMs} ms waiting for ${ref.id}`));
      }, timeoutMs);
    }
  });
}

/**
 * `ray.wait`: [ready, notReady] in input order. A generator is ready when its next item is
 * available or it has ended.
 */
export function waitFor<W extends ObjectRef<unknown> | ObjectRefGenerator<unknown>>(
  objects: OutcomeSource,
  clock: Clock,
  refs: W[],
  numReturns: number,
  timeoutMs?: number,
  block?: BlockHook,
): Promise<[W[], W[]]> {
  const ready = new Set<number>();
  const split = (): [W[], W[]] => {
    const r: W[] = [];
    const n: W[] = [];
    refs.forEach((ref, i) => (ready.has(i) && r.length < numReturns ? r : n).push(ref));
    return [r, n];
  };
  const isReadyNow = (w: W): boolean =>
    w instanceof ObjectRefGenerator ? (w.source ? w.source.peek() !== 'pending' : true) : objects.isReady((w as ObjectRef<unknown>).id);
  refs.forEach((ref, i) => {
    if (isReadyNow(ref)) ready.add(i);
  });
  if (ready.size >= numReturns || timeoutMs === 0) return Promise.resolve(split());
  return new Promise((resolve) => {
    const cancels: Array<() => void> = [];
    let done = false;
    let timer: Timer | undefined;
    const unblock = block?.();
    const finish = (): void => {
      if (done) return;
      done = true;
      clock.clear(timer);
      unblock?.();
      for (const cancel of cancels) cancel();
      resolve(split());
    };
    const mark = (i: number): void => {
      ready.add(i);
      if (ready.size >= numReturns) finish();
    };
    if (timeoutMs !== undefined) timer = clock.setTimeout(finish, timeoutMs);
    refs.forEach((ref, i) => {
      if (ready.has(i) || done) return;
      if (ref instanceof ObjectRefGenerator) {
        void ref.source?.whenAvailable().then(() => !done && mark(i));
        return;
      }
      cancels.push(objects.onOutcome(ref as ObjectRef<unknown>, () => mark(i)));
    });
    if (done) for (const cancel of cancels) cancel();
  });
}

/**
 * What an argument must wait for before it can be encoded, if anything (an actor handle whose
 * target is not known yet). Set by the API layer, which owns handles.
 */
let argGate: ((value: unknown) => Promise<void> | undefined) | undefined;

/** @internal Tell argument resolution what an argument waits for before it is encoded. */
export function setArgGate(gate: (value: unknown) => Promise<void> | undefined): void {
  argGate = gate;
}

/**
 * Resolve the top-level ObjectRef arguments of a task or actor call to their bytes and encode
 * the rest now (arguments are copied at submission). Calls `then` synchronously when no
 * argument is a ref; a failed ref fails the call with a RayTaskError naming it.
 */
export function resolveArgs(
  objects: ArgEncoder,
  args: unknown[],
  then: (parts: WireArg[] | { error: WireError }) => void,
  functionName: string,
  taskId: TaskId | ActorId,
): void {
  // Every plain argument is encoded before any ref is waited for: a ref that is ready calls
  // back at once, and the last one to resolve hands `resolved` on, which must then be whole.
  const resolved: WireArg[] = new Array(args.length);
  let left = 0;
  let gated: Array<[number, Promise<void>]> | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const gate = isObjectRef(a) ? undefined : argGate?.(a);
    if (gate) (gated ??= []).push([i, gate]);
    if (isObjectRef(a) || gate) left += 1;
    else resolved[i] = objects.encodeArg(a, `args[${i}]`);
  }
  if (left === 0) return then(resolved);
  let failed = false;
  for (const [i, gate] of gated ?? []) {
    void gate.then(() => {
      if (failed) return;
      try {
        resolved[i] = objects.encodeArg(args[i], `args[${i}]`);
      } catch (err) {
        failed = true;
        return then({ error: encodeTaskError(functionName, taskId, err) });
      }
      left -= 1;
      if (left === 0) then(resolved);
    });
  }
  for (let i = 0; i < args.length; i++) {
    const ref = args[i];
    if (!isObjectRef(ref)) continue;
    // The submission holds its arguments: without a pin, dropping the caller's ref could
    // free the entry before the value arrives, and the task would never be submitted.
    objects.pin(ref.id);
    objects.onOutcome(ref, (out) => {
      objects.unpin(ref.id);
      if (failed) return;
      if ('e' in out) {
        failed = true;
        return then({ error: encodeTaskError(functionName, taskId, decodeError(out.e)) });
      }
      objects.noteSent(out.r);
      resolved[i] = out.r ? { d: out.d, r: out.r } : { d: out.d };
      left -= 1;
      if (left === 0) then(resolved);
    });
  }
}
