/**
 * Runs user code in a worker: loads the function or class, decodes arguments, runs the call
 * inside its runtime context, and encodes the return values (or the error).
 */
import type { ReplyQueue, TaskId } from '../protocol/ids';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { loadCode, type CodeDescriptor, type CodeOrigin } from '../serialization/code-shipping';
import { decodeValue } from '../serialization/serializer';
import { encodeTaskError } from '../serialization/error-codec';
import type { WireArg, WireOutcome } from '../protocol/wire';
import { slot, type TaskContext } from '../core/runtime-state';
import type { CoreWorker } from '../core/core-worker';
import { isIterator, runGenerator } from './generator-runner';
import { trackRunning } from '../core/running-tasks';
import { flushWorkerOutput, workerExecutions } from './worker-observability';
import { startExecution } from '../observability/tracing';
import { monotonicMs } from '../util/clock';

/**
 * Load code with `ray` and a cwd-relative `require` in scope for by-value sources; `origin`
 * says whether the message it came in was authenticated (code-shipping.ts).
 */
export function load(desc: CodeDescriptor, origin: CodeOrigin): Promise<(...args: never[]) => unknown> {
  return loadCode(desc, { ray: usesRay(desc) ? api() : undefined, require: cwdRequire() }, origin);
}

/** By-value code that may name `ray` (a mention in a string or comment counts too). */
function usesRay(desc: CodeDescriptor): boolean {
  return desc.source !== undefined && /\bray\b/.test(desc.source);
}

/** The public API, loaded on first use where the process did not load it up front. */
function api(): unknown {
  if (slot.api === undefined && slot.loadApi) slot.api = slot.loadApi();
  return slot.api;
}

let requireCache: { cwd: string; require: NodeRequire } | undefined;
/** A `require` resolving from the working directory (remade if the directory changes). */
function cwdRequire(): NodeRequire {
  const cwd = process.cwd();
  if (requireCache?.cwd !== cwd) requireCache = { cwd, require: createRequire(path.join(cwd, 'noop.js')) };
  return requireCache.require;
}

/** Decode arguments that arrived with a task. */
export function decodeArgs(args: WireArg[]): unknown[] {
  return args.map((a) => decodeValue(a.d));
}

/** Encode what a call returned into `nret` outcomes (errors go into every slot). */
function packReturns(core: CoreWorker, value: unknown, nret: number, name: string, taskId: TaskId): WireOutcome[] {
  if (nret === 0) return [];
  try {
    if (nret === 1) return [core.encodeArg(value, 'return value')];
    if (!Array.isArray(value) || value.length !== nret) {
      const got = Array.isArray(value) ? `${value.length} objects` : `a value of type ${typeof value}`;
      throw new RangeError(`Task returned ${got}, but numReturns=${nret}.`);
    }
    return value.map((v, i) => core.encodeArg(v, `return value [${i}]`));
  } catch (err) {
    const e = { e: encodeTaskError(name, taskId, err) };
    return Array.from({ length: nret }, () => e);
  }
}

/** Run `fn` in a task context; resolves to the outcomes. */
export async function runInContext(
  core: CoreWorker,
  ctx: TaskContext,
  name: string,
  nret: number,
  call: () => unknown,
): Promise<WireOutcome[]> {
  let value: unknown;
  try {
    value = await slot.taskContext.run(ctx, call);
  } catch (err) {
    const e = { e: encodeTaskError(name, ctx.taskId, err) };
    return Array.from({ length: Math.max(1, nret) }, () => e);
  }
  return packReturns(core, value, nret, name, ctx.taskId);
}

/** One call to execute: a task, or an actor method (with its context and its function). */
export interface CallSpec {
  readonly taskId: TaskId;
  readonly owner: ReplyQueue;
  readonly name: string;
  /** Number of returns, or NRET_STREAMING / NRET_DYNAMIC (negative) for generators. */
  readonly nret: number;
  readonly bp?: number;
  readonly context: Omit<TaskContext, 'signal'>;
  readonly call: () => unknown;
  /** This worker exits after this call (maxCalls reached): tell the owner with the result. */
  readonly retire?: boolean;
  /** Called right after the result is sent: acknowledging here puts both in one IPC batch. */
  readonly onSent?: () => void;
  /** Report how long the call ran with its result (normal tasks: the owner sizes pipelining by it). */
  readonly timed?: boolean;
  /** Rewrite the outcomes before they are sent (an actor that exited replaces them). */
  readonly transform?: (rets: WireOutcome[]) => WireOutcome[];
  /** An actor method call (its host says so; the state API shows it RUNNING). */
  readonly actorCall?: boolean;
  /** Where the call's output goes: the actor's class and owner (default: `name` and `owner`). */
  readonly log?: { readonly name: string; readonly owner: ReplyQueue; readonly nolog?: boolean };
}

/**
 * The task context with its abort signal, made only if the task asks for it
 * (getRuntimeContext().signal). Built apart from `executeCall`: promises made while the task
 * runs keep its context alive, and a getter closing over `executeCall`'s scope would keep
 * the call, its arguments and the actor handles among them alive with it. A class with the
 * getter on its prototype: defining an accessor on each copy (per call) cost a microsecond and
 * left the context a slow dictionary-mode object.
 */
class CallContext {
  readonly #running: { readonly signal: AbortSignal };

  constructor(context: CallSpec['context'], running: { readonly signal: AbortSignal }) {
    Object.assign(this, context);
    this.#running = running;
  }

  get signal(): AbortSignal {
    return this.#running.signal;
  }
}

function withSignal(context: CallSpec['context'], running: { readonly signal: AbortSignal }): TaskContext {
  return new CallContext(context, running) as unknown as TaskContext;
}

/**
 * Run a call and send its result to the owner: plain returns, or a generator's items as a
 * stream followed by the completion. Resolves once the result was sent.
 */
export async function executeCall(core: CoreWorker, spec: CallSpec): Promise<WireOutcome[]> {
  const running = trackRunning(spec.taskId);
  const executions = workerExecutions();
  const execution = executions?.begin(spec.taskId, spec.name, spec.actorCall === true, spec.log ?? { name: spec.name, owner: spec.owner });
  let failed = false;
  // Submitted with a trace context (tracing on): the call runs in its span (tracing.ts).
  const span = startExecution(spec.name, spec.taskId, spec.actorCall ? 'actor' : 'task', spec.context.tc);
  const call = span ? () => span.run(spec.call) : spec.call;
  const ctx = withSignal(span ? { ...spec.context, tc: span.tc } : spec.context, running);
  try {
    if (spec.nret >= 0) {
      const t0 = spec.timed ? monotonicMs() : 0;
      let rets = await runInContext(core, ctx, spec.name, spec.nret, call);
      if (spec.transform) rets = spec.transform(rets);
      failed = rets.length > 0 && 'e' in rets[0]!;
      // The call's output goes first: its owner prints it before it sees the result.
      flushWorkerOutput();
      core.send(spec.owner, {
        t: 'result',
        task: spec.taskId,
        rets,
        ...(spec.retire ? { retire: true } : {}),
        ...(spec.timed ? { us: Math.round((monotonicMs() - t0) * 1000) } : {}),
      });
      spec.onSent?.();
      return rets;
    }
    const run = await slot.taskContext.run(ctx, async () => {
      let iter: unknown;
      try {
        iter = call();
        if (iter instanceof Promise) iter = await iter;
      } catch (err) {
        return { count: 0, completion: { e: encodeTaskError(spec.name, spec.taskId, err) } as WireOutcome, streamed: false };
      }
      if (!isIterator(iter)) {
        const e = new TypeError(`${spec.name} did not return a generator, but numReturns is streaming/dynamic`);
        return { count: 0, completion: { e: encodeTaskError(spec.name, spec.taskId, e) } as WireOutcome, streamed: false };
      }
      return { ...(await runGenerator(core, { taskId: spec.taskId, owner: spec.owner, name: spec.name, backpressure: spec.bp ?? -1 }, iter)), streamed: true };
    });
    let count = run.count;
    if (!run.streamed) {
      // A failure before the generator started is still delivered as the stream's one item.
      core.send(spec.owner, { t: 'stream-item', task: spec.taskId, seq: 0, out: run.completion, from: core.address });
      count = 1;
    }
    const rets = [run.completion];
    failed = 'e' in run.completion;
    flushWorkerOutput();
    core.send(spec.owner, { t: 'result', task: spec.taskId, rets, n: count, ...(spec.retire ? { retire: true } : {}) });
    spec.onSent?.();
    return rets;
  } finally {
    running.done();
    core.taskEnded(spec.taskId);
    core.forgetChildren(spec.taskId);
    if (execution) executions!.end(execution, failed);
    span?.end(failed);
  }
}
