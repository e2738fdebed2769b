/**
 * A node of a cluster on a broker, as `raybus start` runs it: a NodeManager whose workers each
 * get a broker connection of their own (through their IpcBridge), and a broker candidate
 * (broker-election.ts) that runs the resource broker while it is the elected leader. With a
 * cluster key every one of these connections authenticates every message (open-transport.ts);
 * the workers never see the key: they take only what the node's connections opened.
 */
import { newNodeId, type JobId, type NodeId } from '../protocol/ids';
import type { Transport } from '../transport/transport';
import { openClusterTransport } from './open-transport';
import { parseClusterAddress } from '../transport/cluster-address';
import { BrokerCandidate } from '../broker/broker-election';
import { REQUIRE_SIGNED_CODE_VAR } from '../protocol/worker-process';
import { RefusalLog } from './refusal-log';
import type { Resources } from '../protocol/wire';
import { clusterInfo } from '../broker/broker-query';
import { NodeManager } from '../node/node-manager';
import { WORKER_ENTRY } from './worker-entry';
import { nodeResources, type NodeResourceOptions } from '../node/node-resources';

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
}

export class NodeProcess {
  private constructor(
    readonly nodeId: NodeId,
    readonly resources: Resources,
    private readonly node: NodeManager,
    private readonly candidate: BrokerCandidate,
    private readonly control: Transport,
  ) {}

  /** Connect, start the node and its broker candidate; resolves once the leader knows the node. */
  static async start(options: NodeProcessOptions): Promise<NodeProcess> {
    const log = options.log ?? (() => undefined);
    const { display } = parseClusterAddress(options.address);
    const resources = await nodeResources(options, { detectGpus: options.numGpus === undefined });
    const nodeId = newNodeId();
    const short = nodeId.slice(0, 8);
    log(`connecting to ${display}`);
    const refusals = new RefusalLog((line) => log(line));
    const secured = {
      ...(options.clusterKey ? { clusterKey: options.clusterKey } : {}),
      ...(options.encrypt ? { encrypt: true } : {}),
      ...(options.insecure ? { insecure: true } : {}),
      ...(options.caFile ? { caFile: options.caFile } : {}),
      refusals,
    };
    // The first connection fails fast (wrong address or credentials); later ones wait out outages.
    const control = openClusterTransport(options.address, { connectionName: `raybus node ${short} broker candidate`, connectAttempts: 5, ...secured });
    await control.connect();
    let first = true;
    const connect = async (): Promise<Transport> => {
      const role = first ? 'node' : 'worker';
      first = false;
      const t = openClusterTransport(options.address, { connectionName: `raybus node ${short} ${role}`, connectAttempts: 1000, ...secured });
      await t.connect();
      return t;
    };
    const candidate = new BrokerCandidate({ transport: control, candidateId: nodeId, log });
    const node = new NodeManager({
      nodeId,
      resources,
      labels: options.labels ?? {},
      jobId: 'cluster' as JobId,
      namespace: 'default',
      connect,
      prestart: Math.min(2, Math.max(0, Math.floor(resources.CPU ?? 0))),
      cluster: true,
      workerEntry: WORKER_ENTRY,
      // Its workers take work and code only from messages the node's connections opened.
      workerEnv: options.clusterKey ? { [REQUIRE_SIGNED_CODE_VAR]: '1' } : {},
      refusals: () => refusals.snapshot(),
      // RAYBUS_LEASE_REPORT_MS: how often leases (and refusals) are reported; tests shorten it.
      ...(Number(process.env.RAYBUS_LEASE_REPORT_MS) > 0 ? { leaseReportMs: Number(process.env.RAYBUS_LEASE_REPORT_MS) } : {}),
      ...(options.imports?.length ? { imports: options.imports } : {}),
    });
    try {
      await candidate.start();
      await node.start();
    } catch (err) {
      await node.stop().catch(() => undefined);
      await candidate.stop().catch(() => undefined);
      await control.close().catch(() => undefined);
      throw err;
    }
    const np = new NodeProcess(nodeId, resources, node, candidate, control);
    await np.awaitRegistered(options.readyTimeoutMs ?? 30_000, log);
    return np;
  }

  get isBrokerLeader(): boolean {
    return this.candidate.isLeader;
  }

  /** Wait until the broker leader lists this node as alive. */
  private async awaitRegistered(timeoutMs: number, log: (line: string) => void): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        const info = await clusterInfo(this.control, Math.max(1000, Math.min(5000, deadline - Date.now())));
        if (info.nodes.some((n) => n.nodeId === this.nodeId && n.alive)) return;
      } catch {
        /* no leader yet */
      }
      if (Date.now() >= deadline) {
        log(`warning: no broker leader confirmed this node within ${timeoutMs} ms; it keeps trying`);
        return;
      }
      await new Promise((r) => setTimeout(r, 200));
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
