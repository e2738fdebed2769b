/**
 * Messages of cluster mode outside the work queues: a process's presence queue
 * (`raybus.presence.<id>`), the election queue, and the topics every process hears.
 */
import type { ReplyQueue, TaskId } from '../ids';

/** A new broker leader announces itself (topic and presence queues). */
export interface BrokerElectedMsg {
  t: 'broker-elected';
  epoch: string;
}
/** Sent to presence queues to see whether they exist; ignored by their consumer. */
export interface PresenceProbeMsg {
  t: 'probe';
}
export type PresenceMsg = BrokerElectedMsg | PresenceProbeMsg;

/** A candidate's token on the election queue (broker/broker-election.ts). */
export interface ElectionTokenMsg {
  t: 'election-token';
  candidate: string;
  n: number;
}

/** Broadcast when a process that owns objects is gone. */
export interface OwnerDiedNotice {
  owner: ReplyQueue;
}
/** Broadcast when an actor call is cancelled: its host drops it, or aborts it. */
export interface CancelNotice {
  task: TaskId;
}
