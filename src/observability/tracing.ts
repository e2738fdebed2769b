/**
 * Tracing with OpenTelemetry, as Ray's `ray.util.tracing` does it: when the application has
 * `@opentelemetry/api` and registered a tracer provider, `.remote()` of a task or an actor
 * method makes a span `<name> ray.remote` (kind PRODUCER, child of the active span), whose W3C
 * `traceparent` travels with the task (`ctx.tc`); the worker runs the call in a span
 * `<name> ray.remote_worker` (kind CONSUMER, child of that one), and what the call submits is
 * its child in turn — across processes and transports.
 *
 * Without the package nothing is loaded: it is required lazily, once, and a failure means
 * tracing is off. A task submitted without a trace context costs the worker nothing. Where
 * no context manager carries the active span across `await`s, the running task's own span
 * (kept in raybus's task context) is the parent of what it submits.
 */

/** The parts of `@opentelemetry/api` used here (typed locally: the package is optional). */
interface SpanContext {
  readonly traceId: string;
  readonly spanId: string;
  readonly traceFlags: number;
  readonly isRemote?: boolean;
}
interface Span {
  spanContext(): SpanContext;
  setStatus(status: { code: number; message?: string }): unknown;
  end(): void;
}
type Attributes = Record<string, string | number | boolean>;
interface Tracer {
  startSpan(name: string, options: { kind: number; attributes: Attributes }, context: unknown): Span;
}
interface TracerProvider {
  getTracer(name: string, version?: string): Tracer;
  /** The global proxy's: undefined while no provider is registered. */
  getDelegateTracer?(name: string, version?: string): Tracer | undefined;
}
interface OtelApi {
  readonly trace: {
    getTracerProvider(): TracerProvider;
    getSpan(context: unknown): Span | undefined;
    setSpan(context: unknown, span: Span): unknown;
    setSpanContext(context: unknown, spanContext: SpanContext): unknown;
  };
  readonly context: { active(): unknown; with<A>(context: unknown, fn: () => A): A };
  readonly ROOT_CONTEXT: unknown;
  readonly SpanKind: { readonly PRODUCER: number; readonly CONSUMER: number };
  readonly SpanStatusCode: { readonly ERROR: number };
  isSpanContextValid(spanContext: SpanContext): boolean;
}

const TRACER_NAME = 'raybus';
/** `null`: tried, not installed. */
let api: OtelApi | null | undefined;

function load(): OtelApi | null {
  if (api === undefined) {
    try {
      // Resolved from raybus's own location: the application's copy when it installed one.
      api = require('@opentelemetry/api') as OtelApi;
    } catch {
      api = null;
    }
  }
  return api;
}

/** The registered provider's tracer; undefined while none is registered. */
function tracer(a: OtelApi): Tracer | undefined {
  const provider = a.trace.getTracerProvider();
  return provider.getDelegateTracer ? provider.getDelegateTracer(TRACER_NAME) : provider.getTracer(TRACER_NAME);
}

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/** A span context as a W3C `traceparent` header value. */
export function formatTraceparent(sc: SpanContext): string {
  return `00-${sc.traceId}-${sc.spanId}-${(sc.traceFlags & 0xff).toString(16).padStart(2, '0')}`;
}

/** The span context a `traceparent` names (undefined when malformed or all zeros). */
export function parseTraceparent(tc: string): SpanContext | undefined {
  const m = TRACEPARENT.exec(tc);
  if (!m || /^0+$/.test(m[1]!) || /^0+$/.test(m[2]!)) return undefined;
  return { traceId: m[1]!, spanId: m[2]!, traceFlags: parseInt(m[3]!, 16), isRemote: true };
}

function remote(a: OtelApi, tc: string): unknown {
  const sc = parseTraceparent(tc);
  return sc ? a.trace.setSpanContext(a.ROOT_CONTEXT, sc) : a.ROOT_CONTEXT;
}

/**
 * A task or actor call is being submitted: its `<name> ray.remote` span (ended at once: it
 * covers the submission), and the `traceparent` to send with it. `inherited`: the trace
 * context of the task running here, if any (the parent when no span is active).
 */
export function submitSpan(name: string, taskId: string, kind: 'task' | 'actor', inherited: string | undefined): string | undefined {
  const a = load();
  if (!a) return inherited;
  const active = a.context.active();
  const activeSpan = a.trace.getSpan(active);
  const t = tracer(a);
  if (!t) {
    // No provider here: pass on what there is, so the workers' spans still join the trace.
    const sc = activeSpan?.spanContext();
    return sc && a.isSpanContextValid(sc) ? formatTraceparent(sc) : inherited;
  }
  const parent = activeSpan || inherited === undefined ? active : remote(a, inherited);
  const span = t.startSpan(`${name} ray.remote`, { kind: a.SpanKind.PRODUCER, attributes: { 'ray.remote': kind, 'ray.function': name, 'ray.task_id': taskId } }, parent);
  span.end();
  const sc = span.spanContext();
  return a.isSpanContextValid(sc) ? formatTraceparent(sc) : inherited;
}

/** A call running in its `ray.remote_worker` span. */
export interface ExecutionSpan {
  /** The trace context what the call submits is a child of. */
  readonly tc: string;
  /** Run `fn` with the span active. */
  run<T>(fn: () => T): T;
  end(failed: boolean): void;
}

/**
 * A worker starts a call submitted with trace context `tc`: its `<name> ray.remote_worker`
 * span (undefined when the call came without one: nothing to do).
 */
export function startExecution(name: string, taskId: string, kind: 'task' | 'actor', tc: string | undefined): ExecutionSpan | undefined {
  if (tc === undefined) return undefined;
  const a = load();
  if (!a) return undefined;
  const parent = remote(a, tc);
  const t = tracer(a);
  if (!t) return { tc, run: (fn) => a.context.with(parent, fn), end: () => undefined };
  const span = t.startSpan(`${name} ray.remote_worker`, { kind: a.SpanKind.CONSUMER, attributes: { 'ray.remote': kind, 'ray.function': name, 'ray.task_id': taskId, 'process.pid': process.pid } }, parent);
  const ctx = a.trace.setSpan(parent, span);
  return {
    tc: formatTraceparent(span.spanContext()),
    run: (fn) => a.context.with(ctx, fn),
    end: (failed) => {
      if (failed) span.setStatus({ code: a.SpanStatusCode.ERROR, message: `${name} failed` });
      span.end();
    },
  };
}
