/**
 * Owns the one NATS connection of a transport: connects (bounded attempts), follows the
 * client's own reconnects, and after each one lets every participant (topology, publisher,
 * consumers) repair what the server may have lost before reporting 'connected' again.
 *
 * The NATS client reconnects by itself and re-sends its subscriptions (topic and presence
 * subscriptions need nothing more). What it cannot know: queue streams kept in memory are gone
 * after a server restart, pull requests died with the old connection, and publishes sent just
 * before the loss may never have been acknowledged.
 */
import { connect as natsConnect, type NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { BehaviorSubject } from 'rxjs';
import type { TransportStatus } from '../../src/transport/transport';
import { describeCause, NatsTransportError, redactServers } from './errors';
import type { ResolvedNatsTransportOptions } from './options';
import { installClientBuffers } from './client-buffers';

/** The live connection and its JetStream manager. `epoch` grows with every reconnect. */
export interface Link {
  readonly nc: NatsConnection;
  readonly jsm: JetStreamManager;
  readonly epoch: number;
}

/** A part of the transport with server-side state to repair after a reconnect. */
export interface LinkParticipant {
  /** The connection dropped: stop relying on what was in flight. */
  suspend?(): void;
  /** The connection is back (`link.epoch` is new): repair. A rejection is reported, not retried. */
  resume(link: Link): Promise<void>;
}

interface Waiter {
  resolve(link: Link): void;
  reject(err: Error): void;
}

export class ConnectionManager {
  readonly status$ = new BehaviorSubject<TransportStatus>('connecting');
  /** Called once when the client gave up reconnecting; must end in the transport's `close()`. */
  onGiveUp: () => void = () => undefined;

  private link: Link | undefined;
  private readonly participants: LinkParticipant[] = [];
  private connecting: Promise<void> | undefined;
  private connectRequested = false;
  private closing = false;
  private closed: Promise<void> | undefined;
  private terminalError: NatsTransportError | undefined;
  private waiters: Waiter[] = [];
  private resuming: Promise<void> = Promise.resolve();

  constructor(
    private readonly url: string,
    readonly options: ResolvedNatsTransportOptions,
  ) {}

  participate(participant: LinkParticipant): void {
    this.participants.push(participant);
  }

  get isClosing(): boolean {
    return this.closing;
  }

  /** The connection when there is one (also while reconnecting: the client buffers what is written). */
  get current(): Link | undefined {
    return this.closing ? undefined : this.link;
  }

  get connected(): boolean {
    return !this.closing && this.status$.value === 'connected';
  }

  /** The server's `max_payload` (what one message with its headers may take). */
  get maxPayload(): number | undefined {
    return this.link?.nc.info?.max_payload;
  }

  closedError(): NatsTransportError {
    return this.terminalError ?? new NatsTransportError('CLOSED', 'raybus nats: transport is closed');
  }

  /** Why operations cannot be started now (closed, or `connect()` never called); undefined if they can. */
  unusableReason(): Error | undefined {
    if (this.closing) return this.closedError();
    if (!this.connectRequested) return new Error('raybus nats: call connect() before using the transport');
    return undefined;
  }

  connect(): Promise<void> {
    if (this.closing) return Promise.reject(this.closedError());
    this.connectRequested = true;
    this.connecting ??= this.firstConnect();
    return this.connecting;
  }

  /** Resolves with the link once connected, waiting through a reconnect; rejects once closed. */
  ready(): Promise<Link> {
    const unusable = this.unusableReason();
    if (unusable) return Promise.reject(unusable);
    if (this.link && this.status$.value === 'connected') return Promise.resolve(this.link);
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  close(): Promise<void> {
    this.closed ??= this.doClose();
    return this.closed;
  }

  private async firstConnect(): Promise<void> {
    const o = this.options;
    let lastError: unknown;
    for (let attempt = 1; attempt <= o.connectAttempts && !this.closing; attempt++) {
      let nc: NatsConnection | undefined;
      try {
        nc = await natsConnect({
          ...serversAndCredentials(this.url),
          name: o.connectionName,
          timeout: o.connectTimeoutMs,
          reconnect: true,
          maxReconnectAttempts: Number.isFinite(o.reconnectAttempts) ? o.reconnectAttempts : -1,
          reconnectTimeWait: o.reconnectTimeWaitMs,
          pingInterval: o.pingIntervalMs,
          maxPingOut: 2,
          // A stack trace per request costs more than the request on a hot path.
          noAsyncTraces: true,
          ...(o.caFile !== undefined ? { tls: { caFile: o.caFile } } : {}),
        });
        const jsm = await jetstreamManager(nc, { timeout: o.apiTimeoutMs }).catch((err: unknown) => {
          // A server that has just started may not answer JetStream yet: try again. One that
          // answers without JetStream will not have it on the next attempt either.
          if ((err as { name?: unknown })?.name === 'TimeoutError') throw err;
          throw new NatsTransportError('CONNECT_FAILED', `raybus nats: JetStream is not enabled on ${redactServers(this.url)} (start nats-server with -js): ${describeCause(err)}`, {
            cause: err,
          });
        });
        if (this.closing) {
          await nc.close();
          break;
        }
        this.link = { nc, jsm, epoch: 1 };
        installClientBuffers(nc);
        if (!o.keepAlive) unrefClient(nc);
        this.follow(nc);
        this.setStatus('connected');
        this.releaseWaiters();
        return;
      } catch (err) {
        lastError = err;
        if (nc) await nc.close().catch(() => undefined);
        if (err instanceof NatsTransportError) break;
        if ((err as { name?: unknown })?.name === 'AuthorizationError') {
          // Wrong user name, password or token: the next attempt would be refused the same way.
          lastError = new NatsTransportError('CONNECT_FAILED', `raybus nats: ${redactServers(this.url)} refused the user name or password: ${describeCause(err)}`, { cause: err });
          break;
        }
        if (attempt < o.connectAttempts && !this.closing) await sleep(Math.min(2000, 100 * 2 ** (attempt - 1)));
      }
    }
    if (this.closing) throw this.closedError();
    const error =
      lastError instanceof NatsTransportError
        ? lastError
        : new NatsTransportError('CONNECT_FAILED', `raybus nats: could not connect to ${redactServers(this.url)}: ${describeCause(lastError)}`, {
            cause: lastError,
            retryable: true,
          });
    this.terminalError = error;
    void this.close();
    throw error;
  }

  /** Follow the client's status until the connection closes. */
  private follow(nc: NatsConnection): void {
    void (async () => {
      for await (const s of nc.status()) {
        if (this.closing) break;
        if (s.type === 'disconnect') {
          if (this.status$.value === 'connected') this.setStatus('reconnecting');
          for (const p of this.participants) p.suspend?.();
        } else if (s.type === 'reconnect') {
          // A reconnect dials a new socket.
          if (!this.options.keepAlive) unrefClient(nc);
          this.onReconnect();
        }
      }
    })().catch(() => undefined);
    void nc.closed().then((err) => {
      if (this.closing) return;
      // The client closed on its own: it gave up reconnecting (or the server kicked it out for good).
      this.terminalError = new NatsTransportError('RECONNECT_FAILED', `raybus nats: lost the connection to ${redactServers(this.url)} for good${err ? `: ${describeCause(err)}` : ''}`, {
        cause: err,
      });
      this.onGiveUp();
    });
  }

  private onReconnect(): void {
    const prev = this.link;
    if (!prev) return;
    const link: Link = { nc: prev.nc, jsm: prev.jsm, epoch: prev.epoch + 1 };
    this.link = link;
    // Participants resume in registration order (queues exist again before publishes are
    // re-sent and consumers pull), one reconnect after the other.
    this.resuming = this.resuming.then(async () => {
      for (const p of this.participants) {
        if (this.link !== link || this.closing) return;
        try {
          await p.resume(link);
        } catch (err) {
          this.options.onWarning('raybus nats: could not restore state after a reconnect', err);
        }
      }
      if (this.link !== link || this.closing || link.nc.isClosed()) return;
      this.setStatus('connected');
      this.releaseWaiters();
    });
  }

  private releaseWaiters(): void {
    const link = this.link;
    if (!link) return;
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w.resolve(link);
  }

  private setStatus(status: TransportStatus): void {
    if (this.status$.value !== status && !this.status$.closed) this.status$.next(status);
  }

  /** Close the connection. `flush` first sends what is buffered (the naks of stopped consumers). */
  private async doClose(): Promise<void> {
    this.closing = true;
    const err = this.closedError();
    for (const w of this.waiters.splice(0)) w.reject(err);
    const link = this.link;
    if (link && !link.nc.isClosed()) {
      if (this.status$.value === 'connected') await withTimeout(link.nc.flush(), this.options.apiTimeoutMs).catch(() => undefined);
      await link.nc.close().catch(() => undefined);
    }
    this.setStatus('closed');
    this.status$.complete();
  }
}

/**
 * The client reads credentials from options only: take `user:pass@` (or `token@`) out of the
 * URL(s) and pass them as options.
 */
export function serversAndCredentials(url: string): { servers: string[]; user?: string; pass?: string; token?: string } {
  const out: { servers: string[]; user?: string; pass?: string; token?: string } = { servers: [] };
  for (const raw of url.split(',').map((s) => s.trim()).filter(Boolean)) {
    const m = /^([a-z]+:\/\/)?(?:([^@/]*)@)?(.*)$/i.exec(raw)!;
    const [, scheme = '', auth, rest = ''] = m;
    out.servers.push(scheme + rest);
    if (!auth || out.user !== undefined || out.token !== undefined) continue;
    const colon = auth.indexOf(':');
    if (colon < 0) out.token = decodeURIComponent(auth);
    else {
      out.user = decodeURIComponent(auth.slice(0, colon));
      out.pass = decodeURIComponent(auth.slice(colon + 1));
    }
  }
  return out;
}

/**
 * Let the process exit while this connection is open: unref its socket, and the timer its
 * heartbeat re-arms after every ping. The client exposes neither, so this reaches into its
 * internals and does nothing where they differ (the connection then keeps the process alive).
 */
function unrefClient(nc: NatsConnection): void {
  type Unrefable = { unref?: () => unknown } | undefined;
  type Heartbeat = { timer?: Unrefable; _schedule?: () => void; raybusUnref?: true };
  const protocol = (nc as unknown as { protocol?: { transport?: { socket?: Unrefable }; heartbeats?: Heartbeat } }).protocol;
  protocol?.transport?.socket?.unref?.();
  const heartbeats = protocol?.heartbeats;
  const schedule = heartbeats?._schedule;
  if (!heartbeats || typeof schedule !== 'function' || heartbeats.raybusUnref) return;
  heartbeats.raybusUnref = true;
  heartbeats._schedule = function (this: Heartbeat) {
    schedule.call(this);
    this.timer?.unref?.();
  };
  heartbeats.timer?.unref?.();
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** `p`, or a rejection after `ms` (the timer never outlives the race). */
export function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}
