/**
 * What a test Cluster on a bus would leave there after its nodes stopped, and its removal.
 *
 * A process deletes its own queues when it stops (a node its own and its workers', a driver
 * its reply queue), but some queues outlive every process on purpose, because the cluster
 * outlives them: the broker's queue and the election's, the mailboxes of dead actors (the
 * broker answers late calls on them for a while), and the queues of a node that was killed
 * and of its workers. A test cluster's name is used once, so once its nodes stopped nothing
 * will use them again: `ClusterLeftovers` notes which actors the broker leader knows (before a
 * node is killed too, since a leader on it takes what it knew along), then, once the nodes
 * stopped, deletes those queues. On a vhost or server shared with others, only this cluster's
 * queues go (their names carry the cluster's name); what every raybus cluster on the bus shares
 * (RabbitMQ's `raybus.events` and `raybus.dlx` exchanges and `raybus.dead-letters` queue, the
 * NATS lease buckets) stays.
 */
import type { ActorId, NodeId, WorkerId } from '../protocol/ids';
import { BROKER_ELECTION_QUEUE, BROKER_QUEUE, actorQueue, nodeQueue, replyQueue, workerQueue } from '../protocol/queues';
import type { Transport } from '../transport/transport';
import { clusterState } from '../broker/broker-query';
import { openClusterTransport } from '../runtimes/open-transport';

/** How the node processes secure their connections (`raybus start` options). */
export interface ProcessNodeSecurity {
  readonly clusterKey?: string;
  readonly encrypt?: boolean;
  readonly insecure?: boolean;
  readonly caFile?: string;
}

/** How long the cleanup waits for the bus. */
const CONNECT_TIMEOUT_MS = 5000;
/** How long a note taken before a node is killed waits for the broker leader. */
const NOTE_TIMEOUT_MS = 5000;
/**
 * How long the last note waits for the leader: long enough for a new one to be elected when a
 * test has just killed the node of the last one (on NATS, a lease of 6 s runs out first).
 */
const LAST_NOTE_TIMEOUT_MS = 15_000;

/** The queues of a cluster that no stopping process deletes. */
export class ClusterLeftovers {
  private readonly nodes = new Set<NodeId>();
  private readonly actors = new Set<ActorId>();
  /** Workers whose queues nobody deleted: those of killed nodes, and actors' (their node may have been killed). */
  private readonly workers = new Set<WorkerId>();

  constructor(
    private readonly address: string,
    private readonly security: ProcessNodeSecurity,
  ) {}

  /** A node of the cluster (its queue goes if it was killed). */
  node(id: NodeId): void {
    this.nodes.add(id);
  }

  /** Workers of a node that is being killed. */
  killedWorkers(ids: Iterable<WorkerId>): void {
    for (const w of ids) this.workers.add(w);
  }

  /** Note the actors the broker leader knows now. Best effort: never throws. */
  async note(timeoutMs = NOTE_TIMEOUT_MS): Promise<void> {
    await this.withBus(async (bus) => {
      const state = await clusterState(bus, timeoutMs).catch(() => undefined);
      for (const n of state?.nodes ?? []) this.nodes.add(n.nodeId);
      for (const a of state?.actors ?? []) {
        this.actors.add(a.actorId);
        if (a.workerId) this.workers.add(a.workerId);
      }
    });
  }

  /** The queues to delete once every node stopped. */
  queues(): string[] {
    const queues = new Set<string>([BROKER_QUEUE, BROKER_ELECTION_QUEUE]);
    for (const n of this.nodes) queues.add(nodeQueue(n));
    for (const a of this.actors) queues.add(actorQueue(a));
    for (const w of this.workers) queues.add(workerQueue(w)).add(replyQueue(w));
    return [...queues];
  }

  /**
   * Note what the leader knows (unless no node is left to lead), run `stop` (which stops every
   * node), then delete the queues. A bus that cannot be reached, or a leader that does not
   * answer, leaves less known and never fails the stop.
   */
  async stopAndForget(stop: () => Promise<void>, nodesLeft: boolean): Promise<void> {
    if (nodesLeft) await this.note(LAST_NOTE_TIMEOUT_MS);
    try {
      await stop();
    } finally {
      await this.withBus((bus) => Promise.all(this.queues().map((q) => bus.deleteQueue(q).catch(() => undefined))));
    }
  }

  /** Run `fn` on a connection of its own to the cluster's bus; nothing where none can be had. */
  private async withBus(fn: (bus: Transport) => Promise<unknown>): Promise<void> {
    let bus: Transport | undefined;
    try {
      const s = this.security;
      bus = openClusterTransport(this.address, {
        connectionName: 'raybus testing cleanup',
        connectAttempts: 1,
        connectTimeoutMs: CONNECT_TIMEOUT_MS,
        ...(s.clusterKey ? { clusterKey: s.clusterKey } : {}),
        ...(s.encrypt ? { encrypt: true } : {}),
        ...(s.insecure ? { insecure: true } : {}),
        ...(s.caFile ? { caFile: s.caFile } : {}),
      });
      await bus.connect();
      await fn(bus);
    } catch {
      // Unreachable bus: less is known, or less deleted.
    } finally {
      await bus?.close().catch(() => undefined);
    }
  }
}
