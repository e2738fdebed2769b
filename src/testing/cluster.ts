/**
 * `Cluster`: several nodes with their own resources on this machine, for tests. By default
 * they share an in-process bus, addressed as `memory://<id>`; with `address: 'amqp://...'`
 * each node is a real `raybus start` process on that broker, under a cluster name of its own.
 * Give `cluster.address` to `init`.
 *
 * @example
 * const cluster = await Cluster.start({ nodes: [{ numCpus: 2 }, { numCpus: 2 }] });
 * await ray.init({ address: cluster.address });
 * ...
 * await ray.shutdown();
 * await cluster.shutdown();
 */
import { randomBytes } from 'node:crypto';
import { newNodeId, type JobId, type NodeId } from '../protocol/ids';
import type { InMemoryBus } from '../transport/in-memory-transport';
import type { BrokerServer } from '../broker/broker-server';
import type { NodeManager } from '../node/node-manager';
import type { NodeFactory } from '../di/tokens';
import { BROKER_SERVER, IN_MEMORY_BUS, NODE_FACTORY, SERIALIZER, TRANSPORT, resolve } from '../di/tokens';
import { createTestClusterContainer } from '../di/containers';
import { BROKER_QUEUE } from '../protocol/queues';
import type { Resources } from '../protocol/wire';
import { encodeEnvelope } from '../serialization/serializer';
import { registerMemoryCluster, unregisterMemoryCluster } from '../runtimes/memory-clusters';
import { registerClusterSettings, unregisterClusterSettings } from '../runtimes/cluster-keys';
import { isTransportAddress, registeredSchemes } from '../transport/transport-registry';
import { redactAddress } from '../transport/cluster-address';
import { nodeResources, type NodeResourceOptions } from '../node/node-resources';
import { namedClusterAddress, ProcessNodes } from './process-cluster';

/** Resources of one test node. */
export type ClusterNodeOptions = NodeResourceOptions & { readonly labels?: Record<string, string> };

/** A node of a test cluster. */
export interface ClusterNode {
  readonly nodeId: NodeId;
  readonly resources: Resources;
}

/** Options of `Cluster.start`. */
export interface ClusterOptions {
  readonly nodes?: ClusterNodeOptions[];
  /**
   * The address of a message bus (`amqp://`, `nats://`, or a registered scheme): the nodes run
   * as `raybus start` processes on it. Without it they share an in-process bus.
   */
  readonly address?: string;
  /**
   * Modules every node process imports first, as `raybus start --import` does (a transport
   * adapter that registers its scheme, say); their workers import them too.
   */
  readonly import?: readonly string[];
  /**
   * On a bus: the cluster key every message is authenticated with. Default: a random one
   * (`init` in this process knows it); `null`: none, nothing is authenticated (a bus on this
   * machine only, unless `insecure`).
   */
  readonly clusterKey?: string | null;
  /** On a bus: encrypt every message too (AES-256-GCM). */
  readonly encrypt?: boolean;
  /** On a bus that is not on this machine: run without a key. */
  readonly insecure?: boolean;
  /** TLS (`amqps://`): a PEM file of the certificate authorities the nodes and `init` trust. */
  readonly caFile?: string;
}

interface MemoryBackend {
  readonly kind: 'memory';
  readonly bus: InMemoryBus;
  readonly broker: BrokerServer;
  readonly newNode: NodeFactory;
  readonly managers: Map<string, NodeManager>;
}

interface ProcessBackend {
  readonly kind: 'process';
  readonly nodes: ProcessNodes;
}

export class Cluster {
  /** Give this to `ray.init({ address })`. */
  readonly address: string;
  /**
   * The key every message of a cluster on a bus is authenticated with (`init` in this process
   * knows it); undefined when started with `clusterKey: null` (and for in-process clusters).
   */
  readonly clusterKey: string | undefined;
  private readonly nodeList: ClusterNode[] = [];
  private closed = false;

  private constructor(
    private readonly backend: MemoryBackend | ProcessBackend,
    private readonly id: string,
    address: string,
    clusterKey?: string,
  ) {
    this.address = address;
    this.clusterKey = clusterKey;
  }

  /** Start a cluster with the given nodes (default: one node with 1 CPU). */
  static async start(options: ClusterOptions = {}): Promise<Cluster> {
    const id = randomBytes(6).toString('hex');
    let cluster: Cluster;
    if (options.address !== undefined) {
      const imports = [...(options.import ?? [])];
      if (imports.length === 0 && !isTransportAddress(options.address)) {
        throw new RangeError(
          `Cluster.start: address must be the URL of a message bus (${registeredSchemes()
            .filter((s) => s !== 'memory')
            .map((s) => `${s}://`)
            .join(', ')}), got '${redactAddress(options.address)}'`,
        );
      }
      const address = namedClusterAddress(options.address, `raybus-test-${id}`);
      const clusterKey = options.clusterKey === null ? undefined : (options.clusterKey ?? randomBytes(32).toString('hex'));
      const security = {
        ...(clusterKey ? { clusterKey } : {}),
        ...(options.encrypt ? { encrypt: true } : {}),
        ...(options.insecure ? { insecure: true } : {}),
        ...(options.caFile ? { caFile: options.caFile } : {}),
      };
      cluster = new Cluster({ kind: 'process', nodes: new ProcessNodes(address, security, id, imports) }, id, address, clusterKey);
      registerClusterSettings(address, security);
    } else {
      const c = createTestClusterContainer();
      const bus = resolve(c, IN_MEMORY_BUS);
      await resolve(c, TRANSPORT).connect();
      resolve(c, SERIALIZER);
      const broker = resolve(c, BROKER_SERVER);
      await broker.start();
      cluster = new Cluster({ kind: 'memory', bus, broker, newNode: resolve(c, NODE_FACTORY), managers: new Map() }, id, `memory://${id}`);
      registerMemoryCluster(id, { bus, headNodeId: () => cluster.nodeList[0]?.nodeId });
    }
    try {
      // Node processes start in parallel (each takes a second or two to come up).
      if (cluster.backend.kind === 'process') await Promise.all((options.nodes ?? [{ numCpus: 1 }]).map((n) => cluster.addNode(n)));
      else for (const n of options.nodes ?? [{ numCpus: 1 }]) await cluster.addNode(n);
    } catch (err) {
      await cluster.shutdown().catch(() => undefined);
      throw err;
    }
    return cluster;
  }

  /** The nodes alive now. */
  get nodes(): ClusterNode[] {
    return [...this.nodeList];
  }

  /** Add a node; resolves once the broker can schedule on it. */
  async addNode(options: ClusterNodeOptions = {}): Promise<ClusterNode> {
    if (this.closed) throw new Error('Cluster is shut down');
    const b = this.backend;
    if (b.kind === 'process') {
      const proc = await b.nodes.add(options);
      const node = { nodeId: proc.nodeId, resources: proc.resources };
      this.nodeList.push(node);
      return node;
    }
    const nodeId = newNodeId();
    const resources = await nodeResources({ numCpus: 1, ...options }, { detectGpus: options.numGpus === undefined ? false : true });
    const manager = b.newNode({ nodeId, resources, labels: options.labels ?? {}, jobId: 'cluster' as JobId, namespace: 'default', prestart: 0 });
    await manager.start();
    const node = { nodeId, resources };
    b.managers.set(nodeId, manager);
    this.nodeList.push(node);
    return node;
  }

  /** Simulate a node failure: its workers are killed and its work fails over (a node process is SIGKILLed). */
  async removeNode(node: ClusterNode | string): Promise<void> {
    const nodeId = typeof node === 'string' ? node : node.nodeId;
    const b = this.backend;
    if (b.kind === 'process') {
      await b.nodes.kill(nodeId);
      this.forget(nodeId);
      return;
    }
    const manager = b.managers.get(nodeId);
    if (!manager) throw new RangeError(`Cluster.removeNode: no node ${nodeId}`);
    b.managers.delete(nodeId);
    this.forget(nodeId);
    await manager.stop();
    await b.bus.connect().publish(BROKER_QUEUE, encodeEnvelope({ t: 'node-gone', node: nodeId }));
  }

  private forget(nodeId: string): void {
    const i = this.nodeList.findIndex((n) => n.nodeId === nodeId);
    if (i >= 0) this.nodeList.splice(i, 1);
  }

  /** Pids of the worker processes of a node (in-process nodes only; to crash them in tests). */
  workerPids(node: ClusterNode | string): number[] {
    const b = this.backend;
    if (b.kind !== 'memory') return [];
    return b.managers.get(typeof node === 'string' ? node : node.nodeId)?.workerPids() ?? [];
  }

  /** The pid of a node's `raybus start` process (clusters on a broker only). */
  nodePid(node: ClusterNode | string): number | undefined {
    const b = this.backend;
    if (b.kind !== 'process') return undefined;
    return b.nodes.procs.get(typeof node === 'string' ? node : node.nodeId)?.child.pid;
  }

  /** Recent output of a node process (clusters on a broker only; for diagnostics). */
  nodeOutput(node: ClusterNode | string): string[] {
    const b = this.backend;
    if (b.kind !== 'process') return [];
    return [...(b.nodes.procs.get(typeof node === 'string' ? node : node.nodeId)?.output ?? [])];
  }

  /**
   * Stop every node. On a bus, the cluster's queues go too, those no stopping process deletes
   * included (the broker's, dead actors' mailboxes, the queues of nodes killed with
   * `removeNode` and of their workers): a test cluster's name is never used again.
   */
  async shutdown(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const b = this.backend;
    if (b.kind === 'process') {
      unregisterClusterSettings(this.address);
      await b.nodes.shutdown();
      return;
    }
    unregisterMemoryCluster(this.id);
    for (const m of b.managers.values()) await m.stop();
    b.managers.clear();
    await b.broker.stop();
  }
}
