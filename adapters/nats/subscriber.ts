/**
 * Broadcast topics on core NATS: a plain subscription per `subscribe()`, re-sent by the client
 * after a reconnect. Fire-and-forget: what is broadcast while a subscriber is disconnected is lost.
 */
import type { Subscription as NatsSubscription } from '@nats-io/transport-node';
import type { Subscription } from '../../src/transport/transport';
import type { ConnectionManager } from './connection';
import { describeCause } from './errors';
import type { Naming } from './naming';

export class Subscriber {
  private readonly subs = new Set<NatsSubscription>();

  constructor(
    private readonly manager: ConnectionManager,
    private readonly naming: Naming,
  ) {}

  async subscribe(topic: string, handler: (body: Uint8Array) => void): Promise<Subscription> {
    const link = await this.manager.ready();
    const sub = link.nc.subscribe(this.naming.topic(topic), {
      callback: (err, msg) => {
        if (err) return;
        try {
          handler(msg.data);
        } catch (e) {
          this.manager.options.onWarning(`raybus nats: subscriber of '${topic}' threw: ${describeCause(e)}`);
        }
      },
    });
    this.subs.add(sub);
    // The subscription is registered on the server once this round trip returns.
    await link.nc.flush().catch(() => undefined);
    return {
      cancel: async () => {
        if (this.subs.delete(sub) && !sub.isClosed()) sub.unsubscribe();
      },
    };
  }

  /**
   * Publish, then one round trip: once it returns the server has handed the message to every
   * subscriber's connection, so a broadcast sent next, from any connection, arrives after it.
   */
  async broadcast(topic: string, body: Uint8Array): Promise<void> {
    const link = await this.manager.ready();
    link.nc.publish(this.naming.topic(topic), body);
    await link.nc.flush();
  }

  stopAll(): void {
    for (const sub of this.subs) if (!sub.isClosed()) sub.unsubscribe();
    this.subs.clear();
  }
}
