/**
 * A driver's session with a cluster on a broker (started by `init`):
 *
 * - presence: the driver consumes its presence queue `raybus.presence.<procId>` (auto-delete),
 *   which exists exactly while its broker connection lives; the broker leader probes it to
 *   notice a dead driver within seconds and then kills the driver's non-detached actors and
 *   releases its leases. A driver busy with CPU work keeps its connection, so it is not
 *   mistaken for dead. `exit()` tells the broker at once on a clean shutdown ('owner-exit').
 * - failover: when a new broker leader is elected (`broker-elected`, on the events topic and
 *   in the presence queue) or this driver reconnected to the bus, it registers again, asks
 *   again for the leases it still waits for (the previous leader's pending requests are
 *   gone) and reports the leases it holds, so that leases on a node that died together with
 *   the previous leader are declared lost and their tasks retried.
 */
import type { Subscription as RxSubscription } from 'rxjs';
import type { Subscription, Transport } from '../transport/transport';
import { encodeEnvelope } from '../serialization/serializer';
import { decodeTopicMessage } from '../serialization/message-codec';
import { BROKER_ELECTED_TOPIC, BROKER_QUEUE, presenceQueue, type QueueMessages } from '../protocol/queues';
import type { BrokerElectedMsg } from '../protocol/messages/presence';
import type { LeaseId, NodeId, ReplyQueue } from '../protocol/ids';
import { systemClock, type Clock, type Timer } from '../util/clock';

/** What the session needs of the driver's runtime. */
export interface OwnerSessionPort {
  /** The driver's reply queue: its identity as an owner. */
  readonly address: ReplyQueue;
  /** Its presence id: it consumes `raybus.presence.<presence>` while connected. */
  readonly presence: string;
  /** The runtime stopped: nothing to resync. */
  readonly isClosed: boolean;
  /** Ask again for the leases it waits for; returns the leases it holds (id, node). */
  resyncLeases(): Array<[LeaseId, NodeId]>;
}

/** A driver's session with the broker leader (see the file comment). */
export class OwnerSession {
  private readonly subs: Subscription[] = [];
  private status?: RxSubscription;
  private epoch?: string;
  private closed = false;

  constructor(
    private readonly owner: OwnerSessionPort,
    private readonly transport: Transport,
    private readonly clock: Clock = systemClock,
  ) {}

  private get presence(): string {
    return this.owner.presence;
  }

  async start(): Promise<void> {
    const queue = presenceQueue(this.presence);
    await this.transport.assertQueue(queue, { autoDelete: true });
    this.subs.push(
      await this.transport.consume(
        queue,
        (d) => {
          d.ack();
          this.onNotice(d.body);
        },
        { prefetch: 0 },
      ),
    );
    this.subs.push(await this.transport.subscribe(BROKER_ELECTED_TOPIC, (body) => this.onNotice(body)));
    let previous: string | undefined;
    this.status = this.transport.status$.subscribe((s) => {
      if (s === 'connected' && previous === 'reconnecting') this.resync();
      previous = s;
    });
    this.register();
  }

  /** Leave the cluster: the broker drops this driver's non-detached actors and leases now. */
  async exit(timeoutMs = 2000): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.status?.unsubscribe();
    const sent = this.publish({ t: 'owner-exit', owner: this.owner.address });
    let timer: Timer | undefined;
    await Promise.race([sent.catch(() => undefined), new Promise((r) => (timer = this.clock.setTimeout(() => r(undefined), timeoutMs)))]);
    this.clock.clear(timer);
    for (const s of this.subs.splice(0)) await s.cancel().catch(() => undefined);
  }

  private onNotice(body: Uint8Array): void {
    let msg: BrokerElectedMsg;
    try {
      // Heard on the topic and on the presence queue: both carry only this notice (and probes).
      msg = decodeTopicMessage('broker-elected', body);
    } catch {
      return;
    }
    if (msg.epoch === this.epoch) return;
    this.epoch = msg.epoch;
    this.resync();
  }

  private register(): void {
    this.send({ t: 'owner-register', owner: this.owner.address, presence: this.presence });
  }

  /** Register again, ask again for pending leases, report held ones. */
  private resync(): void {
    if (this.closed || this.owner.isClosed) return;
    this.register();
    const leases = this.owner.resyncLeases();
    if (leases.length > 0) this.send({ t: 'leases-held', owner: this.owner.address, leases });
  }

  private publish(msg: QueueMessages['broker']): Promise<void> {
    return this.transport.publish(BROKER_QUEUE, encodeEnvelope(msg));
  }

  private send(msg: QueueMessages['broker']): void {
    this.publish(msg).catch(() => undefined);
  }
}
