/**
 * `Cluster`: several nodes with their own resources on this machine, for tests. By default
 * they share an in-process bus, addressed as `memory://<id>`; give that address to `init`.
 *
 * @example
 * const cluster = await Cluster.start({ nodes: [{ numCpus: 2 }, { numCpus: 2 }] });
 * await ray.init({ address: cluster.address });
 * ...
 * await ray.shutdown();
 * await cluster.shutdown();
 */
import { randomBytes } from 'node:crypto';
import { InMemoryBus } from '../transport/in-memory-transport';
import { ResourceBroker } from '../scheduling/resource-broker';
import { NodeManager } from '../node/node-manager';
import { BROKER_QUEUE, type Resources } from '../core/protocol';
import { encodeEnvelope } from '../serialization/serializer';
import { registerMemoryCluster, unregisterMemoryCluster } from '../api/memory-clusters';
import { nodeResources, type NodeResourceOptions } from '../node/node-resources';

/** Resources of one test node. */
export type ClusterNodeOptions = NodeResourceOptions & { readonly labels?: Record<string, string> };

/** A node of a test cluster. */
export interface ClusterNode {
  readonly nodeId: string;
  readonly resources: Resources;
}

/** Options of `Cluster.start`. */
export interface ClusterOptions {
  readonly nodes?: ClusterNodeOptions[];
  /** An amqp:// address: not available in this build (the embedded bus is used by default). */
  readonly address?: string;
}

export class Cluster {
  /** Give this to `ray.init({ address })`. */
  readonly address: string;
  /** The cluster key by-value code is signed with (over a broker). */
  readonly clusterKey = randomBytes(32).toString('hex');
  private readonly managers = new Map<string, NodeManager>();
  private readonly nodeList: ClusterNode[] = [];
  private closed = false;

  private constructor(
    private readonly bus: InMemoryBus,
    private readonly broker: ResourceBroker,
    private readonly id: string,
  ) {
    this.address = `memory://${id}`;
  }

  /** Start a cluster with the given nodes (default: one node with 1 CPU). */
  static async start(options: ClusterOptions = {}): Promise<Cluster> {
    if (options.address !== undefined) {
      throw new RangeError('Cluster.start: clusters on a RabbitMQ address need the AMQP cluster mode, which this build does not include yet');
    }
    const id = randomBytes(6).toString('hex');
    const bus = new InMemoryBus();
    const brokerTransport = bus.connect();
    await brokerTransport.connect();
    const broker = new ResourceBroker(brokerTransport);
    await broker.start();
    const cluster = new Cluster(bus, broker, id);
    registerMemoryCluster(id, { bus, headNodeId: () => cluster.nodeList[0]?.nodeId });
    for (const n of options.nodes ?? [{ numCpus: 1 }]) await cluster.addNode(n);
    return cluster;
  }

  /** The nodes alive now. */
  get nodes(): ClusterNode[] {
    return [...this.nodeList];
  }

  /** Add a node; resolves once the broker can schedule on it. */
  async addNode(options: ClusterNodeOptions = {}): Promise<ClusterNode> {
    if (this.closed) throw new Error('Cluster is shut down');
    const nodeId = randomBytes(14).toString('hex');
    const resources = await nodeResources({ numCpus: 1, ...options }, { detectGpus: options.numGpus === undefined ? false : true });
    const manager = new NodeManager({
      nodeId,
      resources,
      labels: options.labels ?? {},
      jobId: 'cluster',
      namespace: 'default',
      connect: async () => {
        const t = this.bus.connect();
        await t.connect();
        return t;
      },
      prestart: 0,
    });
    await manager.start();
    const node = { nodeId, resources };
    this.managers.set(nodeId, manager);
    this.nodeList.push(node);
    return node;
  }

  /** Simulate a node failure: its workers are killed and its work fails over. */
  async removeNode(node: ClusterNode | string): Promise<void> {
    const nodeId = typeof node === 'string' ? node : node.nodeId;
    const manager = this.managers.get(nodeId);
    if (!manager) throw new RangeError(`Cluster.removeNode: no node ${nodeId}`);
    this.managers.delete(nodeId);
    const i = this.nodeList.findIndex((n) => n.nodeId === nodeId);
    if (i >= 0) this.nodeList.splice(i, 1);
    await manager.stop();
    await this.bus.connect().publish(BROKER_QUEUE, encodeEnvelope({ t: 'node-gone', node: nodeId }));
  }

  /** Pids of the worker processes of a node (to crash them in tests). */
  workerPids(node: ClusterNode | string): number[] {
    return this.managers.get(typeof node === 'string' ? node : node.nodeId)?.workerPids() ?? [];
  }

  async shutdown(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    unregisterMemoryCluster(this.id);
    for (const m of this.managers.values()) await m.stop();
    this.managers.clear();
    await this.broker.stop();
  }
}
