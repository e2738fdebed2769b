/**
 * The JetStream objects behind work queues: one stream per queue (WorkQueue retention, its
 * subject `<namespace>.q.<queue>`) and on it one durable pull consumer shared by every
 * `consume()` of that queue, in any process. Streams of queues this transport declared are
 * declared again after a reconnect (a restarted server has lost those kept in memory).
 */
import { AckPolicy, DeliverPolicy, DiscardPolicy, RetentionPolicy, StorageType, type ConsumerConfig, type ConsumerInfo, type StreamConfig } from '@nats-io/jetstream';
import type { QueueInspection, QueueOptions } from '../../src/transport/transport';
import type { ConnectionManager, Link, LinkParticipant } from './connection';
import { apiErrorCode, describeCause, JS_ERR, NatsTransportError } from './errors';
import type { Naming, QueueNames } from './naming';
import { ApiGate } from './api-gate';

/** JetStream API requests of one transport in flight at once (api-gate.ts). */
const API_IN_FLIGHT = 16;

/** Dead-letter copies kept (oldest dropped first), as the AMQP adapter bounds its queue. */
const DEAD_LETTER_MAX_MSGS = 100_000;

/** Stream of a queue. A pure function of the options, so every declaring process agrees. */
function queueStreamConfig(names: QueueNames, options: QueueOptions): Partial<StreamConfig> & { name: string } {
  return {
    name: names.stream,
    subjects: [names.subject],
    retention: RetentionPolicy.Workqueue,
    storage: options.durable ? StorageType.File : StorageType.Memory,
    discard: DiscardPolicy.Old,
    num_replicas: 1,
  };
}

/** The one consumer of a queue stream. Only its creator's `ackWaitMs` counts; later ones read it back. */
function queueConsumerConfig(name: string, ackWaitMs: number): Partial<ConsumerConfig> {
  return {
    durable_name: name,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    ack_wait: ackWaitMs * 1_000_000,
    // Prefetch is each subscription's own (its pull credit), not a limit shared by all of them.
    max_ack_pending: -1,
    max_deliver: -1,
  };
}

/** Declares and deletes queue streams; re-declares this transport's after a reconnect. */
export class Topology implements LinkParticipant {
  private readonly declared = new Map<string, QueueOptions>();
  private readonly gate = new ApiGate(API_IN_FLIGHT);

  constructor(
    private readonly manager: ConnectionManager,
    private readonly naming: Naming,
  ) {}

  async resume(link: Link): Promise<void> {
    for (const [queue, options] of this.declared) {
      try {
        await this.declare(link, queue, options);
      } catch (err) {
        this.manager.options.onWarning(`raybus nats: could not re-declare queue '${queue}'`, err);
      }
    }
  }

  async assertQueue(queue: string, options: QueueOptions): Promise<void> {
    const link = await this.manager.ready();
    await this.declare(link, queue, options);
    this.declared.set(queue, { ...options });
  }

  async deleteQueue(queue: string): Promise<void> {
    this.declared.delete(queue);
    const link = await this.manager.ready();
    try {
      await this.gate.run(() => link.jsm.streams.delete(this.naming.queue(queue).stream));
    } catch (err) {
      if (apiErrorCode(err) !== JS_ERR.STREAM_NOT_FOUND) throw refused(`delete queue '${queue}'`, err);
    }
  }

  /**
   * The consumer of `queue`'s stream, created if missing; undefined when the stream does not
   * exist (the queue was never declared, or was deleted).
   */
  async consumerOf(link: Link, queue: string): Promise<ConsumerInfo | undefined> {
    const names = this.naming.queue(queue);
    try {
      return await this.gate.run(() => link.jsm.consumers.info(names.stream, this.naming.consumer));
    } catch (err) {
      const code = apiErrorCode(err);
      if (code === JS_ERR.STREAM_NOT_FOUND) return undefined;
      if (code !== JS_ERR.CONSUMER_NOT_FOUND) throw refused(`look up the consumer of queue '${queue}'`, err);
    }
    try {
      return await this.gate.run(() => link.jsm.consumers.add(names.stream, queueConsumerConfig(this.naming.consumer, this.manager.options.ackWaitMs)));
    } catch (err) {
      if (apiErrorCode(err) === JS_ERR.STREAM_NOT_FOUND) return undefined;
      throw refused(`create the consumer of queue '${queue}'`, err);
    }
  }

  /**
   * What a queue's stream holds, from its consumer's info (undefined without the stream): ready
   * messages are the consumer's pending ones, unacknowledged its ack-pending ones, consumers the
   * pull requests waiting on it. The consumer is not created here.
   */
  async inspect(queue: string): Promise<QueueInspection | undefined> {
    const link = await this.manager.ready();
    const names = this.naming.queue(queue);
    try {
      const ci = await this.gate.run(() => link.jsm.consumers.info(names.stream, this.naming.consumer));
      return { messages: ci.num_pending, consumers: ci.num_waiting, unacked: ci.num_ack_pending, redelivered: ci.num_redelivered };
    } catch (err) {
      const code = apiErrorCode(err);
      if (code === JS_ERR.STREAM_NOT_FOUND) return undefined;
      if (code !== JS_ERR.CONSUMER_NOT_FOUND) throw refused(`inspect queue '${queue}'`, err);
    }
    try {
      const si = await this.gate.run(() => link.jsm.streams.info(names.stream));
      return { messages: si.state.messages, consumers: 0 };
    } catch (err) {
      if (apiErrorCode(err) === JS_ERR.STREAM_NOT_FOUND) return undefined;
      throw refused(`inspect queue '${queue}'`, err);
    }
  }

  /** Create the dead-letter stream (idempotent). */
  async ensureDeadLetters(link: Link): Promise<void> {
    await link.jsm.streams.add({
      name: this.naming.deadLetterStream,
      subjects: [this.naming.deadLetterFilter],
      retention: RetentionPolicy.Limits,
      storage: StorageType.File,
      discard: DiscardPolicy.Old,
      max_msgs: DEAD_LETTER_MAX_MSGS,
      num_replicas: 1,
    });
  }

  private async declare(link: Link, queue: string, options: QueueOptions): Promise<void> {
    const names = this.naming.queue(queue);
    let consumers: number;
    try {
      // Adding a stream that exists with the same configuration is a no-op returning its info.
      const info = await this.gate.run(() => link.jsm.streams.add(queueStreamConfig(names, options)));
      consumers = info.state.consumer_count;
    } catch (err) {
      // Another process created the same stream at the same moment: the server may answer
      // "subjects overlap" instead of the stream's info. It exists: take it as it is.
      const same = apiErrorCode(err) === JS_ERR.SUBJECT_OVERLAP ? await this.sameStream(link, names) : undefined;
      if (same !== undefined) consumers = same;
      else if (apiErrorCode(err) === JS_ERR.STREAM_NAME_IN_USE) {
        throw new NatsTransportError('INVALID_QUEUE', `raybus nats: queue '${queue}' exists with different options: ${describeCause(err)}`, { cause: err });
      }
      else throw refused(`declare queue '${queue}'`, err);
    }
    if (consumers === 0) await this.consumerOf(link, queue);
  }

  /** The consumer count of the queue's stream if it exists with the queue's subject, else undefined. */
  private async sameStream(link: Link, names: QueueNames): Promise<number | undefined> {
    try {
      const info = await this.gate.run(() => link.jsm.streams.info(names.stream));
      return info.config.subjects?.includes(names.subject) ? info.state.consumer_count : undefined;
    } catch {
      return undefined;
    }
  }
}

export function refused(what: string, err: unknown): NatsTransportError {
  if (err instanceof NatsTransportError) return err;
  return new NatsTransportError('BROKER_REFUSED', `raybus nats: could not ${what}: ${describeCause(err)}`, { cause: err, retryable: apiErrorCode(err) === undefined });
}
