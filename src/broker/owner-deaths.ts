/**
 * What goes with an owner (a driver, or a worker) that died or left: its non-detached actors,
 * its task leases and waiting lease requests, and its placement groups that are not detached
 * (Ray scopes them to their creator). A driver's death is also told to borrowers of its objects.
 * The broker server routes the deaths here; this sees only the broker parts it updates.
 */
import type { ReplyQueue } from '../protocol/ids';
import type { Transport } from '../transport/transport';
import { encodeEnvelope } from '../serialization/serializer';
import { OWNER_DIED_TOPIC } from '../protocol/queues';
import type { OwnerDiedNotice } from '../protocol/messages/presence';
import type { ActorRegistry } from './actor-registry';
import type { LeaseDispatcher } from './lease-dispatcher';
import type { PlacementGroupManager } from './placement-group-manager';

/** The owner whose things go, or a test of owners (e.g. every worker of a dead node). */
export type OwnerMatch = ReplyQueue | ((owner: ReplyQueue) => boolean);

/** The parts of the broker an owner's death updates. */
export interface OwnerDeathsParts {
  readonly actors: Pick<ActorRegistry, 'onOwnersDied' | 'killPlacementGroupActors'>;
  readonly dispatcher: Pick<LeaseDispatcher, 'dropOwners' | 'dropPlacementGroup' | 'scheduleDispatch'>;
  readonly placementGroups: Pick<PlacementGroupManager, 'ownedBy' | 'remove'>;
  readonly transport: Pick<Transport, 'broadcast' | 'deleteQueue'>;
  /** Queues never expire on this bus: the broker deletes those of processes it knows are dead. */
  readonly cleansQueues: boolean;
  /** Stop watching an owner's presence (cluster mode). */
  unwatchOwner(owner: ReplyQueue): void;
}

/** Releases what dead owners held (see the file comment). */
export class OwnerDeaths {
  constructor(private readonly parts: OwnerDeathsParts) {}

  /**
   * A driver's connection is gone: its actors and leases go (ownerDied), and borrowers of its
   * objects hear that they are lost (as a node tells them of its workers). Where queues never
   * expire, its reply queue is deleted.
   */
  driverDied(owner: ReplyQueue, message: string): void {
    const { transport } = this.parts;
    this.ownerDied(owner, message);
    transport.broadcast(OWNER_DIED_TOPIC, encodeEnvelope({ owner } satisfies OwnerDiedNotice)).catch(() => undefined);
    if (this.parts.cleansQueues) transport.deleteQueue(owner).catch(() => undefined);
  }

  /**
   * An owner (a driver, or a worker) died or left: its non-detached actors die, its task
   * leases are released and their workers stopped, its waiting lease requests dropped, and
   * its placement groups that are not detached removed (Ray scopes them to their creator).
   */
  ownerDied(owner: OwnerMatch, message: string): void {
    const match = typeof owner === 'string' ? (o: string) => o === owner : owner;
    if (typeof owner === 'string') this.parts.unwatchOwner(owner);
    this.parts.actors.onOwnersDied(match, message);
    this.parts.dispatcher.dropOwners(match);
    for (const pg of this.parts.placementGroups.ownedBy(match)) this.removePlacementGroup(pg);
  }

  /** Remove a placement group (its owner died, or `remove-pg`): kill its actors, fail its running tasks, free its bundles. */
  removePlacementGroup(pg: string): void {
    const { actors, dispatcher, placementGroups } = this.parts;
    // Its actors die first (killed), so that a placement of theirs still waiting fails as dead.
    actors.killPlacementGroupActors(pg);
    dispatcher.dropPlacementGroup(pg);
    placementGroups.remove(pg);
    dispatcher.scheduleDispatch();
  }
}
