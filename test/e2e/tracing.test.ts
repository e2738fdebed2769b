/**
 * Tracing with OpenTelemetry, end to end (as Ray's python/ray/tests/test_tracing.py checks its
 * `ray.util.tracing`): with a tracer provider registered in the driver and in the workers
 * (a module of the runtime env registers one that writes spans to a file), a driver span is the
 * parent of `.remote()`'s `ray.remote` span, that one of the worker's `ray.remote_worker` span,
 * and that one of what the task submits in turn — one trace across processes, on the embedded
 * bus and on RabbitMQ.
 */
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import type * as Ray from '../../src/index';
import type * as Testing from '../../src/testing/index';
import { AMQP_TEST_URL, describeWithBroker } from '../conformance/amqp-broker';
import { lockAmqpSuites } from './amqp-e2e-helpers';
import { waitUntil } from '../support/wait-until';

const ray: typeof Ray = require('raybus');
const { Cluster }: typeof Testing = require('raybus/testing');

jest.setTimeout(120_000);
const T = { timeoutMs: 60_000 };
const FIXTURE = path.resolve(__dirname, '../fixtures/otel-spans-to-file.js');

interface SpanLine {
  name: string;
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  pid?: number;
}

const exporter = new InMemorySpanExporter();
let dir: string;

beforeAll(() => {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }));
  dir = mkdtempSync(path.join(os.tmpdir(), 'raybus-tracing-'));
});

afterAll(() => {
  trace.disable();
  context.disable();
  rmSync(dir, { recursive: true, force: true });
});

/** Run a traced workload; returns every span (the driver's and the workers'). */
async function tracedRun(spansFile: string): Promise<{ all: SpanLine[]; driverPid: number }> {
  exporter.reset();
  const parent = ray.remote(async function parent() {
    const child = ray.remote(function child() {
      return process.pid;
    });
    return ray.get(child.remote());
  });
  const Echo = ray.remote(
    class Echo {
      say(x: string): string {
        return x;
      }
    },
  );
  const echo = Echo.remote();
  await trace.getTracer('test').startActiveSpan('driver', async (span) => {
    await ray.get(parent.remote(), T);
    expect(await ray.get(echo.say.remote('hi'), T)).toBe('hi');
    span.end();
  });
  const names = ['parent ray.remote_worker', 'child ray.remote', 'child ray.remote_worker', 'Echo.say ray.remote_worker'];
  let workers: SpanLine[] = [];
  await waitUntil(async () => {
    workers = existsSync(spansFile)
      ? readFileSync(spansFile, 'utf8')
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l) as SpanLine)
      : [];
    return names.every((n) => workers.some((s) => s.name === n));
  }, 30_000);
  const driver = exporter.getFinishedSpans().map((s) => ({ name: s.name, traceId: s.spanContext().traceId, spanId: s.spanContext().spanId, parentSpanId: s.parentSpanContext?.spanId, pid: process.pid }));
  await ray.kill(echo);
  return { all: [...driver, ...workers], driverPid: process.pid };
}

function expectChain(all: SpanLine[], driverPid: number): void {
  const one = (name: string): SpanLine => {
    const found = all.filter((s) => s.name === name);
    expect(found.map((s) => s.name)).toEqual([name]);
    return found[0]!;
  };
  const root = one('driver');
  const submit = one('parent ray.remote');
  const run = one('parent ray.remote_worker');
  const nestedSubmit = one('child ray.remote');
  const nestedRun = one('child ray.remote_worker');
  const call = one('Echo.say ray.remote');
  const callRun = one('Echo.say ray.remote_worker');
  expect(submit.parentSpanId).toBe(root.spanId);
  expect(run.parentSpanId).toBe(submit.spanId);
  expect(nestedSubmit.parentSpanId).toBe(run.spanId);
  expect(nestedRun.parentSpanId).toBe(nestedSubmit.spanId);
  expect(call.parentSpanId).toBe(root.spanId);
  expect(callRun.parentSpanId).toBe(call.spanId);
  for (const s of [submit, run, nestedSubmit, nestedRun, call, callRun]) expect(s.traceId).toBe(root.traceId);
  // The task ran in a worker process, not in the driver.
  expect(run.pid).not.toBe(driverPid);
  expect(nestedRun.pid).not.toBe(driverPid);
}

describe('tracing on the embedded bus', () => {
  afterAll(async () => {
    await ray.shutdown();
  });

  test('a driver span is the parent of its tasks, theirs of their children, across processes', async () => {
    const spansFile = path.join(dir, 'embedded.jsonl');
    await ray.init({ numCpus: 2, runtimeEnv: { modules: [FIXTURE], envVars: { RAYBUS_TEST_SPANS_FILE: spansFile } } });
    const { all, driverPid } = await tracedRun(spansFile);
    expectChain(all, driverPid);
  });
});

describeWithBroker('tracing on RabbitMQ', () => {
  let cluster: Testing.Cluster;
  let unlock: () => void = () => undefined;

  beforeAll(async () => {
    unlock = await lockAmqpSuites();
    cluster = await Cluster.start({ address: AMQP_TEST_URL, nodes: [{ numCpus: 2 }] });
  }, 120_000);

  afterAll(async () => {
    await ray.shutdown().catch(() => undefined);
    await cluster?.shutdown();
    unlock();
  }, 60_000);

  test('the trace context travels in the task messages through the broker', async () => {
    const spansFile = path.join(dir, 'rabbitmq.jsonl');
    await ray.init({ address: cluster.address, runtimeEnv: { modules: [FIXTURE], envVars: { RAYBUS_TEST_SPANS_FILE: spansFile } } });
    const { all, driverPid } = await tracedRun(spansFile);
    expectChain(all, driverPid);
  });
});
