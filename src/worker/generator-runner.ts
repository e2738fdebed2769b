/**
 * Producer side of a generator task or actor method: iterates the user's (async) generator,
 * sends each value to the owner as a `stream-item` with its sequence number, pauses while
 * `backpressure` items are unconsumed, and stops when the owner cancels. A caller that goes
 * away never leaves the producer paused: releasing the stream (or the owner's generator being
 * collected) lifts backpressure.
 */
import type { ReplyQueue, TaskId } from '../protocol/ids';
import type { CoreWorker } from '../core/core-worker';
import type { WireOutcome } from '../protocol/wire';
import { encodeError, encodeTaskError } from '../serialization/error-codec';
import { TaskCancelledError } from '../errors/ray-errors';

interface ActiveStream {
  consumed: number;
  released: boolean;
  cancelled: boolean;
  wake?: () => void;
}

const active = new Map<string, ActiveStream>();

/** Route stream control messages (from the owner) to the running producer. */
function onStreamControl(msg: { t: string; task: TaskId; consumed?: number }): void {
  const s = active.get(msg.task);
  if (!s) return;
  if (msg.t === 'stream-ack') s.consumed = Math.max(s.consumed, msg.consumed ?? 0);
  else if (msg.t === 'stream-release') s.released = true;
  else if (msg.t === 'stream-cancel') s.cancelled = true;
  s.wake?.();
}

/** Route the owners' stream control messages on `core`'s reply queue to the producers here. */
export function routeStreamControl(core: Pick<CoreWorker, 'registerReplyHandler'>): void {
  core.registerReplyHandler('stream-ack', onStreamControl);
  core.registerReplyHandler('stream-release', onStreamControl);
  core.registerReplyHandler('stream-cancel', onStreamControl);
}

/** What a finished producer reports. */
export interface GeneratorRun {
  /** Items sent, the error item included. */
  readonly count: number;
  /** The task's completion outcome: ok, or the error that ended it. */
  readonly completion: WireOutcome;
}

/** True for (async) iterators as returned by calling a generator function. */
export function isIterator(v: unknown): v is AsyncIterator<unknown> | Iterator<unknown> {
  return typeof v === 'object' && v !== null && typeof (v as { next?: unknown }).next === 'function';
}

/** Drive `iter`, streaming each value to `owner`. */
export async function runGenerator(
  core: CoreWorker,
  opts: { taskId: TaskId; owner: ReplyQueue; name: string; backpressure: number },
  iter: AsyncIterator<unknown> | Iterator<unknown>,
): Promise<GeneratorRun> {
  const state: ActiveStream = { consumed: 0, released: false, cancelled: false };
  active.set(opts.taskId, state);
  let seq = 0;
  const send = (out: WireOutcome): void => {
    core.send(opts.owner, { t: 'stream-item', task: opts.taskId, seq, out, from: core.address });
    seq += 1;
  };
  try {
    for (;;) {
      if (state.cancelled) {
        const err = { e: encodeError(new TaskCancelledError(opts.taskId, `Task: ${opts.taskId} was cancelled`)) };
        send(err);
        await closeQuietly(iter);
        return { count: seq, completion: err };
      }
      let step: IteratorResult<unknown>;
      try {
        step = await iter.next();
      } catch (err) {
        const e = { e: encodeTaskError(opts.name, opts.taskId, err) };
        send(e);
        return { count: seq, completion: e };
      }
      if (step.done) return { count: seq, completion: { d: core.encodeArg(null, 'completion').d } };
      let out: WireOutcome;
      try {
        out = core.encodeArg(step.value, `yielded value ${seq}`);
      } catch (err) {
        const e = { e: encodeTaskError(opts.name, opts.taskId, err) };
        send(e);
        await closeQuietly(iter);
        return { count: seq, completion: e };
      }
      send(out);
      while (opts.backpressure > 0 && !state.released && !state.cancelled && seq - state.consumed >= opts.backpressure) {
        await new Promise<void>((resolve) => (state.wake = resolve));
        state.wake = undefined;
      }
    }
  } finally {
    active.delete(opts.taskId);
  }
}

async function closeQuietly(iter: AsyncIterator<unknown> | Iterator<unknown>): Promise<void> {
  try {
    await iter.return?.();
  } catch {
    /* the generator's own cleanup failed: the stream already ended */
  }
}
