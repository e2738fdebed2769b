/**
 * The outbox of a process's runtime: typed sends to queues and topics (a message that does
 * not belong on a queue does not compile), requests correlated with their answers by request
 * id, queue declarations made once, and flushing what the transport batches.
 */
import { syncPublishOf, type PublishOptions, type Subscription, type SyncPublish, type Transport } from '../transport/transport';
import { encodeEnvelope } from '../serialization/serializer';
import { decodeTopicMessage, RejectionCounter } from '../serialization/message-codec';
import { encodeError } from '../serialization/error-codec';
import { RaySystemError } from '../errors/ray-errors';
import { BROKER_QUEUE, type QueueKind, type QueueMessages, type TopicKind, type TopicMessages } from '../protocol/queues';
import type { QueueName, ReplyQueue, RequestId, TaskId, TopicName } from '../protocol/ids';
import type { ReplyMsg } from '../protocol/messages/reply';
import type { BrokerMsg } from '../protocol/messages/broker';
import { logger } from '../util/logger';

/**
 * Told when a send failed, with the message that was not delivered and its queue: one
 * handler per sender serves every message, so a send makes no closure.
 */
export type SendErrorHandler<M> = (err: Error, msg: M, queue: string) => void;

/** What the messenger needs of the rest of the runtime. */
export interface MessengerPort {
  /** This process's reply queue: answers to its requests come back here. */
  readonly address: ReplyQueue;
  newRequestId(): RequestId;
  /**
   * A message for `taskId` could not be delivered: fail that task if it still waits for its
   * results (it must not wait forever). Returns false when no such task waits.
   */
  taskUndeliverable(taskId: TaskId, reason: string): boolean;
  /** The message as it may leave (values too large for one message become blobs). */
  outgoing?(msg: unknown): unknown;
}


/** Sends and requests of one process, on its transport. */
export class Messenger {
  private readonly requests = new Map<RequestId, (msg: ReplyMsg) => void>();
  private readonly declared = new Map<string, Promise<void>>();
  /** The transport's synchronous publish, where it has one (in-memory bus, IPC link). */
  private readonly publishSync: SyncPublish | undefined;
  private closed = false;

  constructor(
    readonly transport: Transport,
    private readonly port: MessengerPort,
  ) {
    this.publishSync = syncPublishOf(transport);
    this.gathers = this.publishSync !== undefined || transport.takesGathered === true;
  }

  /** Messages are written gathered (serialization/gathered-bytes.ts): the transport reads their parts. */
  private readonly gathers: boolean;

  get address(): ReplyQueue {
    return this.port.address;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /**
   * Send a message to a queue. A failure is reported to `onError`; else, with `taskId`, it
   * fails that task; else it is logged. Once closed, only the broker is still told things.
   */
  send<K extends QueueKind>(
    queue: QueueName<K>,
    msg: QueueMessages[K],
    taskId?: TaskId,
    onError?: SendErrorHandler<QueueMessages[K]>,
    options?: PublishOptions,
  ): void {
    if (this.closed && queue !== BROKER_QUEUE) return;
    // An in-process transport writes the message to a pipe or hands it to one that does, and an
    // authenticated one writes it into the sealed message: its large byte arrays (raybus's own
    // serialized bytes) travel beside it until then, never copied in first.
    const body = encodeEnvelope(this.port.outgoing ? this.port.outgoing(msg) : msg, this.gathers);
    if (this.publishSync) {
      // In-process transports take the message at once: no promise per message. A failure is
      // still reported asynchronously, as a rejected publish would be.
      try {
        this.publishSync(queue, body, options);
      } catch (err) {
        queueMicrotask(() => this.sendFailed(err as Error, queue, msg, taskId, onError));
      }
      return;
    }
    this.transport.publish(queue, body, options).catch((err: unknown) => this.sendFailed(err as Error, queue, msg, taskId, onError));
  }

  sendToBroker(msg: BrokerMsg): void {
    this.send(BROKER_QUEUE, msg);
  }

  /** Broadcast a notice on a topic (fire and forget). */
  broadcast<K extends TopicKind>(topic: TopicName<K>, msg: TopicMessages[K]): void {
    if (this.closed) return;
    this.transport.broadcast(topic, encodeEnvelope(msg)).catch(() => undefined);
  }

  /**
   * Hear a topic of kind `kind`. Notices that do not match the topic's schema are dropped and
   * counted (one warning per 100).
   */
  subscribe<K extends TopicKind>(topic: TopicName<K>, kind: K, handler: (msg: TopicMessages[K]) => void): Promise<Subscription> {
    return this.transport.subscribe(topic, (body) => {
      let msg: TopicMessages[K];
      try {
        msg = decodeTopicMessage(kind, body);
      } catch (err) {
        this.malformedNotices.drop(topic, err);
        return;
      }
      handler(msg);
    });
  }

  private readonly malformedNotices = new RejectionCounter('raybus');

  private sendFailed<M>(err: Error, queue: string, msg: M, taskId: TaskId | undefined, onError: SendErrorHandler<M> | undefined): void {
    if (this.closed) return;
    if (onError) return onError(err, msg, queue);
    const reason = `raybus: the message for task ${taskId} could not be delivered to ${queue}: ${err.message}`;
    if (taskId && this.port.taskUndeliverable(taskId, reason)) return;
    logger.warn(`raybus: publish to ${queue} failed: ${err.message}`);
  }

  /**
   * Write out what the transport batches now. A worker does before it starts each task or
   * actor call: should that call kill the process, the calls before it have delivered their
   * results (and acks), so the owner knows exactly which one was running.
   */
  flush(): void {
    (this.transport as Partial<{ flush(): void }>).flush?.();
  }

  /** Send a request whose answer comes back to our reply queue tagged with `req`. */
  request<T extends ReplyMsg, K extends QueueKind = QueueKind>(queue: QueueName<K>, build: (req: RequestId, reply: ReplyQueue) => QueueMessages[K]): Promise<T> {
    if (this.closed) return Promise.reject(new RaySystemError('raybus is not running'));
    const req = this.port.newRequestId();
    return new Promise<T>((resolve) => {
      this.requests.set(req, resolve as (m: ReplyMsg) => void);
      this.send(queue, build(req, this.address));
    });
  }

  /** Wait for an answer tagged `req` (the request was sent by other means). */
  awaitRequest<T extends ReplyMsg>(req: RequestId): Promise<T> {
    if (this.closed) return Promise.reject(new RaySystemError('raybus is not running'));
    return new Promise<T>((resolve) => this.requests.set(req, resolve as (m: ReplyMsg) => void));
  }

  /** How many requests wait for their answer. */
  get openRequests(): number {
    return this.requests.size;
  }

  /** An answer arrived: resolve the request it is tagged with. False when none waits for it. */
  answer(msg: ReplyMsg): boolean {
    const req = (msg as { req?: unknown }).req;
    if (typeof req !== 'string') return false;
    const resolve = this.requests.get(req as RequestId);
    if (!resolve) return false;
    this.requests.delete(req as RequestId);
    resolve(msg);
    return true;
  }

  /** Declare a queue once per process (actor mailboxes). */
  ensureQueue(queue: string): Promise<void> {
    let p = this.declared.get(queue);
    if (!p) {
      p = this.transport.assertQueue(queue);
      this.declared.set(queue, p);
    }
    return p;
  }

  /** Stop sending (the broker excepted) and answer every open request with `reason`. */
  close(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    const err = encodeError(new RaySystemError(reason));
    for (const [, resolve] of this.requests) resolve({ t: 'ack', req: '' as RequestId, err });
    this.requests.clear();
  }
}
