/**
 * What the transport conformance cases are made of: the test runner's functions (any of
 * node:test, jest, vitest), the context each case runs in, and small helpers — an inbox that
 * waits for deliveries, byte helpers, handle counting, and a structural equality check. No
 * test runner globals: assertions are node:assert.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { Delivery, QueueOptions, Subscription, Transport } from '../../transport/transport';

/**
 * The functions of the test runner the suite declares its cases with: node:test's
 * `{ describe, it, before, after }`, jest's `{ describe, it, before: beforeAll, after: afterAll }`,
 * vitest's `{ describe, it, before: beforeAll, after: afterAll }`.
 */
export interface TestRunner {
  describe(name: string, body: () => void): unknown;
  it: (name: string, fn: () => Promise<void>) => unknown;
  /** Runs once before the cases: the suite checks the transport connects at all. */
  before?(fn: () => Promise<void>): unknown;
  /** Runs once after the cases: the suite checks nothing was left open. */
  after?(fn: () => Promise<void>): unknown;
}

/** What a transport factory hands the suite: two connections to the same bus, not yet connected. */
export interface TransportPair {
  readonly a: Transport;
  readonly b: Transport;
  /** Release anything the factory made beyond the two transports (both are closed by then). */
  cleanup(): Promise<void>;
}

/** What a transport says it can do (`transport.capabilities`); absent means everything. */
export interface SuiteCapabilities {
  /** `singleActiveConsumer` queues are honoured (otherwise declaring one must be refused). */
  readonly singleActiveConsumer: boolean;
  /** A message nacked with requeue comes back before the messages queued behind it. */
  readonly requeueAtHead: boolean;
  /** `expiresMs` deletes unused queues. */
  readonly queueExpiry: boolean;
  /** Largest body accepted; larger ones are refused. */
  readonly maxMessageBytes: number;
  /** The transport has `acquireLease(name, ttlMs)`. */
  readonly leases?: boolean;
}

/** The in-memory bus's (and RabbitMQ's) capabilities: what a transport without `capabilities` is taken to have. */
export const ALL_CAPABILITIES: SuiteCapabilities = Object.freeze({
  singleActiveConsumer: true,
  requeueAtHead: true,
  queueExpiry: true,
  maxMessageBytes: Infinity,
  leases: false,
});

/** The capabilities `t` reports, or the full set. */
export function reportedCapabilities(t: Transport): SuiteCapabilities {
  return (t as { capabilities?: SuiteCapabilities }).capabilities ?? ALL_CAPABILITIES;
}

/** How long one awaited event may take before the case fails with a description. */
export const WAIT_MS = 5_000;

/** A unique queue or topic name for one case. */
export function uniqueName(label: string): string {
  return `raybus.test.${label}.${randomBytes(5).toString('hex')}`;
}

/** Collects values pushed by a handler; `waitFor(n)` resolves once n have arrived. */
export class Inbox<T> {
  readonly items: T[] = [];
  private waiters: Array<{ count: number; resolve: () => void }> = [];

  readonly push = (item: T): void => {
    this.items.push(item);
    this.waiters = this.waiters.filter((w) => {
      if (this.items.length < w.count) return true;
      w.resolve();
      return false;
    });
  };

  waitFor(count: number, what: string, ms = WAIT_MS): Promise<T[]> {
    if (this.items.length >= count) return Promise.resolve(this.items);
    return new Promise<T[]>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new Error(`timed out after ${ms} ms waiting for ${count} ${what}; got ${this.items.length}`));
      }, ms);
      const waiter = {
        count,
        resolve: () => {
          clearTimeout(timer);
          resolve(this.items);
        },
      };
      this.waiters.push(waiter);
    });
  }
}

export function text(value: string): Uint8Array {
  return new TextEncoder().encode(value);
}

export function str(body: Uint8Array): string {
  return new TextDecoder().decode(body);
}

export function u32(n: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, n);
  return out;
}

export function readU32(body: Uint8Array): number {
  return new DataView(body.buffer, body.byteOffset, body.byteLength).getUint32(0);
}

/** Kinds of active handles (sockets, timers) in this process, counted. */
export function activeHandles(): Map<string, number> {
  const counts = new Map<string, number>();
  for (const kind of process.getActiveResourcesInfo()) counts.set(kind, (counts.get(kind) ?? 0) + 1);
  return counts;
}

/** The handles beyond `baseline`, e.g. `['TCPWRAP x1']`. */
export function extraHandles(baseline: Map<string, number>): string[] {
  const extra: string[] = [];
  for (const [kind, n] of activeHandles()) if (n > (baseline.get(kind) ?? 0)) extra.push(`${kind} x${n - (baseline.get(kind) ?? 0)}`);
  return extra;
}

/** Plain data for comparison: objects of any prototype as plain objects, bytes as arrays. */
function plain(v: unknown): unknown {
  if (v instanceof Uint8Array) return Array.from(v);
  if (Array.isArray(v)) return v.map(plain);
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]));
  return v;
}

/** Deep equality of data, whatever the objects' prototypes (headers of a client library, say). */
export function eq(actual: unknown, expected: unknown, message?: string): void {
  assert.deepStrictEqual(plain(actual), plain(expected), message);
}

/** A rejection whose error has `code`. */
export async function rejectsWithCode(p: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.equal((err as { code?: unknown }).code, code, `expected an error with code ${code}, got ${String((err as Error)?.message ?? err)}`);
    return true;
  });
}

/** What one case works with: two connected transports and helpers that clean up after it. */
export interface CaseContext {
  readonly a: Transport;
  readonly b: Transport;
  /** The capabilities the suite was declared with. */
  readonly declared: SuiteCapabilities;
  /** Make a fresh pair (cases about connecting and closing). */
  readonly factory: () => Promise<TransportPair>;
  /** Declare a fresh queue on `a` (deleted after the case). */
  queue(label: string, options?: QueueOptions): Promise<string>;
  /** Queues the case declared itself (deleted after it). */
  readonly queues: string[];
  /** Consume (cancelled after the case). */
  consume(t: Transport, q: string, handler: (d: Delivery) => void, prefetch: number): Promise<Subscription>;
  /** Subscriptions cancelled after the case. */
  readonly subscriptions: Subscription[];
  /** Messages `t`'s consumers would have been sent by now have arrived after two bus round trips. */
  roundTrips(t: Transport, q: string, options?: QueueOptions): Promise<void>;
}

/** One case of the suite. */
export interface ConformanceCase {
  readonly title: string;
  /** Run only where the declared capabilities allow (left out of the suite elsewhere). */
  readonly when?: (declared: SuiteCapabilities) => boolean;
  run(c: CaseContext): Promise<void>;
}
