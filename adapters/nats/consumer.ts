/**
 * Queue consumers. Every `consume()` pulls from the queue stream's one durable consumer with
 * pull requests of its own, on an inbox of its own, and asks for no more than its prefetch
 * leaves room for (prefetch − unacknowledged − already asked for): prefetch is per
 * subscription, as AMQP's `basic.qos`, although `max_ack_pending` could only limit all of them
 * together.
 *
 * Each held delivery gets a progress ack (`+WPI`) before 40 % of `ack_wait` has passed, so a
 * live consumer keeps messages as long as it likes; a dead one's come back after `ack_wait`.
 */
import { createInbox, headers as natsHeaders, type Msg, type Subscription as NatsSubscription } from '@nats-io/transport-node';
import type { ConsumerInfo } from '@nats-io/jetstream';
import type { Delivery } from '../../src/transport/transport';
import { withTimeout, type ConnectionManager, type Link, type LinkParticipant } from './connection';
import { decodeHeaders } from './headers';
import { describeCause } from './errors';
import type { Naming } from './naming';
import type { Topology } from './topology';

const encoder = new TextEncoder();
const ACK = encoder.encode('+ACK');
const NAK = encoder.encode('-NAK');
const TERM = encoder.encode('+TERM');
const PROGRESS = encoder.encode('+WPI');

/** Idle heartbeat asked of the server while a pull request waits; two missed ones mean it is gone. */
const HEARTBEAT_MS = 5_000;
/** Header of a dead-letter copy: the reason given to `nack(false, reason)`. */
export const DEATH_REASON_HEADER = 'Raybus-Death-Reason';
/** Header of a dead-letter copy: the queue it was dropped from. */
export const DEATH_QUEUE_HEADER = 'Raybus-Death-Queue';
const MAX_REASON_LENGTH = 1024;

/** The consumers of one transport. */
export class ConsumerSet implements LinkParticipant {
  private readonly consumers = new Set<QueueConsumer>();

  constructor(
    private readonly manager: ConnectionManager,
    private readonly topology: Topology,
    private readonly naming: Naming,
  ) {}

  suspend(): void {
    for (const c of this.consumers) c.suspend();
  }

  async resume(link: Link): Promise<void> {
    for (const c of [...this.consumers]) await c.resume(link);
  }

  /** A consumer of `queue`'s stream, or undefined when there is no such stream. */
  async consume(queue: string, handler: (delivery: Delivery) => void, prefetch: number): Promise<{ cancel(): Promise<void> } | undefined> {
    const link = await this.manager.ready();
    const info = await this.topology.consumerOf(link, queue);
    if (!info) return undefined;
    const consumer = new QueueConsumer(queue, handler, prefetch, info, this.manager, this.topology, this.naming, (c) => this.consumers.delete(c));
    this.consumers.add(consumer);
    consumer.start(link);
    return { cancel: () => consumer.cancel() };
  }

  /** Stop this transport's consumers of `queue`, which is being deleted (no warning, nothing to requeue). */
  forget(queue: string): void {
    for (const c of this.consumers) if (c.queue === queue) c.forget();
  }

  /** Cancel every consumer: pull requests withdrawn, unacknowledged deliveries requeued. */
  async stopAll(): Promise<void> {
    await Promise.all([...this.consumers].map((c) => c.cancel()));
  }
}

interface Held {
  touched: number;
}

class QueueConsumer {
  private readonly stream: string;
  private readonly nextSubject: string;
  private readonly ackWaitMs: number;
  private readonly unacked = new Map<string, Held>();
  private readonly deadLettering = new Set<Promise<void>>();
  private sub: NatsSubscription | undefined;
  private inbox = '';
  /** Messages asked for by pull requests and not yet received. */
  private requested = 0;
  private lastHeard = Date.now();
  private pullQueued = false;
  private down = false;
  private cancelled = false;
  private cancelling: Promise<void> | undefined;
  private checking: Promise<void> | undefined;
  private checkingLink: Link | undefined;
  private timer: NodeJS.Timeout | undefined;
  private link: Link | undefined;

  constructor(
    readonly queue: string,
    private readonly handler: (delivery: Delivery) => void,
    private readonly prefetch: number,
    info: ConsumerInfo,
    private readonly manager: ConnectionManager,
    private readonly topology: Topology,
    private readonly naming: Naming,
    private readonly onGone: (c: QueueConsumer) => void,
  ) {
    this.stream = info.stream_name;
    this.nextSubject = `$JS.API.CONSUMER.MSG.NEXT.${info.stream_name}.${info.name}`;
    // The consumer's own ack_wait counts (whoever created it chose it), not this transport's option.
    this.ackWaitMs = Math.max(500, Math.round((info.config.ack_wait ?? manager.options.ackWaitMs * 1e6) / 1e6));
  }

  start(link: Link): void {
    this.link = link;
    this.openInbox(link);
    this.timer = setInterval(() => this.tick(), Math.min(HEARTBEAT_MS, Math.floor(this.ackWaitMs * 0.2)));
    this.timer.unref();
    this.pull();
  }

  suspend(): void {
    this.down = true;
  }

  async resume(link: Link): Promise<void> {
    if (this.cancelled) return;
    this.link = link;
    this.down = false;
    // Bounded: a server whose JetStream is not back yet must not hold up the reconnect.
    await withTimeout(this.recheck(link, 0, true), this.manager.options.apiTimeoutMs).catch(() => undefined);
  }

  cancel(): Promise<void> {
    this.cancelling ??= this.doCancel();
    return this.cancelling;
  }

  private async doCancel(): Promise<void> {
    this.stop();
    const sub = this.sub;
    this.sub = undefined;
    const nc = this.link?.nc;
    if (!nc || nc.isClosed()) return;
    // UNSUB goes out before the naks: the server drops this consumer's waiting pull requests
    // (no interest left) before it requeues, so the messages go to other consumers, not back
    // here. Deliveries already on their way still arrive during the drain and are nak'd too.
    const drained = sub && !sub.isClosed() ? sub.drain().catch(() => undefined) : Promise.resolve();
    for (const reply of this.unacked.keys()) nc.publish(reply, NAK);
    this.unacked.clear();
    await withTimeout(Promise.all([drained, ...this.deadLettering]), this.manager.options.apiTimeoutMs).catch(() => sub?.unsubscribe());
  }

  forget(): void {
    this.stop();
    this.sub?.unsubscribe();
    this.sub = undefined;
    this.unacked.clear();
  }

  private stop(): void {
    this.cancelled = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.onGone(this);
  }

  /** A new inbox for new pull requests; what still arrives on the old one is stale and nak'd. */
  private openInbox(link: Link): void {
    const old = this.sub;
    this.inbox = createInbox();
    const sub: NatsSubscription = link.nc.subscribe(this.inbox, {
      callback: (err, msg) => {
        if (err) this.manager.options.onWarning(`raybus nats: the consumer of '${this.queue}' lost its inbox`, err);
        else this.onMessage(sub, msg);
      },
    });
    this.sub = sub;
    this.requested = 0;
    this.lastHeard = Date.now();
    if (old && !old.isClosed()) void old.drain().catch(() => undefined);
  }

  private onMessage(sub: NatsSubscription, msg: Msg): void {
    const reply = msg.reply;
    if (!reply) {
      if (sub === this.sub) this.onStatus(msg);
      return;
    }
    if (sub !== this.sub || this.cancelled) {
      msg.respond(NAK);
      return;
    }
    this.lastHeard = Date.now();
    if (this.requested > 0) this.requested -= 1;
    this.unacked.set(reply, { touched: this.lastHeard });
    const delivery = this.delivery(msg, reply);
    try {
      this.handler(delivery);
    } catch (err) {
      this.manager.options.onWarning(`raybus nats: consumer of '${this.queue}' threw: ${describeCause(err)}`);
      delivery.nack(true);
    }
  }

  /** Pull request statuses: 100 heartbeat, 408 expired, 409 refused or consumer gone, 503 no consumer. */
  private onStatus(msg: Msg): void {
    this.lastHeard = Date.now();
    const code = msg.headers?.code ?? 0;
    if (code === 100) return;
    const left = Number(msg.headers?.get('Nats-Pending-Messages') || 0);
    if (left > 0) this.requested = Math.max(0, this.requested - left);
    const description = msg.headers?.description ?? '';
    if (code === 503 || /consumer deleted/i.test(description)) {
      void this.recheck();
    } else if (code === 408 || code === 404 || left > 0) {
      this.schedulePull();
    } else {
      // A refusal that does not say which request it ends (409 Exceeded MaxWaiting...): start over.
      this.manager.options.onWarning(`raybus nats: pull request for '${this.queue}' refused: ${code} ${description}`);
      void this.recheck(undefined, 1000);
    }
  }

  private delivery(msg: Msg, reply: string): Delivery {
    let settled = false;
    const settle = (): boolean => {
      if (settled) return false;
      settled = true;
      // After a cancel the delivery was requeued already: settling it is a no-op.
      return this.unacked.delete(reply) && !this.cancelled;
    };
    return {
      queue: this.queue,
      body: msg.data,
      headers: decodeHeaders(msg.headers),
      redelivered: deliveryCount(reply) > 1,
      ack: () => {
        if (!settle()) return;
        this.link?.nc.publish(reply, ACK);
        this.schedulePull();
      },
      nack: (requeue: boolean, reason?: string) => {
        if (!settle()) return;
        if (requeue) this.link?.nc.publish(reply, NAK);
        else this.deadLetter(msg, reply, reason);
        this.schedulePull();
      },
    };
  }

  /**
   * `term` cannot carry a reason on 2.9, so a copy with the reason goes to the dead-letter
   * stream first; the original is terminated once the copy is stored (a crash in between can
   * only duplicate it).
   */
  private deadLetter(msg: Msg, reply: string, reason: string | undefined): void {
    const link = this.link;
    if (!link) return;
    const h = natsHeaders();
    if (msg.headers) for (const key of msg.headers.keys()) if (!/^nats-/i.test(key)) h.set(key, msg.headers.get(key));
    h.set(DEATH_REASON_HEADER, sanitizeReason(reason ?? 'rejected'));
    h.set(DEATH_QUEUE_HEADER, this.queue);
    const copied = this.topology
      .ensureDeadLetters(link)
      .then(() => link.nc.request(this.naming.deadLetterSubject(this.queue), msg.data, { headers: h, timeout: this.manager.options.apiTimeoutMs }))
      .then(
        () => undefined,
        (err: unknown) => this.manager.options.onWarning(`raybus nats: could not keep a dead-letter copy of a message from '${this.queue}'`, err),
      )
      .then(() => {
        if (!link.nc.isClosed()) link.nc.publish(reply, TERM);
      })
      .finally(() => this.deadLettering.delete(copied));
    this.deadLettering.add(copied);
  }

  private schedulePull(): void {
    if (this.pullQueued || this.cancelled) return;
    this.pullQueued = true;
    queueMicrotask(() => {
      this.pullQueued = false;
      this.pull();
    });
  }

  /**
   * Ask for what the prefetch leaves room for; with requests still waiting, only once a
   * quarter of the prefetch is free (fewer, larger requests). Prefetch 0 keeps a fixed number asked for.
   */
  private pull(): void {
    if (this.cancelled || this.down || !this.sub || !this.link) return;
    let n: number;
    const o = this.manager.options;
    if (this.prefetch === 0) {
      if (this.requested > o.unboundedPullBatch / 2) return;
      n = o.unboundedPullBatch - this.requested;
    } else {
      n = this.prefetch - this.unacked.size - this.requested;
      if (n <= 0 || (this.requested > 0 && n < Math.ceil(this.prefetch / 4))) return;
    }
    const request = { batch: n, expires: o.pullExpiresMs * 1_000_000, idle_heartbeat: HEARTBEAT_MS * 1_000_000 };
    this.link.nc.publish(this.nextSubject, encoder.encode(JSON.stringify(request)), { reply: this.inbox });
    this.requested += n;
  }

  private tick(): void {
    const link = this.link;
    if (this.cancelled || !link) return;
    const now = Date.now();
    const due = now - this.ackWaitMs * 0.4;
    for (const [reply, held] of this.unacked) {
      if (held.touched <= due) {
        link.nc.publish(reply, PROGRESS);
        held.touched = now;
      }
    }
    // A waiting pull request sends heartbeats; silence means it is gone (consumer recreated, leader moved).
    if (!this.down && this.requested > 0 && now - this.lastHeard > 2.5 * HEARTBEAT_MS) void this.recheck();
  }

  /** Make sure the consumer still exists (recreate it if only it is gone) and start pulling afresh. */
  private recheck(link = this.link, delayMs = 0, warnIfGone = false): Promise<void> {
    if (this.checking && this.checkingLink === link) return this.checking;
    // A check for an older link ends at its next step; this one runs after it.
    const run = (this.checking ?? Promise.resolve()).then(() => this.check(link, delayMs, warnIfGone));
    this.checking = run;
    this.checkingLink = link;
    void run.finally(() => {
      if (this.checking === run) this.checking = undefined;
    });
    return run;
  }

  /** A queue deleted under a running consumer ends it quietly (as on AMQP); one gone across a reconnect, with a warning. */
  private async check(link: Link | undefined, delayMs: number, warnIfGone: boolean): Promise<void> {
    for (let attempt = 0; !this.cancelled; attempt++) {
      if (delayMs > 0 || attempt > 0) await new Promise((r) => setTimeout(r, Math.max(delayMs, Math.min(5000, 250 * 2 ** attempt))).unref());
      if (this.cancelled || this.down || !link || this.link !== link) return;
      try {
        const info = await this.topology.consumerOf(link, this.queue);
        if (this.cancelled || this.link !== link) return;
        if (!info) {
          if (warnIfGone) this.manager.options.onWarning(`raybus nats: queue '${this.queue}' no longer exists; its consumer stopped`);
          this.forget();
          return;
        }
        this.openInbox(link);
        this.pull();
        return;
      } catch (err) {
        if (attempt === 3) this.manager.options.onWarning(`raybus nats: the consumer of '${this.queue}' cannot reach its stream '${this.stream}' yet`, err);
      }
    }
  }
}

/** How often a message was delivered, from its ack subject (`$JS.ACK.<stream>.<consumer>.<delivered>...`). */
export function deliveryCount(reply: string): number {
  const t = reply.split('.');
  // v1: $JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<ts>.<pending>; v2 adds domain and account hash.
  const n = Number(t.length === 9 ? t[4] : t.length >= 11 ? t[6] : 1);
  return Number.isFinite(n) ? n : 1;
}

function sanitizeReason(reason: string): string {
  let out = '';
  for (const ch of reason) {
    const c = ch.charCodeAt(0);
    out += c < 0x20 || c === 0x7f ? ' ' : ch;
  }
  return out.trim().slice(0, MAX_REASON_LENGTH) || 'rejected';
}
