/**
 * The nodes of a raybus/testing `Cluster` on a broker: real `raybus start` processes on this
 * machine, under a cluster name of their own (`?cluster=<name>` in the address), so that test
 * clusters sharing a broker do not see each other.
 */
import type { NodeId } from '../protocol/ids';
import { fork, type ChildProcess } from 'node:child_process';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Resources } from '../protocol/wire';
import { nodeResources, type NodeResourceOptions } from '../node/node-resources';

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

/** How the node processes secure their connections (`raybus start` options). */
export interface ProcessNodeSecurity {
  readonly clusterKey?: string;
  readonly encrypt?: boolean;
  readonly insecure?: boolean;
  readonly caFile?: string;
}

export class ProcessNodes {
  private readonly keyFile?: string;
  readonly procs = new Map<string, NodeProc>();

  constructor(
    readonly address: string,
    private readonly security: ProcessNodeSecurity,
    id: string,
    /** Modules each node imports (`raybus start --import`), resolved against this process's cwd. */
    private readonly imports: readonly string[] = [],
  ) {
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
    return proc;
  }

  /** Kill a node process (SIGKILL: a node failure); resolves once it exited. */
  async kill(nodeId: string): Promise<void> {
    const p = this.procs.get(nodeId);
    if (!p) throw new RangeError(`Cluster.removeNode: no node ${nodeId}`);
    this.procs.delete(nodeId);
    await stopChild(p.child, 'SIGKILL', 5000);
  }

  /** Stop every node (SIGTERM: drain), then forget the key file. */
  async shutdown(): Promise<void> {
    const all = [...this.procs.values()];
    this.procs.clear();
    await Promise.all(all.map((p) => stopChild(p.child, 'SIGTERM', 20_000)));
    if (this.keyFile) rmSync(this.keyFile, { force: true });
  }
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
