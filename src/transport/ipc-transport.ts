/**
 * The worker side of the node ↔ worker link: a Transport whose operations are carried to
 * the node over the link (ipc-link.ts) and performed there on the node's own transport. A worker
 * therefore never owns a broker connection, and CPU-bound user code can never starve one.
 */
import type { BehaviorSubject as Status } from 'rxjs';
import { LazyBehavior } from '../util/rx';
import { AUTHENTICATED_HEADER, type ConsumeOptions, type Delivery, type PublishOptions, type QueueOptions, type Subscription, type Transport, type TransportCapabilities, type TransportStatus } from './transport';
import { FrameBatcher, decodeFrames, encodeFrames, type ChildFrame, type ParentFrame } from './ipc-protocol';
import type { FrameLink } from './ipc-link';
import { logger } from '../util/logger';

/** Options of an {@link IpcTransport}. */
export interface IpcTransportOptions {
  /**
   * Take only deliveries carrying this header (the node's AuthTransport marks what it opened);
   * others are dead-lettered unseen. Set by workers of a node that authenticates its bus.
   */
  readonly requireHeader?: string;
}

export class IpcTransport implements Transport {
  readonly kind = 'ipc';
  private readonly status = new LazyBehavior<TransportStatus>('connecting');
  /** Made on first use (a worker's own code rarely watches it). */
  get status$(): Status<TransportStatus> {
    return this.status.observable;
  }
  /** A worker of a node that authenticates its bus: what it sends, the node seals; what it takes, the node opened. */
  get authenticated(): boolean {
    return this.options.requireHeader === AUTHENTICATED_HEADER;
  }
  private nextId = 1;
  private readonly calls = new Map<number, { resolve(tag?: number): void; reject(e: Error): void }>();
  private readonly consumers = new Map<number, (d: Delivery) => void>();
  private readonly topics = new Map<number, (b: Uint8Array) => void>();
  /** Deliveries that overtook the answer to their consume call (the node sends them first). */
  private readonly early = new Map<number, Array<Extract<ParentFrame, { op: 'deliver' }>>>();
  /** The queue each consumer (by tag) reads: deliveries do not repeat it. */
  private readonly queueOf = new Map<number, string>();
  private readonly out: FrameBatcher<ChildFrame>;

  private refused = 0;

  constructor(
    /** The link to the node: its closing means the node is gone. */
    private readonly link: FrameLink,
    private readonly options: IpcTransportOptions = {},
    /** What the node's bus can do (the node tells its workers; absent: everything). */
    readonly capabilities?: TransportCapabilities,
  ) {
    this.out = new FrameBatcher((frames) => this.link.send(encodeFrames(frames)));
    link.onMessage((m) => {
      let frames: ParentFrame[] | undefined;
      try {
        frames = decodeFrames<ParentFrame>(m);
      } catch (err) {
        logger.warn(`raybus worker: dropped a malformed batch from the node: ${(err as Error).message}`);
        return;
      }
      if (frames) for (const f of frames) this.onFrame(f);
    });
    link.onClose(() => this.markClosed());
  }

  async connect(): Promise<void> {
    if (this.status.value === 'closed') throw new Error('raybus worker: the link to the node is closed');
    if (this.status.value !== 'connected') this.status.next('connected');
  }

  /** Tell the node this worker exits after its current task (maxCalls): lease it no more. */
  signalRetiring(): void {
    this.out.push({ op: 'retiring' });
  }

  /** Tell the node this worker cannot set up its runtime env (it takes no work). */
  signalEnvSetupFailed(message: string): void {
    this.out.push({ op: 'envfail', message });
  }

  /** Tell the node this worker is ready to take work. */
  signalReady(): void {
    this.out.push({ op: 'ready' });
  }

  /** Write what is batched now (a worker does before it starts a task: results never wait behind one). */
  flush(): void {
    this.out.flush();
  }

  async close(): Promise<void> {
    if (this.status.value === 'closed') return;
    this.out.flush();
    this.markClosed();
  }

  /** The link is gone: nothing more is sent, pending calls fail, status$ completes. */
  private markClosed(): void {
    if (this.status.value === 'closed') return;
    this.status.next('closed');
    this.status.complete();
    const calls = [...this.calls.values()];
    this.calls.clear();
    for (const c of calls) c.reject(new Error('raybus worker: the link to the node is closed'));
  }

  /** Send everything queued and resolve once the link has written it (before an exit). */
  drain(): Promise<void> {
    this.out.flush();
    return new Promise((resolve) => this.link.send(encodeFrames([]), resolve));
  }

  assertQueue(queue: string, opts?: QueueOptions): Promise<void> {
    return this.call((id) => ({ op: 'assert', id, queue, opts })).then(() => undefined);
  }

  deleteQueue(queue: string): Promise<void> {
    return this.call((id) => ({ op: 'delete', id, queue })).then(() => undefined);
  }

  async publish(queue: string, body: Uint8Array, options?: PublishOptions): Promise<void> {
    this.publishSync(queue, body, options);
  }

  /** Queue a publish for the node (for hot paths: no promise). */
  publishSync(queue: string, body: Uint8Array, options?: PublishOptions): void {
    if (this.status.value === 'closed') throw new Error('raybus worker: the link to the node is closed');
    if (options?.headers) this.out.push({ op: 'pub', queue, body, headers: options.headers });
    else if (options?.transient) this.out.push({ op: 'pub', queue, body, transient: true });
    else if (options?.batch) this.out.push({ op: 'pub', queue, body, batch: true });
    else this.out.push({ op: 'pub', queue, body });
  }

  async consume(queue: string, handler: (d: Delivery) => void, options: ConsumeOptions): Promise<Subscription> {
    const ctag = (await this.call((id) => ({ op: 'consume', id, queue, prefetch: options.prefetch })))!;
    this.consumers.set(ctag, handler);
    this.queueOf.set(ctag, queue);
    const early = this.early.get(ctag);
    this.early.delete(ctag);
    if (early) for (const f of early) this.onFrame(f);
    return {
      cancel: async () => {
        this.consumers.delete(ctag);
        this.queueOf.delete(ctag);
        await this.call((id) => ({ op: 'cancel', id, ctag }));
      },
    };
  }

  async broadcast(topic: string, body: Uint8Array): Promise<void> {
    if (this.status.value === 'closed') throw new Error('raybus worker: the link to the node is closed');
    this.out.push({ op: 'bcast', topic, body });
  }

  async subscribe(topic: string, handler: (body: Uint8Array) => void): Promise<Subscription> {
    const stag = (await this.call((id) => ({ op: 'sub', id, topic })))!;
    this.topics.set(stag, handler);
    return {
      cancel: async () => {
        this.topics.delete(stag);
        await this.call((id) => ({ op: 'unsub', id, stag }));
      },
    };
  }

  private call(build: (id: number) => ChildFrame): Promise<number | undefined> {
    if (this.status.value === 'closed') return Promise.reject(new Error('raybus worker: the link to the node is closed'));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.calls.set(id, { resolve, reject });
      this.out.push(build(id));
    });
  }

  private onFrame(f: ParentFrame): void {
    switch (f.op) {
      case 'ok':
      case 'err': {
        const c = this.calls.get(f.id);
        this.calls.delete(f.id);
        if (f.op === 'ok') c?.resolve(f.tag);
        else c?.reject(new Error(f.message));
        return;
      }
      case 'deliver': {
        const handler = this.consumers.get(f.ctag);
        if (!handler) {
          const list = this.early.get(f.ctag) ?? [];
          list.push(f);
          this.early.set(f.ctag, list);
          return;
        }
        const { ctag, dtag } = f;
        const queue = this.queueOf.get(ctag) ?? '';
        const required = this.options.requireHeader;
        if (required !== undefined && f.headers?.[required] === undefined) {
          this.out.push({ op: 'nack', ctag, dtag, requeue: false, reason: 'unauthenticated: not opened with the cluster key' });
          if (this.refused++ % 100 === 0) logger.warn(`raybus worker: refused an unauthenticated message on ${queue} (${this.refused} so far)`);
          return;
        }
        handler({
          queue,
          body: f.body,
          headers: f.headers ?? {},
          redelivered: f.redelivered === true,
          ack: () => this.out.push({ op: 'ack', ctag, dtag }),
          nack: (requeue: boolean, reason?: string) => this.out.push(reason === undefined ? { op: 'nack', ctag, dtag, requeue } : { op: 'nack', ctag, dtag, requeue, reason: reason.slice(0, 1024) }),
        });
        return;
      }
      case 'topic':
        this.topics.get(f.stag)?.(f.body);
        return;
      case 'puberr':
        logger.warn(`raybus: publish to ${f.queue} failed on the node: ${f.message}`);
        return;
    }
  }
}
