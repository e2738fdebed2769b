/**
 * Routes what arrives on a process's reply queue to whoever registered for its tag. The core
 * registers its own (results, leases, objects, borrow tokens, streams); higher layers
 * register theirs (`pg-ready` by the placement-group API, stream control by the generator
 * runner of a worker). An untagged or unknown message is an answer to a request, or dropped.
 */
import type { Delivery } from '../transport/transport';
import { decodeEnvelope } from '../serialization/serializer';
import type { ReplyMsg } from '../protocol/messages/reply';
import { logger } from '../util/logger';

/** The tag of a reply-queue message. */
export type ReplyTag = ReplyMsg['t'];

type Select<M, T> = M extends { t: infer U } ? (T extends U ? M : never) : never;
/** The message type carrying tag `T`. */
export type ReplyOf<T extends ReplyTag> = Select<ReplyMsg, T>;
/** Handles one kind of reply-queue message. */
export type ReplyHandler<T extends ReplyTag> = (msg: ReplyOf<T>) => void;

/** Dispatches a reply queue's messages to the handlers registered for their tags. */
export class ReplyRouter {
  private readonly handlers = new Map<string, (msg: ReplyMsg) => void>();
  /** Messages dropped: undecodable, untagged, or with a tag nobody handles and no request waits for. */
  dropped = 0;

  /**
   * @param where the queue, for warnings
   * @param unhandled gets messages with no handler (answers to requests); returns true if taken
   */
  constructor(
    private readonly where: string,
    private readonly unhandled: (msg: ReplyMsg) => boolean,
  ) {}

  /** Route messages tagged `tag` to `handler` (replacing an earlier registration). */
  register<T extends ReplyTag>(tag: T, handler: ReplyHandler<T>): void {
    this.handlers.set(tag, handler as (msg: ReplyMsg) => void);
  }

  /** Stop routing `tag` (its messages then count as dropped). */
  unregister(tag: ReplyTag): void {
    this.handlers.delete(tag);
  }

  /** The queue's consumer: acknowledge, decode, route. Never throws. */
  readonly onDelivery = (d: Delivery): void => {
    d.ack();
    let msg: ReplyMsg;
    try {
      msg = decodeEnvelope(d.body) as ReplyMsg;
      if (typeof msg !== 'object' || msg === null || typeof (msg as { t?: unknown }).t !== 'string') throw new Error('no message tag');
    } catch (err) {
      this.dropped += 1;
      logger.warn(`raybus: dropped a malformed message on ${this.where}: ${(err as Error).message}`);
      return;
    }
    try {
      this.dispatch(msg);
    } catch (err) {
      logger.error(`raybus: failed to handle '${msg.t}' on ${this.where}: ${(err as Error).stack}`);
    }
  };

  /** Route one decoded message. */
  dispatch(msg: ReplyMsg): void {
    const handler = this.handlers.get(msg.t);
    if (handler) return handler(msg);
    if (!this.unhandled(msg)) this.dropped += 1;
  }
}
