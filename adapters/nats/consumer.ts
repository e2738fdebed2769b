/**
 * Queue consumers. Every `consume()` pulls from the queue stream's one durable consumer on an
 * inbox of its own, with one pull request waiting at a time, for no more than its prefetch
 * leaves room for (prefetch − unacknowledged): prefetch is per subscription, as AMQP's
 * `basic.qos`, although `max_ack_pending` could only limit all of them together. The server
 * serves waiting requests in turn, so with one each it serves subscriptions in turn.
 *
 * Each held delivery gets a progress ack (`+WPI`) before 40 % of `ack_wait` has passed, so a
 * live consumer keeps messages as long as it likes; a dead one's come back after `ack_wait`.
 * A second copy of a message a subscription of the transport holds or settled never reaches a
 * handler (ledger.ts).
 *
 * Naks wait until the server has let go of the pull requests of an inbox this consumer dropped.
 * It drops a request whose inbox is gone only when it next looks at its waiting requests (a
 * consumer info makes it look), and on 2.9 a redelivery that meets such a request first is
 * mishandled: held back until `ack_wait`, with the last new message sent a second time instead
 * (fixed in nats-server 2.10.14).
 */
import { createInbox, type Msg, type Subscription as NatsSubscription } from '@nats-io/transport-node';
import type { ConsumerInfo } from '@nats-io/jetstream';
import type { Delivery } from '../../src/transport/transport';
import { withTimeout, type ConnectionManager, type Link } from './connection';
import { keepDeadLetterCopy } from './dead-letter';
import { BATCH_HEADER } from './publisher';
import { decodeBatch, deliverBatch } from '../batch-body';
import { decodeHeaders } from './headers';
import { describeCause } from './errors';
import { adoptCopy, messageKey, parseAckSubject, type DeliveryLedger, type HeldDelivery } from './ledger';
import type { Naming } from './naming';
import type { Topology } from './topology';

const encoder = new TextEncoder();
const ACK = encoder.encode('+ACK');
const NAK = encoder.encode('-NAK');
const TERM = encoder.encode('+TERM');
const PROGRESS = encoder.encode('+WPI');

/** Idle heartbeat asked of the server while a pull request waits; two missed ones mean it is gone. */
const HEARTBEAT_MS = 5_000;

/** One `consume()` of a work queue (see the file comment). */
export class QueueConsumer {
  private readonly stream: string;
  private readonly consumerName: string;
  private readonly nextSubject: string;
  private readonly ackWaitMs: number;
  /** Deliveries handed to the handler and not settled, by message (ledger.ts). */
  private readonly unacked = new Map<string, HeldDelivery>();
  private readonly deadLettering = new Set<Promise<void>>();
  /**
   * While an inbox was dropped and the server may still hold its pull requests: the naks to send
   * once it let go of them (requeued deliveries, and those that reached the dropped inbox).
   */
  private deferredNaks: string[] | undefined;
  private sub: NatsSubscription | undefined;
  private inbox = '';
  /** Messages the one waiting pull request still asks for (0: none waiting). */
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
    private readonly ledger: DeliveryLedger,
    private readonly onGone: (c: QueueConsumer) => void,
    /** Publish a message of a batch to this queue again, alone (a nack with requeue). */
    private readonly requeue: (queue: string, body: Uint8Array) => Promise<void>,
  ) {
    this.stream = info.stream_name;
    this.consumerName = info.name;
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
    const link = this.link;
    if (!link || link.nc.isClosed()) return this.releaseAll();
    const o = this.manager.options;
    // Unsubscribe, have the server forget this inbox's waiting pull requests, then nak: the
    // messages go to other consumers at once, not back here and not to a dropped request.
    // Deliveries already on their way arrive during the drain and are nak'd after the rest.
    const dropped = this.dropInbox();
    const forgotten = this.forgetRequests(link);
    await withTimeout(Promise.all([dropped, forgotten]), o.apiTimeoutMs).catch(() => undefined);
    for (const held of this.unacked.values()) this.send(held.reply, NAK);
    this.sendDeferredNaks();
    this.releaseAll();
    await withTimeout(Promise.all([...this.deadLettering]), o.apiTimeoutMs).catch(() => undefined);
  }

  forget(): void {
    this.stop();
    const sub = this.sub;
    this.sub = undefined;
    if (sub && !sub.isClosed()) ignoreClosed(() => sub.unsubscribe());
    this.releaseAll();
  }

  private stop(): void {
    this.cancelled = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.onGone(this);
  }

  private releaseAll(): void {
    for (const [key, held] of this.unacked) this.ledger.release(key, held);
    this.unacked.clear();
    this.deferredNaks = undefined;
  }

  /** A new inbox for the pull requests (the old one was dropped). */
  private openInbox(link: Link): void {
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
  }

  /**
   * Unsubscribe the inbox. Its waiting pull requests stay on the server until it looks at them;
   * naks wait for {@link sendDeferredNaks} meanwhile. Resolves once everything the server sent
   * to the inbox before the unsubscribe has arrived.
   */
  private dropInbox(): Promise<void> {
    const sub = this.sub;
    this.sub = undefined;
    this.requested = 0;
    this.deferredNaks ??= [];
    if (!sub || sub.isClosed()) return Promise.resolve();
    return sub.drain().catch(() => ignoreClosed(() => sub.unsubscribe()));
  }

  /** A consumer info: the server looks at its waiting pull requests and drops those of unsubscribed inboxes. */
  private forgetRequests(link: Link): Promise<void> {
    return link.jsm.consumers.info(this.stream, this.consumerName).then(
      () => undefined,
      () => undefined,
    );
  }

  /** Nak now, or, while the server may still hold pull requests of a dropped inbox, once it let go of them. */
  private nak(reply: string): void {
    if (this.deferredNaks) this.deferredNaks.push(reply);
    else this.send(reply, NAK);
  }

  /** Send the deferred naks (the server has let go of the dropped inbox's requests by now). */
  private sendDeferredNaks(): void {
    const replies = this.deferredNaks ?? [];
    this.deferredNaks = undefined;
    for (const reply of replies) this.send(reply, NAK);
  }

  private send(reply: string, verb: Uint8Array): void {
    const nc = this.link?.nc;
    if (nc && !nc.isClosed()) ignoreClosed(() => nc.publish(reply, verb));
  }

  private onMessage(sub: NatsSubscription, msg: Msg): void {
    const reply = msg.reply;
    const current = sub === this.sub && !this.cancelled;
    if (!reply) {
      if (current) this.onStatus(msg);
      return;
    }
    const now = Date.now();
    if (current) {
      this.lastHeard = now;
      // The request is done: ask again (after the handler ran, so that its acks count).
      if (this.requested > 0 && --this.requested === 0) this.schedulePull();
    }
    const ack = parseAckSubject(reply);
    const key = messageKey(reply, ack);
    const settled = this.ledger.settlement(key);
    const holder = this.ledger.holder(key);
    if (settled) {
      // Settled here already (the server lost the ack, or sent the message twice): settle this copy too.
      this.send(reply, settled === 'ack' ? ACK : TERM);
    } else if (holder) {
      // A subscription of this transport holds it: no second handler; the holder settles it.
      adoptCopy(holder, reply, now);
    } else if (!current) {
      this.nak(reply);
    } else {
      const held: HeldDelivery = { reply, touched: now };
      this.unacked.set(key, held);
      this.ledger.hold(key, held);
      const batched = msg.headers?.get(BATCH_HEADER);
      if (batched) return this.onBatch(msg, key, held, (ack?.delivered ?? 1) > 1, Number(batched));
      const delivery = this.delivery(msg, key, held, (ack?.delivered ?? 1) > 1);
      try {
        this.handler(delivery);
      } catch (err) {
        this.manager.options.onWarning(`raybus nats: consumer of '${this.queue}' threw: ${describeCause(err)}`);
        delivery.nack(true);
      }
    }
  }

  /** Pull request statuses: 100 heartbeat, 408 expired, 409 refused or consumer gone, 503 no consumer. Any but 100 ends the request. */
  private onStatus(msg: Msg): void {
    this.lastHeard = Date.now();
    const code = msg.headers?.code ?? 0;
    if (code === 100) return;
    this.requested = 0;
    const left = Number(msg.headers?.get('Nats-Pending-Messages') || 0);
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

  private delivery(msg: Msg, key: string, held: HeldDelivery, redelivered: boolean): Delivery {
    // Settling acts once, and only while this subscription holds the message: a cancel naks
    // what it holds, after which settling is a no-op.
    const take = (): boolean => this.unacked.get(key) === held && this.unacked.delete(key);
    return {
      queue: this.queue,
      body: msg.data,
      headers: decodeHeaders(msg.headers),
      redelivered,
      ack: () => {
        if (!take()) return;
        this.ledger.settle(key, held, 'ack');
        this.send(held.reply, ACK);
        this.schedulePull();
      },
      nack: (requeue: boolean, reason?: string) => {
        if (!take()) return;
        if (!requeue) this.deadLetter(msg, key, held, reason);
        else {
          this.ledger.release(key, held);
          this.nak(held.reply);
        }
        this.schedulePull();
      },
    };
  }

  /**
   * A message carrying a batch (publisher.ts): each of its messages is delivered, acked and
   * nacked on its own, and the message is acked once all are settled. A nack with requeue
   * publishes that message again alone; a dead-lettered one is copied to the dead-letter stream
   * alone. If either fails, the whole batch is nak'd and comes again (its other messages too:
   * batches go only to queues that tolerate a redelivery, queue-policy.ts).
   */
  private onBatch(msg: Msg, key: string, held: HeldDelivery, redelivered: boolean, count: number): void {
    let parts: Buffer[];
    try {
      parts = decodeBatch(msg.data, count);
    } catch (err) {
      this.manager.options.onWarning(`raybus nats: dead-lettered a malformed batch on '${this.queue}': ${describeCause(err)}`);
      this.unacked.delete(key);
      this.deadLetter(msg, key, held, `malformed batch: ${describeCause(err)}`);
      return;
    }
    const headers = decodeHeaders(msg.headers);
    delete headers[BATCH_HEADER];
    const work: Array<Promise<void>> = [];
    deliverBatch(
      parts,
      {
        queue: this.queue,
        headers,
        redelivered,
        nacked: (body, requeue, reason) => {
          if (this.unacked.get(key) === held) work.push(requeue ? this.requeue(this.queue, body) : this.deadLetterPart(body, msg, reason));
        },
        allSettled: () => {
          void Promise.all(work).then(
            () => this.settleBatch(key, held, true),
            () => this.settleBatch(key, held, false),
          );
        },
      },
      this.handler,
      (err) => this.manager.options.onWarning(`raybus nats: consumer of '${this.queue}' threw: ${describeCause(err)}`),
    );
  }

  /** Every message of a batch is settled: ack it (`ok`), or nak it whole (a requeue failed). */
  private settleBatch(key: string, held: HeldDelivery, ok: boolean): void {
    if (!(this.unacked.get(key) === held && this.unacked.delete(key))) return;
    if (ok) {
      this.ledger.settle(key, held, 'ack');
      this.send(held.reply, ACK);
    } else {
      this.ledger.release(key, held);
      this.nak(held.reply);
    }
    this.schedulePull();
  }

  /** A copy of one message of a batch goes to the dead-letter stream (the batch stays held until then). */
  private deadLetterPart(body: Uint8Array, msg: Msg, reason: string | undefined): Promise<void> {
    const link = this.link;
    if (!link) return Promise.reject(new Error('no connection'));
    const copied = keepDeadLetterCopy(link, this.topology, this.naming, this.manager.options, this.queue, body, msg.headers, reason).finally(() => this.deadLettering.delete(copied));
    this.deadLettering.add(copied);
    return copied;
  }

  /**
   * A copy with the reason goes to the dead-letter stream first; the original is terminated
   * once the copy is stored (a crash in between can only duplicate it). Until then the message
   * stays held: another copy of it reaches no handler.
   */
  private deadLetter(msg: Msg, key: string, held: HeldDelivery, reason: string | undefined): void {
    const link = this.link;
    if (!link) {
      this.ledger.release(key, held);
      return;
    }
    const copied = keepDeadLetterCopy(link, this.topology, this.naming, this.manager.options, this.queue, msg.data, msg.headers, reason)
      .then(() => {
        if (!link.nc.isClosed()) ignoreClosed(() => link.nc.publish(held.reply, TERM));
        this.ledger.settle(key, held, 'term');
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
   * Ask for what the prefetch leaves room for (prefetch 0: a fixed batch), once the waiting
   * request is done: one request per subscription, so the server, which hands messages to
   * waiting requests in turn, hands them to subscriptions in turn.
   */
  private pull(): void {
    if (this.cancelled || this.down || !this.sub || !this.link || this.requested > 0) return;
    const o = this.manager.options;
    const n = this.prefetch === 0 ? o.unboundedPullBatch : this.prefetch - this.unacked.size;
    if (n <= 0) return;
    const request = { batch: n, expires: o.pullExpiresMs * 1_000_000, idle_heartbeat: HEARTBEAT_MS * 1_000_000 };
    this.link.nc.publish(this.nextSubject, encoder.encode(JSON.stringify(request)), { reply: this.inbox });
    this.requested = n;
  }

  private tick(): void {
    const link = this.link;
    if (this.cancelled || !link) return;
    const now = Date.now();
    const due = now - this.ackWaitMs * 0.4;
    // All together, in delivery order, once one is due: the server then keeps their ack_wait
    // deadlines in that order, and a crash brings them back in that order.
    if ([...this.unacked.values()].some((held) => held.touched <= due)) {
      for (const held of this.unacked.values()) {
        this.send(held.reply, PROGRESS);
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
      // Drop the inbox first: the consumer info below then also makes the server forget its requests.
      const dropped = this.dropInbox();
      try {
        const info = await this.topology.consumerOf(link, this.queue);
        if (this.cancelled || this.link !== link) return;
        if (!info) {
          if (warnIfGone) this.manager.options.onWarning(`raybus nats: queue '${this.queue}' no longer exists; its consumer stopped`);
          this.forget();
          return;
        }
        await withTimeout(dropped, this.manager.options.apiTimeoutMs).catch(() => undefined);
        if (this.cancelled || this.link !== link) return;
        this.sendDeferredNaks();
        this.openInbox(link);
        this.pull();
        return;
      } catch (err) {
        if (attempt === 3) this.manager.options.onWarning(`raybus nats: the consumer of '${this.queue}' cannot reach its stream '${this.stream}' yet`, err);
      }
    }
  }
}

/** Runs `write`, ignoring the error of a connection that closed meanwhile (nothing can be sent then). */
function ignoreClosed(write: () => void): void {
  try {
    write();
  } catch {
    // Closed: what was not sent comes back after ack_wait, or the transport is gone.
  }
}
