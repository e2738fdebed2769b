/**
 * Messages as they leave and arrive: encoded as envelopes by the serializer, and on arrival
 * decoded within the serializer's limits, then checked against their destination's schema
 * (protocol/schemas.ts). A message that fails either is refused with the reason and never
 * reaches a handler.
 */
import { logger } from '../util/logger';
import type { QueueKind, QueueMessages, TopicKind, TopicMessages } from '../protocol/queues';
import { QUEUE_SCHEMAS, TOPIC_SCHEMAS } from '../protocol/schemas';
import { decodeEnvelope, encodeEnvelope, MalformedMessageError } from './serializer';

/** Encode a message for a queue of kind `K` (typed: it must belong there). */
export function encodeMessage<K extends QueueKind>(_kind: K, msg: QueueMessages[K]): Uint8Array {
  return encodeEnvelope(msg);
}

/** Decode and check a message that arrived on a queue of kind `kind`; throws MalformedMessageError. */
export function decodeMessage<K extends QueueKind>(kind: K, body: Uint8Array): QueueMessages[K] {
  const msg = decodeChecked(body);
  const problem = QUEUE_SCHEMAS[kind](msg, '');
  if (problem) throw new MalformedMessageError(problem);
  return msg as QueueMessages[K];
}

/** Decode and check a message that arrived on a topic of kind `kind`; throws MalformedMessageError. */
export function decodeTopicMessage<K extends TopicKind>(kind: K, body: Uint8Array): TopicMessages[K] {
  const msg = decodeChecked(body);
  const problem = TOPIC_SCHEMAS[kind](msg, '');
  if (problem) throw new MalformedMessageError(problem);
  return msg as TopicMessages[K];
}

function decodeChecked(body: Uint8Array): unknown {
  const b = body[0];
  // Every raybus envelope is a msgpack map (fixmap, map16, map32).
  if (b === undefined || !((b >= 0x80 && b <= 0x8f) || b === 0xde || b === 0xdf)) throw new MalformedMessageError('not a raybus envelope');
  try {
    return decodeEnvelope(body);
  } catch (err) {
    if (err instanceof MalformedMessageError) throw err;
    throw new MalformedMessageError(`undecodable: ${(err as Error).message}`);
  }
}

/** A delivery that can be dead-lettered (the part of transport's Delivery a rejection needs). */
interface Rejectable {
  readonly queue: string;
  nack(requeue: boolean, reason?: string): void;
}

/**
 * The malformed messages one receiver refused: each is dead-lettered (queues) or dropped
 * (topics) with its reason and counted; the first and every `every`-th are reported, so that
 * a flood of junk does not flood the log.
 */
export class RejectionCounter {
  /** Messages refused so far. */
  count = 0;

  /**
   * @param who names the receiver in reports (e.g. `raybus node`).
   * @param warn where reports go (default: raybus's logger).
   */
  constructor(
    private readonly who: string,
    private readonly warn: (line: string) => void = (line) => logger.warn(line),
    private readonly every = 100,
  ) {}

  /** Dead-letter `d` with the reason `err` gives, and count it. */
  reject(d: Rejectable, err: unknown): void {
    const problem = problemOf(err);
    d.nack(false, `malformed: ${problem}`);
    this.counted(d.queue, problem);
  }

  /** Count a topic message that was dropped. */
  drop(topic: string, err: unknown): void {
    this.counted(topic, problemOf(err));
  }

  private counted(where: string, problem: string): void {
    if (this.count++ % this.every === 0) this.warn(`${this.who}: rejected a malformed message on ${where} (${this.count} so far): ${problem}`);
  }
}

function problemOf(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).slice(0, 300);
}
