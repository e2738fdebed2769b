/**
 * The queues of the in-memory bus (in-memory-transport.ts): their messages, read from a moving
 * head so that taking the next one costs O(1), and their consumers.
 */
import type { Delivery, MessageHeaders, QueueOptions } from './transport';

/** A message in a queue of the in-memory bus. */
export interface QueuedMessage {
  readonly body: Uint8Array;
  readonly headers: MessageHeaders;
  redelivered: boolean;
}

/** A consumer of a queue of the in-memory bus. */
export interface Consumer {
  readonly tag: number;
  readonly queue: MemoryQueue;
  readonly handler: (delivery: Delivery) => void;
  readonly prefetch: number;
  /** Its handler may be called inside `publish` (ConsumeOptions.recordsOnly). */
  readonly recordsOnly: boolean;
  /** The connection that consumes (closing it cancels the consumer). */
  readonly owner: object;
  readonly unacked: Set<QueuedMessage>;
  cancelled: boolean;
}

/** A queue of the in-memory bus: messages in order, with an O(1) amortised shift. */
export class MemoryQueue {
  readonly messages: QueuedMessage[] = [];
  /** Index into `messages` where unread messages start (amortised O(1) shift). */
  head = 0;
  readonly consumers: Consumer[] = [];
  cursor = 0;
  scheduled = false;
  /** Runs a scheduled dispatch (the bus makes it once per queue). */
  dispatchLater: (() => void) | undefined;
  /** Messages put back after a consumer left them unacknowledged (or nacked them with requeue). */
  redelivered = 0;
  constructor(
    readonly name: string,
    readonly options: QueueOptions,
  ) {}

  get size(): number {
    return this.messages.length - this.head;
  }

  shift(): QueuedMessage | undefined {
    if (this.head >= this.messages.length) return undefined;
    const msg = this.messages[this.head];
    this.messages[this.head] = undefined as unknown as QueuedMessage;
    this.head += 1;
    if (this.head > 1024 && this.head * 2 > this.messages.length) {
      this.messages.splice(0, this.head);
      this.head = 0;
    }
    return msg;
  }

  unshift(msg: QueuedMessage): void {
    if (this.head > 0) {
      this.head -= 1;
      this.messages[this.head] = msg;
    } else {
      this.messages.unshift(msg);
    }
  }
}
