/**
 * What the broker answers about the cluster: `clusterInfo` (nodes and resources, as
 * `ray.nodes()` / `ray.cluster_resources()` see them) and `clusterState` (the live cluster
 * for `raybus status` and `raybus list`). Read-only views over the server's parts.
 */
import type { NodeId } from '../protocol/ids';
import type { ClusterInfo, ClusterState, PlacementGroupInfo } from '../protocol/wire';
import type { ResourceLedger } from '../scheduling/ledger/resource-ledger';
import type { Grant } from './grants';

/** The nodes as the directory knows them. */
export interface NodeView {
  /** Every node that ever registered. */
  all(): NodeId[];
  isDraining(node: NodeId): boolean;
  /** What the node process refused (unauthenticated, malformed), when it reported it. */
  refusalsOf?(node: NodeId): { readonly refused?: Record<string, number>; readonly malformed?: number } | undefined;
}

/** Everything `clusterState` reads. */
export interface ClusterStateSource {
  readonly ledger: ResourceLedger;
  readonly nodes: NodeView;
  readonly leader: ClusterState['leader'];
  grants(): Grant[];
  pending(): ClusterState['pending'];
  actors(): ClusterState['actors'];
  placementGroups(): Record<string, PlacementGroupInfo>;
}

/** Nodes and resources; dead nodes are listed with alive: false, as in Ray. */
export function clusterInfo(ledger: ResourceLedger, nodes: NodeView): ClusterInfo {
  return {
    nodes: nodes.all().map((nodeId) => ({
      nodeId,
      alive: ledger.isAlive(nodeId),
      resources: { ...ledger.totals(nodeId) },
      labels: { ...ledger.labels(nodeId) },
    })),
    total: { ...ledger.clusterTotals() },
    available: { ...ledger.clusterAvailable() },
  };
}

/** The live cluster: leader, nodes (a draining node counts as alive), actors, leases, waiting work, groups. */
export function clusterState(src: ClusterStateSource): ClusterState {
  const info = clusterInfo(src.ledger, src.nodes);
  return {
    leader: src.leader,
    nodes: info.nodes.map((n) => ({
      ...n,
      alive: n.alive || src.nodes.isDraining(n.nodeId),
      draining: src.nodes.isDraining(n.nodeId),
      available: { ...src.ledger.available(n.nodeId) },
      ...src.nodes.refusalsOf?.(n.nodeId),
    })),
    actors: src.actors(),
    leases: src.grants().map((g) => ({
      lease: g.id,
      nodeId: g.node,
      ...(g.owner ? { owner: g.owner } : {}),
      ...(g.actor ? { actorId: g.actor } : {}),
      demand: { ...g.demand },
    })),
    pending: src.pending(),
    placementGroups: src.placementGroups(),
  };
}
