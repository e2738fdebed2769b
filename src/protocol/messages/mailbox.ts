/** Messages to an actor's mailbox (`raybus.actor.<actorId>`): method calls. */
import type { ReplyQueue, TaskId } from '../ids';
import type { TaskContextInfo, WireArg } from '../wire';

/**
 * Where a call stands in its caller's sequence (one sequence per actor handle): on a bus that
 * does not requeue at the head, the host runs a caller's calls in this order even when a dead
 * host's calls come back after later ones (worker/call-sequencer.ts).
 */
export interface CallSeq {
  /** The sequence (random per handle). */
  s: string;
  /** This call's number in it, from 0. */
  n: number;
  /** The lowest number of the sequence still waiting for its result when this call was sent. */
  lo: number;
}

export interface CallMsg {
  t: 'call';
  task: TaskId;
  method: string;
  args: WireArg[];
  nret: number;
  owner: ReplyQueue;
  ctx: TaskContextInfo;
  retries: number;
  /** Generator backpressure (items ahead of the consumer); absent = off. */
  bp?: number;
  /** Its place in its caller's sequence. */
  sq?: CallSeq;
}

export type MailboxMsg = CallMsg;
