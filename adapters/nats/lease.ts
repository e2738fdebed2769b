/**
 * Leases for leader election where single-active consumers are missing, on a JetStream KV
 * bucket (stream `KV_<bucket>`, subjects `$KV.<bucket>.<key>`, one message kept per key), with
 * the KV operations done by hand on `@nats-io/jetstream` so that nothing beyond it is needed:
 *
 * - acquire = KV create: publish with `Nats-Expected-Last-Subject-Sequence: 0`, which only
 *   succeeds while the key holds nothing (or, in a second step, a delete marker);
 * - renew = KV update: publish expecting the revision this holder wrote last;
 * - release = a delete marker (`KV-Operation: DEL`) expecting that revision.
 *
 * NATS 2.9 has no per-key TTL, so the time to live is the bucket's `max_age`: one bucket per
 * TTL, and a lease expires `ttlMs` after its last renewal, when the server removes the message.
 */
import { randomUUID } from 'node:crypto';
import { DiscardPolicy, StorageType } from '@nats-io/jetstream';
import { headers as natsHeaders } from '@nats-io/transport-node';
import type { ConnectionManager, Link } from './connection';
import { apiErrorCode, JS_ERR, NatsTransportError } from './errors';
import { kvStream, kvSubject, type Naming } from './naming';
import type { TransportLease } from '../../src/transport/transport';
import { refused } from './topology';

/** Shortest TTL: the server's smallest `max_age` (100 ms). */
const MIN_LEASE_TTL_MS = 100;
const MAX_LEASE_TTL_MS = 24 * 60 * 60 * 1000;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** `missing`: no stream stores the subject (the bucket was deleted). */
type Written = { ok: true; seq: number } | { ok: false; missing?: boolean };

export class Leases {
  private readonly buckets = new Map<number, Promise<void>>();
  private readonly held = new Set<KvLease>();

  constructor(
    private readonly manager: ConnectionManager,
    private readonly naming: Naming,
  ) {}

  async acquire(name: string, ttlMs: number): Promise<TransportLease | null> {
    if (typeof name !== 'string' || name.length === 0) throw new NatsTransportError('INVALID_ARGUMENT', 'raybus nats: a lease name must be a non-empty string');
    if (!Number.isInteger(ttlMs) || ttlMs < MIN_LEASE_TTL_MS || ttlMs > MAX_LEASE_TTL_MS) {
      throw new NatsTransportError('INVALID_ARGUMENT', `raybus nats: a lease TTL must be an integer number of ms in [${MIN_LEASE_TTL_MS}, ${MAX_LEASE_TTL_MS}], got ${ttlMs}`);
    }
    const link = await this.manager.ready();
    const bucket = this.naming.leaseBucket(ttlMs);
    await this.bucket(link, bucket, ttlMs);
    const subject = kvSubject(bucket, name);
    const id = randomUUID();
    let written = await this.write(link, subject, id, 0);
    if (!written.ok && written.missing) {
      // The bucket was deleted since this transport made it: make it again.
      this.buckets.delete(ttlMs);
      await this.bucket(link, bucket, ttlMs);
      written = await this.write(link, subject, id, 0);
    }
    if (!written.ok) {
      // Create fails on a delete marker too (a released lease): take it over at its revision.
      const last = await link.jsm.streams.getMessage(kvStream(bucket), { last_by_subj: subject });
      const op = last?.header?.get('KV-Operation');
      if (last === null) written = await this.write(link, subject, id, 0);
      else if (op === 'DEL' || op === 'PURGE') written = await this.write(link, subject, id, last.seq);
    }
    if (!written.ok && written.missing) throw new NatsTransportError('BROKER_REFUSED', `raybus nats: the lease bucket '${bucket}' is missing`, { retryable: true });
    if (!written.ok) return null;
    const lease = new KvLease(this.manager, subject, id, written.seq, (l, s, v, e, del) => this.write(l, s, v, e, del), () => this.held.delete(lease));
    this.held.add(lease);
    return lease;
  }

  /** Release every lease still held (the transport is closing): successors need not wait for the TTL. */
  async releaseAll(): Promise<void> {
    await Promise.all([...this.held].map((l) => l.release()));
  }

  private bucket(link: Link, bucket: string, ttlMs: number): Promise<void> {
    let made = this.buckets.get(ttlMs);
    if (!made) {
      made = link.jsm.streams
        .add({
          name: kvStream(bucket),
          subjects: [`$KV.${bucket}.>`],
          max_msgs_per_subject: 1,
          max_age: ttlMs * 1_000_000,
          duplicate_window: Math.min(ttlMs, 120_000) * 1_000_000,
          discard: DiscardPolicy.New,
          deny_delete: true,
          allow_rollup_hdrs: true,
          allow_direct: true,
          storage: StorageType.File,
          num_replicas: 1,
        })
        .then(
          () => undefined,
          (err: unknown) => {
            this.buckets.delete(ttlMs);
            // Made elsewhere with other settings (replicas, say): use it as it is.
            if (apiErrorCode(err) !== JS_ERR.STREAM_NAME_IN_USE) throw refused(`create the lease bucket '${bucket}'`, err);
          },
        );
      this.buckets.set(ttlMs, made);
    }
    return made;
  }

  /** Publish `value` to `subject` if its last revision is `expected` (0: no message). */
  private async write(link: Link, subject: string, value: string, expected: number, del = false): Promise<Written> {
    const h = natsHeaders();
    h.set('Nats-Expected-Last-Subject-Sequence', String(expected));
    if (del) h.set('KV-Operation', 'DEL');
    let reply;
    try {
      reply = await link.nc.request(subject, del ? new Uint8Array(0) : encoder.encode(value), { headers: h, timeout: this.manager.options.apiTimeoutMs });
    } catch (err) {
      if ((err as { isNoResponders?: () => boolean }).isNoResponders?.() || (err as Error).name === 'NoRespondersError') return { ok: false, missing: true };
      throw err;
    }
    const ack = JSON.parse(decoder.decode(reply.data)) as { seq?: number; error?: { err_code?: number; description?: string } };
    if (ack.error) {
      if (ack.error.err_code === JS_ERR.WRONG_LAST_SEQUENCE) return { ok: false };
      throw new NatsTransportError('BROKER_REFUSED', `raybus nats: lease write refused: ${ack.error.description ?? 'unknown error'}`);
    }
    return { ok: true, seq: ack.seq ?? 0 };
  }
}

type Write = (link: Link, subject: string, value: string, expected: number, del?: boolean) => Promise<Written>;

class KvLease implements TransportLease {
  private done = false;

  constructor(
    private readonly manager: ConnectionManager,
    private readonly subject: string,
    readonly id: string,
    private revision: number,
    private readonly write: Write,
    private readonly onDone: () => void,
  ) {}

  async renew(): Promise<boolean> {
    if (this.done) return false;
    // The current connection even while it is down: the request then times out, in bounded time.
    const link = this.manager.current;
    if (!link) throw this.manager.closedError();
    const written = await this.write(link, this.subject, this.id, this.revision);
    if (!written.ok) {
      this.done = true;
      this.onDone();
      return false;
    }
    this.revision = written.seq;
    return true;
  }

  async release(): Promise<void> {
    if (this.done) return;
    this.done = true;
    this.onDone();
    const link = this.manager.current;
    if (!link) return;
    // Only our own revision is deleted: a lease that expired and was taken meanwhile stays.
    await this.write(link, this.subject, this.id, this.revision, true).catch(() => undefined);
  }
}
