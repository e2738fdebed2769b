/**
 * Transient messages of a queue (`PublishOptions.transient`: the chunks of a blob, whose puller
 * asks again for what does not arrive). They travel on core NATS to the queue's memory subject
 * (`Naming.queue(q).memory`), never stored in its stream: no disk write, no PubAck, no pull, no
 * ack. Each reaches one consumer of the queue subscribed at that moment (a queue group), at
 * most once: one that nobody takes, or that a connection drop loses, is gone, which is what a
 * sender of a transient message accepts. Acks and nacks of such a delivery settle nothing.
 */
import type { Msg, Subscription as NatsSubscription } from '@nats-io/transport-node';
import type { Delivery } from '../../src/transport/transport';
import type { Link } from './connection';

/** Queue group of every memory subscription, so that one consumer takes each message. */
const MEMORY_GROUP = 'raybus-memory';
const NO_HEADERS = Object.freeze({});
const settleNothing = (): void => undefined;

/** The memory subscription of one consumer: subscribed again on each new connection. */
export class MemoryInbox {
  private sub: NatsSubscription | undefined;
  private cancelled = false;

  constructor(
    private readonly queue: string,
    private readonly subject: string,
    private readonly handler: (delivery: Delivery) => void,
  ) {}

  /** Subscribe on `link` (again after a reconnect: the old connection's subscription is gone with it). */
  start(link: Link): void {
    if (this.cancelled) return;
    this.unsubscribe();
    this.sub = link.nc.subscribe(this.subject, { queue: MEMORY_GROUP, callback: (err, msg) => (err ? undefined : this.deliver(msg)) });
  }

  cancel(): void {
    this.cancelled = true;
    this.unsubscribe();
  }

  private unsubscribe(): void {
    const sub = this.sub;
    this.sub = undefined;
    try {
      if (sub && !sub.isClosed()) sub.unsubscribe();
    } catch {
      /* the connection closed under it: the server dropped the subscription with it */
    }
  }

  private deliver(msg: Msg): void {
    if (this.cancelled) return;
    this.handler({ queue: this.queue, body: msg.data, headers: NO_HEADERS, redelivered: false, ack: settleNothing, nack: settleNothing });
  }
}
