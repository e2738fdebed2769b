/**
 * Routes what arrives on a process's reply queue to whoever registered for its tag. The core
 * registers its own (results, leases, objects, borrow tokens, streams); higher layers
 * register theirs (`pg-ready` by the placement-group API, stream control by the generator
 * runner of a worker). An untagged or unknown message is an answer to a request, or dropped.
 */
import type { Delivery } from '../transport/transport';
import { decodeMessage, RejectionCounter } from '../serialization/message-codec';
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
  /** Messages dropped: malformed, or with a tag nobody handles and no request waits for. */
  dropped = 0;
  private readonly malformed: RejectionCounter;

  /**
   * @param where the queue, for warnings
   * @param unhandled gets messages with no handler (answers to requests); returns true if taken
   */
  constructor(
    private readonly where: string,
    private readonly unhandled: (msg: ReplyMsg) => boolean,
  ) {
    this.malformed = new RejectionCounter(`raybus (${where})`);
  }

  /** Route messages tagged `tag` to `handler` (replacing an earlier registration). */
  register<T extends ReplyTag>(tag: T, handler: ReplyHandler<T>): void {
    this.handlers.set(tag, handler as (msg: ReplyMsg) => void);
  }

  /** Stop routing `tag` (its messages then count as dropped). */
  unregister(tag: ReplyTag): void {
    this.handlers.delete(tag);
  }

  /**
   * The queue's consumer: decode and check the message against the reply queue's schema, then
   * acknowledge and route it. A malformed one is dead-lettered with the reason and counted
   * (one warning per 100). Never throws.
   */
  readonly onDelivery = (d: Delivery): void => {
    let msg: ReplyMsg;
    try {
      msg = decodeMessage('reply', d.body);
    } catch (err) {
      this.dropped += 1;
      this.malformed.reject(d, err);
      return;
    }
    d.ack();
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
