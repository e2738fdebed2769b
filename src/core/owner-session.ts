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
import { decodeEnvelope, encodeEnvelope } from '../serialization/serializer';
import { BROKER_ELECTED_TOPIC, BROKER_QUEUE, presenceQueue } from '../protocol/queues';
import type { BrokerElectedMsg } from '../protocol/messages/presence';
import type { BrokerMsg } from '../protocol/messages/broker';
import type { CoreWorker } from './core-worker';

export class OwnerSession {
  private readonly presence: string;
  private readonly subs: Subscription[] = [];
  private status?: RxSubscription;
  private epoch?: string;
  private closed = false;

  constructor(
    private readonly core: CoreWorker,
    private readonly transport: Transport,
  ) {
    this.presence = core.options.procId;
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
    const sent = this.transport.publish(BROKER_QUEUE, encodeEnvelope({ t: 'owner-exit', owner: this.core.address } satisfies BrokerMsg));
    await Promise.race([sent.catch(() => undefined), new Promise((r) => setTimeout(r, timeoutMs).unref())]);
    for (const s of this.subs.splice(0)) await s.cancel().catch(() => undefined);
  }

  private onNotice(body: Uint8Array): void {
    let msg: BrokerElectedMsg;
    try {
      msg = decodeEnvelope(body) as BrokerElectedMsg;
    } catch {
      return;
    }
    if (msg?.t !== 'broker-elected' || typeof msg.epoch !== 'string' || msg.epoch === this.epoch) return;
    this.epoch = msg.epoch;
    this.resync();
  }

  private register(): void {
    this.send({ t: 'owner-register', owner: this.core.address, presence: this.presence });
  }

  /** Register again, ask again for pending leases, report held ones. */
  private resync(): void {
    if (this.closed || this.core.isClosed) return;
    this.register();
    const leases = this.core.submitter.resync();
    if (leases.length > 0) this.send({ t: 'leases-held', owner: this.core.address, leases });
  }

  private send(msg: BrokerMsg): void {
    this.transport.publish(BROKER_QUEUE, encodeEnvelope(msg)).catch(() => undefined);
  }
}
