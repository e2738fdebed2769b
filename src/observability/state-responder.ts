/**
 * A process's answers to state queries: it hears the state topic and, for each query, asks the
 * handlers registered for its kind (the core's task table and objects, a worker's running
 * calls and timeline, a node's workers) and sends one bounded answer to the query's reply
 * queue. Handlers only read tables that are kept anyway; a process with nothing to say stays
 * silent. Queries whose reply address is not a reply queue are dropped.
 */
import { capabilitiesOf, type Subscription, type Transport } from '../transport/transport';
import { STATE_TOPIC, queueKind } from '../protocol/queues';
import type { ReplyQueue } from '../protocol/ids';
import type { StateAnswerMsg, StateQueryMsg, StateSource } from '../protocol/messages/state';
import type { StateQueryKind } from '../protocol/state';
import { decodeTopicMessage, encodeMessage } from '../serialization/message-codec';
import { logger } from '../util/logger';

/** Largest answer sent, whatever the transport takes. */
const MAX_ANSWER_BYTES = 8 * 1024 * 1024;
/** Room left for envelope and framing. */
const ANSWER_SLACK_BYTES = 16 * 1024;

/** What one handler adds to a process's answer. */
export type StateContribution = Partial<Omit<StateAnswerMsg, 't' | 'req' | 'from'>>;

/** Computes a contribution to the answer to `q` (undefined: nothing to say). */
export type StateHandler = (q: StateQueryMsg) => StateContribution | undefined;

/** Answers state queries for one process (see the file comment). */
export class StateResponder {
  private readonly handlers = new Map<StateQueryKind, StateHandler[]>();
  private subscription?: Subscription;
  private stopped = false;

  constructor(
    private readonly transport: Transport,
    private readonly source: StateSource,
  ) {}

  /** Answer queries of `kind` with what `handler` returns (with other handlers' contributions). */
  on(kind: StateQueryKind, handler: StateHandler): void {
    const list = this.handlers.get(kind) ?? [];
    list.push(handler);
    this.handlers.set(kind, list);
  }

  /** Hear the state topic. */
  async start(): Promise<void> {
    const sub = await this.transport.subscribe(STATE_TOPIC, (body) => this.onQuery(body));
    if (this.stopped) await sub.cancel().catch(() => undefined);
    else this.subscription = sub;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.subscription?.cancel().catch(() => undefined);
  }

  private onQuery(body: Uint8Array): void {
    let q: StateQueryMsg;
    try {
      q = decodeTopicMessage('state', body);
    } catch (err) {
      logger.debug(`raybus: dropped a malformed state query: ${(err as Error).message}`);
      return;
    }
    // Anyone on the bus may broadcast: answers go to reply queues only.
    if (queueKind(q.reply) !== 'reply') return;
    const answer = this.answer(q);
    if (!answer) return;
    this.transport.publish(q.reply, this.fit(answer)).catch((err: unknown) => logger.debug(`raybus: a state answer to ${q.reply} was not delivered: ${(err as Error).message}`));
  }

  /**
   * The answer's bytes, within the transport's largest message: rows are sorted by key, so
   * dropping the last ones and saying `more` keeps paging exact (the next page starts there).
   */
  private fit(answer: StateAnswerMsg): Uint8Array {
    const cap = Math.min(capabilitiesOf(this.transport).maxMessageBytes, MAX_ANSWER_BYTES) - ANSWER_SLACK_BYTES;
    let body = encodeMessage('reply', answer);
    while (body.length > cap && answer.items.length > 0) {
      answer.items.length = Math.floor(answer.items.length / 2);
      answer.more = true;
      body = encodeMessage('reply', answer);
    }
    return body;
  }

  /** This process's answer to `q` (undefined when no handler has anything to say). */
  answer(q: StateQueryMsg): StateAnswerMsg | undefined {
    const handlers = this.handlers.get(q.what);
    if (!handlers) return undefined;
    const answer: StateAnswerMsg = { t: 'state-answer', req: q.req, from: this.source, items: [], total: 0, more: false };
    let said = false;
    for (const handler of handlers) {
      let c: StateContribution | undefined;
      try {
        c = handler(q);
      } catch (err) {
        logger.error(`raybus: answering a '${q.what}' state query failed: ${(err as Error).stack}`);
        continue;
      }
      if (!c) continue;
      said = true;
      if (c.items) answer.items.push(...c.items);
      answer.total += c.total ?? c.items?.length ?? 0;
      answer.more ||= c.more ?? false;
      if (c.dropped) answer.dropped = (answer.dropped ?? 0) + c.dropped;
      if (c.running) (answer.running ??= []).push(...c.running);
      if (c.summary) answer.summary = { ...answer.summary, ...c.summary };
      if (c.counts) answer.counts = { ...answer.counts, ...c.counts };
      if (c.metrics) answer.metrics = { ...answer.metrics, ...c.metrics };
    }
    return said ? answer : undefined;
  }
}

/** True for a reply-queue address (where answers may go). */
export function isReplyQueue(queue: string): queue is ReplyQueue {
  return queueKind(queue) === 'reply';
}
