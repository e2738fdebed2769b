/**
 * The queue consumers of one transport: they repair after a reconnect together and share one
 * {@link DeliveryLedger}, so that a message one of them holds reaches no other.
 */
import type { Delivery } from '../../src/transport/transport';
import type { ConnectionManager, Link, LinkParticipant } from './connection';
import { QueueConsumer } from './consumer';
import { MemoryInbox } from './memory-inbox';
import { DeliveryLedger } from './ledger';
import type { Naming } from './naming';
import type { Topology } from './topology';

/** The consumers of one transport. */
export class ConsumerSet implements LinkParticipant {
  private readonly consumers = new Set<QueueConsumer>();
  /** Each consumer's subscription to its queue's transient messages. */
  private readonly inboxes = new Map<QueueConsumer, MemoryInbox>();
  private readonly ledger = new DeliveryLedger();

  constructor(
    private readonly manager: ConnectionManager,
    private readonly topology: Topology,
    private readonly naming: Naming,
    /** Publish to a queue again (a message of a batch nack'd with requeue). */
    private readonly requeue: (queue: string, body: Uint8Array) => Promise<void>,
  ) {}

  suspend(): void {
    for (const c of this.consumers) c.suspend();
  }

  async resume(link: Link): Promise<void> {
    for (const inbox of this.inboxes.values()) inbox.start(link);
    for (const c of [...this.consumers]) await c.resume(link);
  }

  /** A consumer of `queue`'s stream, or undefined when there is no such stream. */
  async consume(queue: string, handler: (delivery: Delivery) => void, prefetch: number): Promise<{ cancel(): Promise<void> } | undefined> {
    const link = await this.manager.ready();
    const info = await this.topology.consumerOf(link, queue);
    if (!info) return undefined;
    const consumer = new QueueConsumer(
      queue,
      handler,
      prefetch,
      info,
      this.manager,
      this.topology,
      this.naming,
      this.ledger,
      (c) => {
        this.consumers.delete(c);
        this.inboxes.get(c)?.cancel();
        this.inboxes.delete(c);
      },
      this.requeue,
    );
    const inbox = new MemoryInbox(queue, this.naming.queue(queue).memory, handler);
    this.consumers.add(consumer);
    this.inboxes.set(consumer, inbox);
    inbox.start(link);
    consumer.start(link);
    // The server has the transient messages' subscription once `consume` resolves: a transient
    // message published after that (on any connection) reaches this consumer.
    await link.nc.flush().catch(() => undefined);
    return {
      cancel: () => {
        inbox.cancel();
        return consumer.cancel();
      },
    };
  }

  /** Stop this transport's consumers of `queue`, which is being deleted (no warning, nothing to requeue). */
  forget(queue: string): void {
    for (const c of this.consumers) {
      if (c.queue !== queue) continue;
      this.inboxes.get(c)?.cancel();
      c.forget();
    }
  }

  /** Cancel every consumer: pull requests withdrawn, unacknowledged deliveries requeued. */
  async stopAll(): Promise<void> {
    for (const inbox of this.inboxes.values()) inbox.cancel();
    await Promise.all([...this.consumers].map((c) => c.cancel()));
  }
}
