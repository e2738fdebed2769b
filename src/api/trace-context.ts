/**
 * The trace context a submission carries (observability/tracing.ts): the `ray.remote` span's
 * `traceparent` when OpenTelemetry tracing is on, else nothing.
 */
import { slot } from '../core/runtime-state';
import { submitSpan } from '../observability/tracing';

const NONE: { tc?: string } = Object.freeze({});

/** `{ tc }` to spread into a task's context, or `{}` when tracing is off. */
export function traceContext(name: string, taskId: string, kind: 'task' | 'actor'): { tc?: string } {
  const tc = submitSpan(name, taskId, kind, slot.taskContext.getStore()?.tc);
  return tc === undefined ? NONE : { tc };
}
