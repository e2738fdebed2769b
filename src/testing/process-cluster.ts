/**
 * The nodes of a raybus/testing `Cluster` on a broker: real `raybus start` processes on this
 * machine, under a cluster name of their own (`?cluster=<name>` in the address), so that test
 * clusters sharing a broker do not see each other.
 */
import type { NodeId, WorkerId } from '../protocol/ids';
import { readWorkerIdentity } from '../protocol/worker-process';
import { fork, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Resources } from '../protocol/wire';
import { nodeResources, type NodeResourceOptions } from '../node/node-resources';
import { ClusterLeftovers, type ProcessNodeSecurity } from './cluster-leftovers';

/** A node process of the cluster. */
export interface NodeProc {
  readonly nodeId: NodeId;
  readonly resources: Resources;
  readonly child: ChildProcess;
  /** Recent output lines, for error messages. */
  readonly output: string[];
}

/** The CLI entry: next to this file when built, else the built one in dist/. */
function cliEntry(): string {
  const built = path.join(__dirname, '..', 'cli', 'main.js');
  if (existsSync(built)) return built;
  return path.resolve(__dirname, '..', '..', 'dist', 'cjs', 'src', 'cli', 'main.js');
}

/** The address of a named cluster on the broker at `base`. */
export function namedClusterAddress(base: string, name: string): string {
  const u = new URL(base);
  u.searchParams.set('cluster', name);
  return u.toString();
}

export class ProcessNodes {
  private readonly keyFile?: string;
  readonly procs = new Map<string, NodeProc>();
  /** The queues deleted once every node stopped (no process deletes them). */
  private readonly leftovers: ClusterLeftovers;

  constructor(
    readonly address: string,
    private readonly security: ProcessNodeSecurity,
    id: string,
    /** Modules each node imports (`raybus start --import`), resolved against this process's cwd. */
    private readonly imports: readonly string[] = [],
  ) {
    this.leftovers = new ClusterLeftovers(address, security);
    if (security.clusterKey) {
      this.keyFile = path.join(os.tmpdir(), `raybus-cluster-${id}.key`);
      writeFileSync(this.keyFile, `${security.clusterKey}\n`, { mode: 0o600 });
    }
  }

  /** Start a node process; resolves once the broker leader lists it. */
  async add(options: NodeResourceOptions & { readonly labels?: Record<string, string> }, startTimeoutMs = 60_000): Promise<NodeProc> {
    // Resolved here as the node resolves them (GPUs only when asked for), to report them.
    const opts = { numCpus: 1, numGpus: 0, ...options };
    const resources = await nodeResources(opts, { detectGpus: false });
    const args = ['start', '--address', this.address, '--num-cpus', String(opts.numCpus), '--num-gpus', String(opts.numGpus)];
    if (this.keyFile) args.push('--cluster-key-file', this.keyFile);
    if (this.security.encrypt) args.push('--encrypt');
    if (this.security.insecure) args.push('--insecure');
    if (this.security.caFile) args.push('--ca-file', this.security.caFile);
    if (opts.memory !== undefined) args.push('--memory', String(opts.memory));
    if (opts.resources && Object.keys(opts.resources).length > 0) args.push('--resources', JSON.stringify(opts.resources));
    if (opts.acceleratorType) args.push('--accelerator-type', opts.acceleratorType);
    if (opts.labels && Object.keys(opts.labels).length > 0) args.push('--labels', JSON.stringify(opts.labels));
    // --import takes every argument up to the next option: keep it last.
    if (this.imports.length > 0) args.push('--import', ...this.imports);
    const child = fork(cliEntry(), args, {
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      env: { ...process.env, RAYBUS_CLUSTER_KEY: '' },
      execArgv: [],
    });
    const output: string[] = [];
    const verbose = process.env.RAYBUS_CLUSTER_VERBOSE === '1';
    const keep = (chunk: Buffer): string[] => {
      const lines = chunk.toString().split('\n').filter(Boolean);
      for (const l of lines) {
        output.push(l);
        if (verbose) process.stderr.write(`[node ${child.pid}] ${l}\n`);
      }
      if (output.length > 200) output.splice(0, output.length - 200);
      return lines;
    };
    child.stderr!.on('data', keep);
    const nodeId = await new Promise<NodeId>((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`raybus/testing: a node did not start within ${startTimeoutMs} ms:\n${output.join('\n')}`));
      }, startTimeoutMs);
      child.stdout!.on('data', (chunk: Buffer) => {
        for (const line of keep(chunk)) {
          const m = /node ([0-9a-f]{28}) is up/.exec(line);
          if (m) {
            clearTimeout(timer);
            resolve(m[1]! as NodeId);
          }
        }
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`raybus/testing: a node process exited (${signal ?? code}) before it was up:\n${output.join('\n')}`));
      });
    });
    const proc: NodeProc = { nodeId, resources, child, output };
    this.procs.set(nodeId, proc);
    this.leftovers.node(nodeId);
    return proc;
  }

  /** Kill a node process (SIGKILL: a node failure); resolves once it exited. */
  async kill(nodeId: string): Promise<void> {
    const p = this.procs.get(nodeId);
    if (!p) throw new RangeError(`Cluster.removeNode: no node ${nodeId}`);
    this.procs.delete(nodeId);
    // What the leader knows now may die with it; the node's workers die with their node.
    await this.leftovers.note();
    if (p.child.pid !== undefined) this.leftovers.killedWorkers(workerIdsOf(p.child.pid));
    await stopChild(p.child, 'SIGKILL', 5000);
  }

  /** Stop every node (SIGTERM: drain), delete the queues no process deletes, forget the key file. */
  async shutdown(): Promise<void> {
    const all = [...this.procs.values()];
    this.procs.clear();
    try {
      await this.leftovers.stopAndForget(async () => {
        await Promise.all(all.map((p) => stopChild(p.child, 'SIGTERM', 20_000)));
      }, all.length > 0);
    } finally {
      if (this.keyFile) rmSync(this.keyFile, { force: true });
    }
  }
}

/**
 * The ids of the worker processes of the node process `pid`, read from their environment
 * (Linux's /proc; elsewhere none are known, and their queues wait for the bus's expiry).
 */
function workerIdsOf(pid: number): WorkerId[] {
  const ids: WorkerId[] = [];
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return ids;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // Fields after the command name (which may hold spaces): state, then the parent's pid.
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) !== pid) continue;
      const environ: NodeJS.ProcessEnv = {};
      for (const kv of readFileSync(`/proc/${entry}/environ`, 'utf8').split('\0')) {
        const eq = kv.indexOf('=');
        if (eq > 0) environ[kv.slice(0, eq)] = kv.slice(eq + 1);
      }
      const worker = readWorkerIdentity(environ);
      if (worker) ids.push(worker.workerId);
    } catch {
      // Gone meanwhile, or not ours to read.
    }
  }
  return ids;
}

/** Send `signal`, wait for the exit; SIGKILL after `graceMs`. */
function stopChild(child: ChildProcess, signal: NodeJS.Signals, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill(signal);
  });
}
