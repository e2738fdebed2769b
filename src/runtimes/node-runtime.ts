/**
 * A node of a cluster on a broker, as `raybus start` runs it: a NodeManager whose workers each
 * get a broker connection of their own (through their IpcBridge), and a broker candidate
 * (broker-election.ts) that runs the resource broker while it is the elected leader. The
 * parts are assembled by `createNodeContainer` (src/di/containers.ts). With a cluster key every
 * connection authenticates every message (open-transport.ts); the workers never see the key:
 * they take only what the node's connections opened.
 */
import { newNodeId, type NodeId } from '../protocol/ids';
import type { Transport } from '../transport/transport';
import { openClusterTransport } from './open-transport';
import { parseClusterAddress } from '../transport/cluster-address';
import type { BrokerCandidate } from '../broker/broker-election';
import { RefusalLog } from './refusal-log';
import type { Resources } from '../protocol/wire';
import { clusterInfo } from '../broker/broker-query';
import type { NodeManager } from '../node/node-manager';
import { nodeResources, type NodeResourceOptions } from '../node/node-resources';
import { sleep, type Clock } from '../util/clock';
import { createNodeContainer } from '../di/containers';
import { BROKER_CANDIDATE, CLOCK, NODE_MANAGER, SERIALIZER, TRANSPORT, resolve } from '../di/tokens';

/** What `raybus start` was asked for. */
export interface NodeProcessOptions extends NodeResourceOptions {
  readonly address: string;
  /** Resolved module specifiers every worker imports first (`--import`). */
  readonly imports?: readonly string[];
  /** The cluster key every message must be sealed with (absent: nothing is authenticated). */
  readonly clusterKey?: string;
  /** Encrypt every message (needs the key). */
  readonly encrypt?: boolean;
  /** Run without a key on a bus that is not on this machine. */
  readonly insecure?: boolean;
  /** TLS: a PEM file of the certificate authorities to trust. */
  readonly caFile?: string;
  readonly labels?: Record<string, string>;
  /** Progress lines. */
  readonly log?: (line: string) => void;
  /** How long to wait for the node to show up at the broker leader (ms; default 30 000). */
  readonly readyTimeoutMs?: number;
  /** Every timer of the node, its broker candidate and its broker (default: real time). */
  readonly clock?: Clock;
}

export class NodeProcess {
  private constructor(
    readonly nodeId: NodeId,
    readonly resources: Resources,
    private readonly node: NodeManager,
    private readonly candidate: BrokerCandidate,
    private readonly control: Transport,
    private readonly clock: Clock,
  ) {}

  /** Connect, start the node and its broker candidate; resolves once the leader knows the node. */
  static async start(options: NodeProcessOptions): Promise<NodeProcess> {
    const log = options.log ?? (() => undefined);
    const { display } = parseClusterAddress(options.address);
    const resources = await nodeResources(options, { detectGpus: options.numGpus === undefined });
    const nodeId = newNodeId();
    log(`connecting to ${display}`);
    const refusals = new RefusalLog((line) => log(line));
    const secured = {
      ...(options.clusterKey ? { clusterKey: options.clusterKey } : {}),
      ...(options.encrypt ? { encrypt: true } : {}),
      ...(options.insecure ? { insecure: true } : {}),
      ...(options.caFile ? { caFile: options.caFile } : {}),
      refusals,
    };
    const c = createNodeContainer({
      nodeId,
      resources,
      ...(options.labels ? { labels: options.labels } : {}),
      open: (o) => openClusterTransport(options.address, { ...o, ...secured }),
      ...(options.clusterKey ? { authenticated: true } : {}),
      refusals: () => refusals.snapshot(),
      // RAYBUS_LEASE_REPORT_MS: how often leases (and refusals) are reported; tests shorten it.
      ...(Number(process.env.RAYBUS_LEASE_REPORT_MS) > 0 ? { leaseReportMs: Number(process.env.RAYBUS_LEASE_REPORT_MS) } : {}),
      ...(options.imports?.length ? { imports: options.imports } : {}),
      log,
      ...(options.clock ? { clock: options.clock } : {}),
    });
    const control = resolve(c, TRANSPORT);
    await control.connect();
    resolve(c, SERIALIZER);
    let candidate: BrokerCandidate | undefined;
    let node: NodeManager | undefined;
    try {
      candidate = resolve(c, BROKER_CANDIDATE);
      node = resolve(c, NODE_MANAGER);
      await candidate.start();
      await node.start();
    } catch (err) {
      await node?.stop().catch(() => undefined);
      await candidate?.stop().catch(() => undefined);
      await control.close().catch(() => undefined);
      throw err;
    }
    const np = new NodeProcess(nodeId, resources, node, candidate, control, resolve(c, CLOCK));
    await np.awaitRegistered(options.readyTimeoutMs ?? 30_000, log);
    return np;
  }

  get isBrokerLeader(): boolean {
    return this.candidate.isLeader;
  }

  /** Wait until the broker leader lists this node as alive. */
  private async awaitRegistered(timeoutMs: number, log: (line: string) => void): Promise<void> {
    const { clock } = this;
    const deadline = clock.now() + timeoutMs;
    for (;;) {
      try {
        const info = await clusterInfo(this.control, Math.max(1000, Math.min(5000, deadline - clock.now())), clock);
        if (info.nodes.some((n) => n.nodeId === this.nodeId && n.alive)) return;
      } catch {
        /* no leader yet */
      }
      if (clock.now() >= deadline) {
        log(`warning: no broker leader confirmed this node within ${timeoutMs} ms; it keeps trying`);
        return;
      }
      await sleep(clock, 200);
    }
  }

  /** Drain (stop taking work, finish running work), then leave the cluster. */
  async drain(timeoutMs: number, progress: (line: string) => void): Promise<void> {
    await this.node.drain(timeoutMs, progress);
    await this.candidate.stop();
    await this.control.close();
  }

  /** Stop now: running work fails over to other nodes. */
  async stop(): Promise<void> {
    await this.node.stop().catch(() => undefined);
    await this.candidate.stop().catch(() => undefined);
    await this.control.close().catch(() => undefined);
  }
}
