/**
 * The transport conformance suite: what every Transport (src/transport/transport.ts) must do
 * for raybus to run on it — the in-memory bus, RabbitMQ, NATS, the worker's IPC link, and
 * yours. It declares its cases with the test runner you give it (node:test, jest, vitest) and
 * asserts with node:assert, so an adapter's author runs it wherever their tests live.
 *
 * Each case gets two fresh, connected transports to the same bus from your factory (two
 * connections), and closes them after. Negative checks ("nothing more arrives") are made
 * after a sentinel message or a bus round trip, never after a sleep. A case may take up to
 * 20 s (a lease expiring, a broker redelivering): give your runner's timeout more (jest and
 * vitest: `testTimeout: 30000`; node:test has none by default).
 *
 * Capabilities: a transport may say what it cannot do (`transport.capabilities`); one without
 * that property is taken to have everything, as the in-memory bus and RabbitMQ do. Cases that
 * need a capability run only where it is declared; where it is missing, a case checks what
 * the transport does instead (it refuses, or redelivers later). Runners declare cases before
 * any transport exists, so a transport with `capabilities` passes them in the options, and a
 * case checks the connected transports report the same.
 *
 * @example
 * // node:test
 * import { describe, it, before, after } from 'node:test';
 * import { createTransport } from 'raybus';
 * import { describeTransport } from 'raybus/testing';
 * describeTransport('mybus', async () => ({
 *   a: createTransport('mybus://localhost'), b: createTransport('mybus://localhost'), cleanup: async () => {},
 * }), { describe, it, before, after });
 */
import assert from 'node:assert/strict';
import { activeHandles, extraHandles, uniqueName, ALL_CAPABILITIES, type CaseContext, type ConformanceCase, type SuiteCapabilities, type TestRunner, type TransportPair } from './helpers';
import { DELIVERY_CASES } from './delivery-cases';
import { BUS_CASES } from './bus-cases';
import type { QueueOptions, Subscription } from '../../transport/transport';

export { Inbox, str, text, u32, readU32, uniqueName, ALL_CAPABILITIES, type SuiteCapabilities, type TestRunner, type TransportPair } from './helpers';

/** Options of {@link describeTransport}. */
export interface ConformanceOptions {
  /**
   * What the transport reports as `transport.capabilities` (omit for a transport without
   * that property: everything). Decides which capability-specific cases run.
   */
  readonly capabilities?: SuiteCapabilities;
  /**
   * Titles of cases this transport is known to fail. They run inverted — passing while the
   * case fails, failing once it passes (then remove the entry) — so the suite stays green
   * while the defect is recorded. Say why beside each entry.
   */
  readonly knownFailures?: readonly string[];
}

/** Longest a case may take. */
const CASE_TIMEOUT_MS = 20_000;

/** Every case of the suite, in order. */
export const CONFORMANCE_CASES: readonly ConformanceCase[] = [...DELIVERY_CASES, ...BUS_CASES];

/**
 * Declare the conformance suite for the transports `factory` makes, with `runner`'s
 * functions. The factory returns two not-yet-connected transports to the same bus.
 */
export function describeTransport(name: string, factory: () => Promise<TransportPair>, runner: TestRunner, options: ConformanceOptions = {}): void {
  const declared = options.capabilities ?? ALL_CAPABILITIES;
  const known = new Set(options.knownFailures ?? []);
  for (const title of known) {
    if (!CONFORMANCE_CASES.some((c) => c.title === title)) throw new RangeError(`describeTransport: knownFailures names no case: '${title}'`);
  }
  runner.describe(`Transport conformance: ${name}`, () => {
    let baseline: Map<string, number> | undefined;
    runner.before?.(async () => {
      baseline = activeHandles();
      // Fail fast, with one clear message, when the bus cannot be reached at all.
      const pair = await factory();
      try {
        await pair.a.connect();
      } finally {
        await pair.a.close().catch(() => undefined);
        await pair.b.close().catch(() => undefined);
        await pair.cleanup();
      }
    });
    runner.after?.(async () => {
      if (!baseline) return;
      const deadline = Date.now() + 5000;
      while (extraHandles(baseline).length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      assert.deepStrictEqual(extraHandles(baseline), [], 'the transports left handles open (sockets, timers) after every case closed them');
    });
    for (const c of CONFORMANCE_CASES) {
      const run = (): Promise<void> => runCase(c, factory, declared);
      // A case for a capability the bus does not declare is not one of its tests (the suite
      // has cases for how a bus without it must behave): it is left out, not skipped.
      if (c.when && !c.when(declared)) continue;
      if (known.has(c.title)) {
        runner.it(`${c.title} [known failure]`, async () => {
          const passed = await run().then(
            () => true,
            () => false,
          );
          assert.equal(passed, false, `'${c.title}' passes now: remove it from knownFailures`);
        });
      } else {
        runner.it(c.title, run);
      }
    }
  });
}

/** Run one case on a fresh pair, and release everything it made. */
async function runCase(c: ConformanceCase, factory: () => Promise<TransportPair>, declared: SuiteCapabilities): Promise<void> {
  const pair = await factory();
  const { a, b } = pair;
  const queues: string[] = [];
  const subscriptions: Subscription[] = [];
  const ctx: CaseContext = {
    a,
    b,
    declared,
    factory,
    queues,
    subscriptions,
    async queue(label: string, options?: QueueOptions): Promise<string> {
      const q = uniqueName(label);
      queues.push(q);
      await a.assertQueue(q, options);
      return q;
    },
    async consume(t, q, handler, prefetch): Promise<Subscription> {
      const s = await t.consume(q, handler, { prefetch });
      subscriptions.push(s);
      return s;
    },
    async roundTrips(t, q, options): Promise<void> {
      await t.assertQueue(q, options);
      await t.assertQueue(q, options);
      await new Promise<void>((resolve) => setImmediate(resolve));
    },
  };
  let timer: NodeJS.Timeout | undefined;
  try {
    await a.connect();
    await b.connect();
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`'${c.title}' did not finish within ${CASE_TIMEOUT_MS} ms`)), CASE_TIMEOUT_MS);
    });
    await Promise.race([c.run(ctx), timeout]);
  } finally {
    clearTimeout(timer);
    for (const s of subscriptions) await s.cancel().catch(() => undefined);
    for (const q of queues) await a.deleteQueue(q).catch(() => b.deleteQueue(q)).catch(() => undefined);
    await a.close().catch(() => undefined);
    await b.close().catch(() => undefined);
    await pair.cleanup();
  }
}
