/**
 * Every queue and topic raybus uses, by kind, with what may be sent to each: a send typed
 * with {@link QueueMessages} does not compile when the message does not belong on the queue.
 *
 * | queue | consumer | carries |
 * |---|---|---|
 * | `raybus.broker` | the resource broker (single active consumer) | {@link BrokerMsg} |
 * | `raybus.broker.election` | broker candidates | {@link ElectionTokenMsg} |
 * | `raybus.node.<nodeId>` | a node | {@link NodeMsg} |
 * | `raybus.worker.<workerId>` | a worker | {@link WorkerMsg} |
 * | `raybus.actor.<actorId>` | the actor's host (its mailbox) | {@link MailboxMsg} |
 * | `raybus.reply.<procId>` | a driver or worker | {@link ReplyMsg} |
 * | `raybus.presence.<id>` | a node or driver, while its connection lives | {@link PresenceMsg} |
 */
import type { ActorId, NodeId, ProcId, QueueName, ReplyQueue, TopicName, WorkerId } from './ids';
import type { BrokerMsg } from './messages/broker';
import type { MailboxMsg } from './messages/mailbox';
import type { NodeMsg } from './messages/node';
import type { BrokerElectedMsg, CancelNotice, ElectionTokenMsg, OwnerDiedNotice, PresenceMsg } from './messages/presence';
import type { ReplyMsg } from './messages/reply';
import type { StateQueryMsg } from './messages/state';
import type { WorkerMsg } from './messages/worker';

/** What may be sent to each kind of queue. */
export interface QueueMessages {
  broker: BrokerMsg;
  election: ElectionTokenMsg;
  node: NodeMsg;
  worker: WorkerMsg;
  mailbox: MailboxMsg;
  reply: ReplyMsg;
  presence: PresenceMsg;
}
export type QueueKind = keyof QueueMessages;

/** What is broadcast on each topic. */
export interface TopicMessages {
  'owner-died': OwnerDiedNotice;
  cancel: CancelNotice;
  'broker-elected': BrokerElectedMsg;
  state: StateQueryMsg;
}
export type TopicKind = keyof TopicMessages;

const PREFIX = 'raybus.';

export const BROKER_QUEUE = 'raybus.broker' as QueueName<'broker'>;
/** The broker leader election queue (single active consumer; see broker/broker-election.ts). */
export const BROKER_ELECTION_QUEUE = 'raybus.broker.election' as QueueName<'election'>;
export const replyQueue = (proc: ProcId | WorkerId): ReplyQueue => `raybus.reply.${proc}` as ReplyQueue;
export const workerQueue = (worker: WorkerId): QueueName<'worker'> => `raybus.worker.${worker}` as QueueName<'worker'>;
export const actorQueue = (actor: ActorId): QueueName<'mailbox'> => `raybus.actor.${actor}` as QueueName<'mailbox'>;
export const nodeQueue = (node: NodeId): QueueName<'node'> => `raybus.node.${node}` as QueueName<'node'>;
/**
 * A process's presence queue (auto-delete, consumed while its connection lives): the broker
 * probes it to tell a live process from a dead one, and sends it `BrokerElectedMsg`.
 */
export const presenceQueue = (presence: string): QueueName<'presence'> => `raybus.presence.${presence}` as QueueName<'presence'>;

/** Broadcast when a process that owns objects is gone. */
export const OWNER_DIED_TOPIC = 'raybus.owner-died' as TopicName<'owner-died'>;
/** Broadcast when an actor call is cancelled. */
export const CANCEL_TOPIC = 'raybus.cancel' as TopicName<'cancel'>;
/** State queries: every process holding state rows answers the query's reply queue. */
export const STATE_TOPIC = 'raybus.state' as TopicName<'state'>;
/** Topic on which a new broker leader announces itself. */
export const BROKER_ELECTED_TOPIC = 'raybus.events.broker-elected' as TopicName<'broker-elected'>;

const REPLY_PREFIX = 'raybus.reply.';
const NODE_PRESENCE_PREFIX = 'node-';

/** The presence id of a node. */
export const nodePresenceId = (node: NodeId): string => `${NODE_PRESENCE_PREFIX}${node}`;

/** The node of a node presence id (undefined for a driver's). */
export function nodeOfPresenceId(presence: string): NodeId | undefined {
  return presence.startsWith(NODE_PRESENCE_PREFIX) ? (presence.slice(NODE_PRESENCE_PREFIX.length) as NodeId) : undefined;
}

/** The presence id of a driver, from its reply queue (undefined for workers, which have none). */
export function ownerPresenceId(owner: ReplyQueue | string): string | undefined {
  return owner.startsWith(`${REPLY_PREFIX}driver-`) ? owner.slice(REPLY_PREFIX.length) : undefined;
}

const KINDS: ReadonlyArray<[RegExp, QueueKind]> = [
  [/^raybus\.broker$/, 'broker'],
  [/^raybus\.broker\.election$/, 'election'],
  [/^raybus\.node\./, 'node'],
  [/^raybus\.worker\./, 'worker'],
  [/^raybus\.actor\./, 'mailbox'],
  [/^raybus\.reply\./, 'reply'],
  [/^raybus\.presence\./, 'presence'],
];

/** The kind of a raybus queue (undefined for names raybus does not use). */
export function queueKind(queue: string): QueueKind | undefined {
  if (!queue.startsWith(PREFIX)) return undefined;
  for (const [re, kind] of KINDS) if (re.test(queue)) return kind;
  return undefined;
}
