/**
 * Owns the one AMQP connection of a transport: connects (bounded attempts), notices loss,
 * reconnects with exponential backoff and jitter, and rebuilds every participant (topology,
 * publisher, consumers, subscriptions) on the new connection before reporting 'connected'.
 */
import { connect as amqpConnect, type ChannelModel } from 'amqplib';
import type { Socket } from 'node:net';
import { BehaviorSubject } from 'rxjs';
import type { TransportStatus } from '../../src/transport/transport';
import { AmqpTransportError, closeQuietly, describeCause, redactUrl } from './errors';
import { backoffDelay, type ResolvedAmqpTransportOptions } from './options';

/** One incarnation of the connection. A new one (higher generation) replaces it after a loss. */
export interface Link {
  readonly model: ChannelModel;
  readonly generation: number;
}

/** A part of the transport that has channels to (re)build on each new connection. */
export interface LinkParticipant {
  /** Build channels on `link`. Rejecting makes the manager drop the link and retry. */
  attach(link: Link): Promise<void>;
}

interface Waiter {
  resolve(link: Link): void;
  reject(err: Error): void;
}

/** Connection lifecycle of one AMQP transport. */
export class ConnectionManager {
  readonly status$ = new BehaviorSubject<TransportStatus>('connecting');
  /** True while the broker has blocked this connection (resource alarm): do not publish. */
  readonly blocked$ = new BehaviorSubject<boolean>(false);
  /** Called once when (re)connecting is given up; must end in `close()`. */
  onGiveUp: (err: AmqpTransportError) => void = () => void this.close();

  private link: Link | undefined;
  private generation = 0;
  private readonly participants: LinkParticipant[] = [];
  private loop: Promise<void> | undefined;
  private connectRequested = false;
  private everConnected = false;
  private closing = false;
  private closedPromise: Promise<void> | undefined;
  private terminalError: AmqpTransportError | undefined;
  private waiters: Waiter[] = [];
  private cancelDelay: (() => void) | undefined;
  private readonly connectUrl: string;
  /** Acks and batched publishes, sent together at the end of the event-loop turn. */
  readonly turn = new TurnEnd();

  constructor(
    private readonly url: string,
    readonly options: ResolvedAmqpTransportOptions,
  ) {
    const u = new URL(url);
    if (u.protocol !== 'amqp:' && u.protocol !== 'amqps:') {
      throw new TypeError(`raybus amqp: expected an amqp:// or amqps:// address, got '${u.protocol}'`);
    }
    // amqplib reads the heartbeat from the query string when given a string URL.
    if (!u.searchParams.has('heartbeat')) u.searchParams.set('heartbeat', String(options.heartbeatSeconds));
    this.connectUrl = u.toString();
  }

  /** Register a participant; participants are attached in registration order. */
  participate(participant: LinkParticipant): void {
    this.participants.push(participant);
  }

  get isClosing(): boolean {
    return this.closing;
  }

  /** True while `link` is the live connection (false once it died or the transport closes). */
  isCurrent(link: Link): boolean {
    return this.link === link && !this.closing;
  }

  /** The error every operation fails with once the transport is closed. */
  closedError(): AmqpTransportError {
    return this.terminalError ?? new AmqpTransportError('CLOSED', 'raybus amqp: transport is closed');
  }

  /** Why operations cannot be started now (closed, or `connect()` never called); undefined if they can. */
  unusableReason(): Error | undefined {
    if (this.closing) return this.closedError();
    if (!this.connectRequested) return new Error('raybus amqp: call connect() before using the transport');
    return undefined;
  }

  connect(): Promise<void> {
    if (this.closing) return Promise.reject(this.closedError());
    this.connectRequested = true;
    if (!this.link && !this.loop) this.startLoop(true);
    return this.ready().then(() => undefined);
  }

  /** Resolves with the live link, waiting through a reconnect; rejects once closed. */
  ready(): Promise<Link> {
    const unusable = this.unusableReason();
    if (unusable) return Promise.reject(unusable);
    if (this.link && this.status$.value === 'connected') return Promise.resolve(this.link);
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  /** A participant could not rebuild its channel on a live link: recycle the whole connection. */
  fail(link: Link, err: unknown): void {
    if (!this.isCurrent(link)) return;
    this.options.onWarning('raybus amqp: recycling the connection', err);
    void closeQuietly(link.model);
  }

  close(): Promise<void> {
    if (!this.closedPromise) this.closedPromise = this.doClose();
    return this.closedPromise;
  }

  private async doClose(): Promise<void> {
    this.closing = true;
    this.cancelDelay?.();
    // Acks and publishes made so far go out before the connection closes: amqplib moves
    // channel frames to the socket at the end of a turn, and closing drops those not moved yet
    // (an ack lost so would requeue work that was done).
    this.turn.run();
    // amqplib's muxer moves them in a setImmediate queued after this one: wait a turn past it.
    if (this.link) await new Promise<void>((resolve) => setImmediate(() => setImmediate(resolve)));
    const link = this.link;
    this.link = undefined;
    if (link) await closeQuietly(link.model);
    // An attempt in flight finishes first (and closes what it opened), so no socket outlives close().
    await this.loop?.catch(() => undefined);
    this.blocked$.complete();
    if (this.status$.value !== 'closed') this.status$.next('closed');
    this.status$.complete();
    this.rejectWaiters(this.closedError());
  }

  private async runLoop(initial: boolean): Promise<void> {
    const maxAttempts = initial ? this.options.connectAttempts : this.options.reconnectAttempts;
    for (let attempt = 1; ; attempt++) {
      if (this.closing) return;
      try {
        const link = await this.open();
        this.everConnected = true;
        this.status$.next('connected');
        const waiters = this.waiters;
        this.waiters = [];
        for (const w of waiters) w.resolve(link);
        return;
      } catch (err) {
        if (this.closing) return;
        if (attempt >= maxAttempts) {
          this.giveUp(initial, attempt, err);
          return;
        }
        await this.delay(backoffDelay(this.options, attempt));
      }
    }
  }

  private async open(): Promise<Link> {
    const model = await amqpConnect(this.connectUrl, {
      // Nagle's algorithm would hold small frames for up to 40 ms: always off.
      noDelay: true,
      timeout: this.options.connectTimeoutMs,
      clientProperties: { connection_name: this.options.connectionName },
      // amqps://: trust these certificate authorities (besides the system's, when none given).
      ...(this.options.ca ? { ca: [this.options.ca] } : {}),
    });
    if (this.closing) {
      await closeQuietly(model);
      throw this.closedError();
    }
    coalesceWrites(model);
    if (!this.options.keepAlive) unrefConnection(model);
    const link: Link = { model, generation: ++this.generation };
    // amqplib emits 'error' before 'close' for fatal errors; without a listener it would throw.
    model.on('error', () => undefined);
    model.on('close', (err?: Error) => this.onLinkClosed(link, err));
    model.on('blocked', (reason: string) => {
      if (this.link !== link) return;
      this.options.onWarning(`raybus amqp: broker blocked publishing (${reason})`);
      this.blocked$.next(true);
    });
    model.on('unblocked', () => {
      if (this.link === link) this.blocked$.next(false);
    });
    this.link = link;
    this.blocked$.next(false);
    try {
      for (const participant of this.participants) await participant.attach(link);
    } catch (err) {
      if (this.link === link) this.link = undefined;
      await closeQuietly(model);
      throw err;
    }
    // The connection may have died after the last participant's final await.
    if (this.link !== link) throw new Error('connection lost while restoring channels');
    return link;
  }

  private onLinkClosed(link: Link, err: Error | undefined): void {
    if (this.link !== link) return;
    this.link = undefined;
    if (!this.blocked$.closed) this.blocked$.next(false);
    if (this.closing) return;
    if (this.everConnected) {
      this.options.onWarning(`raybus amqp: connection lost (${err ? describeCause(err) : 'closed'}); reconnecting`);
      if (this.status$.value !== 'reconnecting') this.status$.next('reconnecting');
    }
    // A loop that is attaching notices the loss itself; otherwise start one.
    if (!this.loop) this.startLoop(!this.everConnected);
  }

  private startLoop(initial: boolean): void {
    const loop: Promise<void> = this.runLoop(initial).finally(() => {
      if (this.loop === loop) this.loop = undefined;
    });
    this.loop = loop;
  }

  private giveUp(initial: boolean, attempts: number, cause: unknown): void {
    const error = new AmqpTransportError(
      initial ? 'CONNECT_FAILED' : 'RECONNECT_FAILED',
      `raybus amqp: cannot connect to ${redactUrl(this.url)} after ${attempts} attempt${attempts === 1 ? '' : 's'}: ${describeCause(cause)}`,
      { cause, retryable: true },
    );
    this.terminalError = error;
    // The transport closes itself; close() reports 'closed' and then rejects the waiters.
    this.onGiveUp(error);
  }

  private rejectWaiters(err: Error): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w.reject(err);
  }

  private delay(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      if (!this.options.keepAlive) timer.unref();
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.cancelDelay = done;
    });
  }
}

/** Let the process exit while this connection is open: its socket and heartbeat timers. */
function unrefConnection(model: ChannelModel): void {
  type Unrefable = { unref?: () => unknown } | undefined;
  const connection = (model as unknown as { connection?: { stream?: Unrefable; heartbeater?: { sendTimer?: Unrefable; recvTimer?: Unrefable } } }).connection;
  connection?.stream?.unref?.();
  connection?.heartbeater?.sendTimer?.unref?.();
  connection?.heartbeater?.recvTimer?.unref?.();
}

/**
 * Work done once at the end of the current event-loop turn (one setImmediate), in the order it
 * was deferred: a consumer's acks and the publisher's batches. amqplib moves the frames of all
 * channels to the socket in one later pass (its muxer), so an ack and the publish that answers
 * it (a result, the next task) leave in one write (coalesceWrites) instead of two; on loopback a
 * write costs tens of microseconds (it runs the broker's side of TCP and wakes it).
 */
class TurnEnd {
  private work: Array<() => void> = [];
  private scheduled = false;

  defer(fn: () => void): void {
    this.work.push(fn);
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(this.run);
  }

  /** Do now what waits for the turn's end (before a channel or the connection closes). */
  readonly run = (): void => {
    this.scheduled = false;
    const work = this.work;
    if (work.length === 0) return;
    this.work = [];
    for (const fn of work) fn();
  };
}

/**
 * amqplib writes every frame to the socket as it is produced: with Nagle off, each publish,
 * ack and confirm costs a write syscall (and a wake-up of the broker). Cork the socket on the
 * first write of a tick and uncork on the next: everything written in one tick leaves in one
 * writev, still without waiting for a timer.
 */
function coalesceWrites(model: ChannelModel): void {
  const socket = (model as unknown as { connection?: { stream?: Partial<Socket> } }).connection?.stream;
  if (!socket || typeof socket.cork !== 'function' || typeof socket.uncork !== 'function' || typeof socket.write !== 'function') return;
  const s = socket as Socket;
  const write = s.write.bind(s) as (...args: unknown[]) => boolean;
  let corked = false;
  const uncork = (): void => {
    corked = false;
    s.uncork();
  };
  s.write = ((...args: unknown[]): boolean => {
    if (!corked) {
      corked = true;
      s.cork();
      process.nextTick(uncork);
    }
    return write(...args);
  }) as Socket['write'];
}
