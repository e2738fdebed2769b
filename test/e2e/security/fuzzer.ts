/**
 * A deterministic fuzzer of raybus messages: from a seed, random bytes, valid messages cut
 * short, valid messages with bytes flipped, and valid messages with a field replaced by a value
 * of another type (the cases a schema check exists for). The valid messages it starts from are
 * harmless even when they pass every check: they name ids nobody uses and queues nobody reads.
 */
import { encodeEnvelope, encodeValue } from '../../../src/serialization/serializer';

/** mulberry32: a small, fast, seeded PRNG (uniform in [0, 1)). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export type Template = Record<string, unknown>;

/** Valid messages per queue kind that do nothing when obeyed (`sink` is a queue nobody reads). */
export function templates(sink: string): Record<string, Template[]> {
  const ctx = { jobId: 'fuzz', namespace: 'fuzz', attempt: 0 };
  return {
    broker: [
      { t: 'cluster-info-request', req: 'fz1', reply: sink },
      { t: 'pg-table', req: 'fz2', reply: sink },
      { t: 'get-actor', req: 'fz3', reply: sink, name: 'nobody', namespace: 'fuzz' },
      { t: 'cancel-lease-request', req: 'fz4' },
      { t: 'return-lease', lease: 'fz@nowhere' },
      { t: 'owner-exit', owner: 'raybus.reply.fuzz-owner' },
      { t: 'actor-failed', actor: 'fuzz-actor', err: { name: 'Error', message: 'fuzz' }, intentional: false, initFailed: false },
      { t: 'kill-actor', actor: 'fuzz-actor', noRestart: true, req: 'fz5', reply: sink },
      { t: 'leases-report', node: 'fuzznode', leases: ['fz@fuzznode'] },
      { t: 'cluster-state-request', req: 'fz6', reply: sink },
    ],
    election: [{ t: 'election-token', candidate: 'fuzz-candidate', n: 1 }],
    node: [
      { t: 'release-lease', lease: 'fz@nowhere' },
      { t: 'kill-worker', lease: 'fz@nowhere', reply: sink, req: 'fz7' },
    ],
    worker: [
      {
        t: 'task',
        task: 'fuzz-task',
        fn: { id: 'fuzz-fn', name: 'fuzz', kind: 'function', source: '() => 1' },
        args: [{ d: encodeValue(1) }],
        nret: 1,
        owner: sink,
        ctx,
        lease: 'fz@nowhere',
      },
    ],
    mailbox: [{ t: 'call', task: 'fuzz-call', method: 'nope', args: [{ d: encodeValue(1) }], nret: 1, owner: sink, ctx, retries: 0 }],
    reply: [
      { t: 'result', task: 'fuzz-task', rets: [{ d: encodeValue(1) }] },
      { t: 'borrow', id: 'fuzz-object', n: 1 },
      { t: 'stream-item', task: 'fuzz-task', seq: 0, out: { d: encodeValue(1) }, from: sink },
      { t: 'lease-lost', lease: 'fz@nowhere', reason: 'fuzz' },
      { t: 'ack', req: 'fz8' },
    ],
    presence: [{ t: 'broker-elected', epoch: 'fuzz-epoch' }, { t: 'probe' }],
  };
}

/** Values of every type, for type confusion. */
const ODD_VALUES: unknown[] = [null, 0, -1, 1e9, 1.5, NaN, '', 'x'.repeat(2000), true, [], [null], {}, { t: 'x' }, new Uint8Array(3), [[[[]]]]];

/** One fuzzed message for a queue whose valid messages look like `pool`. */
export function fuzzMessage(random: () => number, pool: readonly Template[]): Uint8Array {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
  const template = pick(pool);
  const valid = Buffer.from(encodeEnvelope(template));
  switch (Math.floor(random() * 4)) {
    case 0: {
      const n = Math.floor(random() * 600);
      const b = Buffer.alloc(n);
      for (let i = 0; i < n; i++) b[i] = Math.floor(random() * 256);
      // Half of them look like an envelope (a map) to get past the first byte.
      if (n > 0 && random() < 0.5) b[0] = 0x80 + Math.floor(random() * 16);
      return b;
    }
    case 1:
      return valid.subarray(0, Math.floor(random() * valid.length));
    case 2: {
      const b = Buffer.from(valid);
      const flips = 1 + Math.floor(random() * 8);
      for (let i = 0; i < flips; i++) b[Math.floor(random() * b.length)] = Math.floor(random() * 256);
      return b;
    }
    default: {
      const keys = Object.keys(template).filter((k) => k !== 't');
      const msg: Template = { ...template };
      if (keys.length > 0) msg[pick(keys)] = pick(ODD_VALUES);
      if (random() < 0.2) msg.t = pick(['', 'task', 'call', 'result', 'node-register', 42]);
      return encodeEnvelope(msg);
    }
  }
}
