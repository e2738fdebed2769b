/** Messages to an actor's mailbox (`raybus.actor.<actorId>`): method calls. */
import type { ReplyQueue, TaskId } from '../ids';
import type { TaskContextInfo, WireArg } from '../wire';

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
}

export type MailboxMsg = CallMsg;
