/**
 * Runs user code in a worker: loads the function or class, decodes arguments, runs the call
 * inside its runtime context, and encodes the return values (or the error).
 */
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { loadCode, type CodeDescriptor } from '../serialization/code-shipping';
import { decodeValue } from '../serialization/serializer';
import { encodeTaskError } from '../serialization/error-codec';
import type { WireArg, WireOutcome } from '../core/protocol';
import { slot, type TaskContext } from '../core/runtime-state';
import type { CoreWorker } from '../core/core-worker';

/** Load code with `ray` and a cwd-relative `require` in scope for by-value sources. */
export function load(desc: CodeDescriptor): Promise<(...args: never[]) => unknown> {
  return loadCode(desc, { ray: slot.api, require: createRequire(path.join(process.cwd(), 'noop.js')) });
}

/** Decode arguments that arrived with a task. */
export function decodeArgs(args: WireArg[]): unknown[] {
  return args.map((a) => decodeValue(a.d));
}

/** Encode what a call returned into `nret` outcomes (errors go into every slot). */
export function packReturns(core: CoreWorker, value: unknown, nret: number, name: string, taskId: string): WireOutcome[] {
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
