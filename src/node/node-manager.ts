/**
 * A node (Ray's raylet, worker-pool part): owns worker processes, hands them out on leases
 * granted by the resource broker, dedicates them to actors, and reports their deaths.
 */
import { fork, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import type { Transport } from '../transport/transport';
import { decodeEnvelope, encodeEnvelope } from '../serialization/serializer';
import { BROKER_QUEUE, nodeQueue, workerQueue, type BrokerMsg, type NodeMsg, type Resources, type HostActorMsg } from '../core/protocol';
import { IpcBridge } from './ipc-bridge';

/** How a node is set up. */
export interface NodeOptions {
  readonly nodeId: string;
  readonly resources: Resources;
  readonly labels?: Record<string, string>;
  readonly jobId: string;
  readonly namespace: string;
  /** Opens a transport connection (one for the node, one per worker). */
  readonly connect: () => Promise<Transport>;
  /** Workers started ahead of demand. */
  readonly prestart?: number;
}

interface WorkerProc {
  readonly id: string;
  readonly child: ChildProcess;
  readonly bridge: IpcBridge;
  readonly ready: Promise<void>;
  lease?: string;
  actor?: string;
  dead: boolean;
}

let seq = 0;

export class NodeManager {
  private transport?: Transport;
  private readonly workers = new Map<string, WorkerProc>();
  private readonly idle: WorkerProc[] = [];
  private readonly byLease = new Map<string, WorkerProc>();
  private stopping = false;

  constructor(private readonly options: NodeOptions) {}

  get nodeId(): string {
    return this.options.nodeId;
  }

  /** Pids of live workers (tests use them to crash workers). */
  workerPids(): number[] {
    return [...this.workers.values()].filter((w) => !w.dead).map((w) => w.child.pid!);
  }

  async start(): Promise<void> {
    const t = await this.options.connect();
    this.transport = t;
    const q = nodeQueue(this.options.nodeId);
    await t.assertQueue(q);
    await t.consume(
      q,
      (d) => {
        d.ack();
        let msg: NodeMsg;
        try {
          msg = decodeEnvelope(d.body) as NodeMsg;
        } catch (err) {
          process.emitWarning(`raybus node: dropped a malformed message: ${(err as Error).message}`);
          return;
        }
        this.onMessage(msg);
      },
      { prefetch: 0 },
    );
    this.toBroker({ t: 'node-register', node: this.options.nodeId, resources: this.options.resources, labels: this.options.labels ?? {} });
    for (let i = 0; i < (this.options.prestart ?? 0); i++) this.idle.push(this.spawn());
  }

  async stop(): Promise<void> {
    this.stopping = true;
    const exits = [...this.workers.values()].map((w) => this.killWorker(w));
    await Promise.all(exits);
    await this.transport?.close();
  }

  private toBroker(msg: BrokerMsg): void {
    this.transport?.publish(BROKER_QUEUE, encodeEnvelope(msg)).catch(() => undefined);
  }

  private send(queue: string, msg: object): void {
    this.transport?.publish(queue, encodeEnvelope(msg)).catch(() => undefined);
  }

  private onMessage(msg: NodeMsg): void {
    switch (msg.t) {
      case 'start-lease': {
        const w = this.takeWorker();
        w.lease = msg.lease;
        this.byLease.set(msg.lease, w);
        void w.ready.then(() => {
          if (w.dead) return;
          this.send(msg.owner, { t: 'lease-granted', req: msg.req, lease: msg.lease, worker: w.id, node: this.options.nodeId });
        });
        return;
      }
      case 'start-actor': {
        const w = this.takeWorker();
        w.lease = msg.lease;
        w.actor = msg.spec.actorId;
        this.byLease.set(msg.lease, w);
        const host: HostActorMsg = { t: 'host-actor', spec: msg.spec, restart: msg.restart, nodeId: this.options.nodeId };
        void w.ready.then(() => this.send(workerQueue(w.id), host));
        return;
      }
      case 'release-lease': {
        const w = this.byLease.get(msg.lease);
        this.byLease.delete(msg.lease);
        if (!w || w.dead) return;
        w.lease = undefined;
        if (w.actor) return;
        this.idle.push(w);
        return;
      }
      case 'kill-worker': {
        const w = this.byLease.get(msg.lease);
        if (w) void this.killWorker(w);
        return;
      }
    }
  }

  private takeWorker(): WorkerProc {
    while (this.idle.length > 0) {
      const w = this.idle.shift()!;
      if (!w.dead) return w;
    }
    return this.spawn();
  }

  private spawn(): WorkerProc {
    seq += 1;
    const id = `${this.options.nodeId.slice(0, 8)}w${seq.toString(16)}${Math.random().toString(16).slice(2, 8)}`;
    const entry = path.join(__dirname, 'worker-main.js');
    const child = fork(entry, [], {
      env: {
        ...process.env,
        RAYBUS_WORKER_ID: id,
        RAYBUS_NODE_ID: this.options.nodeId,
        RAYBUS_JOB_ID: this.options.jobId,
        RAYBUS_NAMESPACE: this.options.namespace,
      },
      serialization: 'advanced',
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      execArgv: process.execArgv.filter((a) => !a.startsWith('--inspect') && !a.startsWith('--cpu-prof')),
    });
    let markReady!: () => void;
    const ready = new Promise<void>((r) => (markReady = r));
    const transportP = this.options.connect();
    // The bridge needs a connection of its own so that its close requeues exactly its deliveries.
    const bridgeHolder: { bridge?: IpcBridge } = {};
    const proxy = createDeferredTransport(transportP);
    const bridge = new IpcBridge(child, proxy, () => markReady());
    bridgeHolder.bridge = bridge;
    const w: WorkerProc = { id, child, bridge, ready, dead: false };
    this.workers.set(id, w);
    child.on('exit', (code, signal) => {
      // Let frames the worker sent before dying be handled first.
      setImmediate(() => this.onWorkerExit(w, code, signal));
    });
    child.on('error', (err) => process.emitWarning(`raybus node: worker ${id}: ${err.message}`));
    return w;
  }

  private onWorkerExit(w: WorkerProc, code: number | null, signal: NodeJS.Signals | null): void {
    if (w.dead) return;
    w.dead = true;
    this.workers.delete(w.id);
    void w.bridge.close();
    if (this.stopping) return;
    const reason = signal ? `worker process ${w.child.pid} was killed by ${signal}` : `worker process ${w.child.pid} exited with code ${code}`;
    if (w.lease) this.byLease.delete(w.lease);
    this.toBroker({ t: 'worker-died', node: this.options.nodeId, worker: w.id, reason, ...(w.lease ? { lease: w.lease } : {}), ...(w.actor ? { actor: w.actor } : {}) });
  }

  private killWorker(w: WorkerProc): Promise<void> {
    if (w.dead || w.child.exitCode !== null || w.child.signalCode !== null) {
      return w.bridge.close();
    }
    return new Promise<void>((resolve) => {
      w.child.once('exit', () => resolve());
      w.child.kill('SIGKILL');
    });
  }
}

/** A Transport that waits for its connection to open before every operation. */
function createDeferredTransport(p: Promise<Transport>): Transport {
  let t: Transport | undefined;
  void p.then((x) => (t = x));
  const wrap =
    <K extends keyof Transport>(k: K) =>
    (...args: unknown[]): unknown =>
      t ? (t[k] as (...a: unknown[]) => unknown)(...args) : p.then((x) => (x[k] as (...a: unknown[]) => unknown)(...args));
  return {
    kind: 'deferred',
    get status$() {
      return t!.status$;
    },
    connect: wrap('connect'),
    close: wrap('close'),
    assertQueue: wrap('assertQueue'),
    deleteQueue: wrap('deleteQueue'),
    publish: wrap('publish'),
    consume: wrap('consume'),
    broadcast: wrap('broadcast'),
    subscribe: wrap('subscribe'),
  } as unknown as Transport;
}
