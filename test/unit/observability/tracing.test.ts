/**
 * Tracing's parts (Ray's python/ray/util/tracing/tracing_helper.py does the same with its
 * `_ray_trace_ctx`): W3C traceparent written and read back; without @opentelemetry/api, or
 * without a registered provider, submissions pass on what they inherited and nothing records;
 * with a provider, the `ray.remote` span is a child of the active span, and the worker's
 * `ray.remote_worker` span a child of the context that travelled.
 */
import { context, trace } from '@opentelemetry/api';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { formatTraceparent, parseTraceparent, startExecution, submitSpan } from '../../../src/observability/tracing';

const TC = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';

test('traceparent round trip; malformed or all-zero ids are no context', () => {
  const sc = parseTraceparent(TC)!;
  expect(sc).toEqual({ traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', traceFlags: 1, isRemote: true });
  expect(formatTraceparent(sc)).toBe(TC);
  expect(parseTraceparent('00-00000000000000000000000000000000-b7ad6b7169203331-01')).toBeUndefined();
  expect(parseTraceparent('00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01')).toBeUndefined();
  expect(parseTraceparent('not a traceparent')).toBeUndefined();
});

test('without @opentelemetry/api nothing is loaded: submissions pass on what they inherited, workers do nothing', () => {
  jest.isolateModules(() => {
    jest.doMock('@opentelemetry/api', () => {
      throw new Error("Cannot find module '@opentelemetry/api'");
    });
    const t = require('../../../src/observability/tracing') as typeof import('../../../src/observability/tracing');
    expect(t.submitSpan('f', 'task1', 'task', undefined)).toBeUndefined();
    expect(t.submitSpan('f', 'task1', 'task', TC)).toBe(TC);
    expect(t.startExecution('f', 'task1', 'task', TC)).toBeUndefined();
    jest.dontMock('@opentelemetry/api');
  });
});

test('with the package but no provider: no span, the inherited context goes on', () => {
  expect(submitSpan('f', 't', 'task', undefined)).toBeUndefined();
  expect(submitSpan('f', 't', 'task', TC)).toBe(TC);
  const run = startExecution('f', 't', 'task', TC)!;
  expect(run.tc).toBe(TC);
  expect(run.run(() => 42)).toBe(42);
  // A call submitted without a context costs the worker nothing.
  expect(startExecution('f', 't', 'task', undefined)).toBeUndefined();
});

describe('with a provider', () => {
  const exporter = new InMemorySpanExporter();
  beforeAll(() => {
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }));
  });
  afterAll(() => {
    trace.disable();
    context.disable();
  });
  beforeEach(() => exporter.reset());

  test('the ray.remote span is a child of the active span, and what travels names it', () => {
    const tc = trace.getTracer('t').startActiveSpan('driver', (root) => {
      const out = submitSpan('f', 'task1', 'task', undefined);
      root.end();
      return out;
    })!;
    const [submit, root] = exporter.getFinishedSpans();
    expect(submit!.name).toBe('f ray.remote');
    expect(submit!.attributes).toMatchObject({ 'ray.function': 'f', 'ray.task_id': 'task1', 'ray.remote': 'task' });
    expect(submit!.parentSpanContext?.spanId).toBe(root!.spanContext().spanId);
    expect(parseTraceparent(tc)).toMatchObject({ traceId: root!.spanContext().traceId, spanId: submit!.spanContext().spanId });
  });

  test("the worker's span is a child of the travelled context; what it submits, its child (even with no span active)", () => {
    const run = startExecution('f', 'task1', 'task', TC)!;
    const nested = run.run(() => submitSpan('g', 'task2', 'task', undefined));
    // Outside the span's scope (after an await, without a context manager): the task's own context.
    const later = submitSpan('h', 'task3', 'actor', run.tc);
    run.end(true);
    const spans = new Map(exporter.getFinishedSpans().map((s) => [s.name, s]));
    const worker = spans.get('f ray.remote_worker')!;
    expect(worker.parentSpanContext?.spanId).toBe('b7ad6b7169203331');
    expect(worker.spanContext().traceId).toBe('0af7651916cd43dd8448eb211c80319c');
    expect(worker.status.code).toBe(2);
    expect(spans.get('g ray.remote')!.parentSpanContext?.spanId).toBe(worker.spanContext().spanId);
    expect(spans.get('h ray.remote')!.parentSpanContext?.spanId).toBe(worker.spanContext().spanId);
    expect(parseTraceparent(nested!)!.traceId).toBe('0af7651916cd43dd8448eb211c80319c');
    expect(parseTraceparent(later!)!.spanId).toBe(spans.get('h ray.remote')!.spanContext().spanId);
  });
});
