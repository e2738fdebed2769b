/**
 * Forks worker processes: their environment (worker-env.ts), the frame pipe to the node
 * (transport/ipc-link.ts), and an IpcBridge on a bus connection of each worker's own, so that
 * closing it when the worker dies requeues exactly that worker's unacknowledged messages.
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import type { Duplex } from 'node:stream';
import type { JobId, NodeId } from '../protocol/ids';
import type { Resources } from '../protocol/wire';
import { syncPublishOf, type MaybeSyncTransport, type Transport } from '../transport/transport';
import { ChannelLink, IPC_FD_VAR, IPC_PIPE_FD, PipeLink, WORKER_POLL_VAR, workerPollUs } from '../transport/ipc-link';
import { LOG_FILES_VAR, NODE_IMPORTS_VAR, workerIdentityEnv } from '../protocol/worker-process';
import { LOG_LEVEL_VAR, logLevel } from '../util/logger';
import { WorkerLogs } from './worker-logs';
import { runtimeEnvKey } from '../protocol/runtime-env';
import type { Clock } from '../util/clock';
import { IpcBridge } from './ipc-bridge';
import { buildWorkerEnv } from './worker-env';
import type { WorkerHandle, WorkerProcessEvents, WorkerSpawnSpec, WorkerSpawner } from './worker-spawner';
import { logger } from '../util/logger';

/** Frames between node and workers travel on a pipe of their own, except on Windows. */
const PIPE_LINK = process.platform !== 'win32';
/** How long a dead worker's last frames may take to be read before its death is reported anyway. */
const EXIT_READ_MS = 2000;
/** How long a profiled worker may take to write its profile and exit before it is killed. */
const PROFILED_EXIT_MS = 5000;

/** What every worker of a node is forked with. */
export interface ProcessSpawnerOptions {
  readonly nodeId: NodeId;
  readonly jobId: JobId;
  readonly namespace: string;
  /** The node's resources: workers without GPUs on a GPU node see none. */
  readonly resources: Resources;
  /** The script a worker process runs. */
  readonly workerEntry: string;
  /** Opens the bus connection a worker's operations run on. */
  readonly connect: () => Promise<Transport>;
  /** Extra environment of every worker. */
  readonly workerEnv?: Readonly<Record<string, string>>;
  /** Modules every worker imports before user code. */
  readonly imports?: readonly string[];
  /**
   * Worker processes (and their links) keep this process alive: a node of its own (`raybus
   * start`). Inside a driver (the embedded default, test clusters) they do not: the driver
   * holds its process while it has work outstanding, and its workers exit with it.
   */
  readonly keepProcessAlive?: boolean;
  readonly clock: Clock;
  /** Where workers' stdout and stderr go (absent: the node's own). */
  readonly logs?: WorkerLogs;
}

/** Forks real worker processes. */
export class ProcessSpawner implements WorkerSpawner {
  private readonly warnedEnvKeys = new Set<string>();
  /** How long workers poll their pipe after a write (µs): checked once, when the node is made. */
  private readonly pollUs = workerPollUs();

  constructor(private readonly options: ProcessSpawnerOptions) {}

  spawn(spec: WorkerSpawnSpec, events: WorkerProcessEvents): WorkerHandle {
    const o = this.options;
    const files = o.logs?.open(spec.workerId);
    const { env, warning } = buildWorkerEnv({
      base: process.env,
      identity: {
        ...workerIdentityEnv({ workerId: spec.workerId, nodeId: o.nodeId, jobId: o.jobId, namespace: o.namespace }),
        ...(PIPE_LINK ? { [IPC_FD_VAR]: String(IPC_PIPE_FD), [WORKER_POLL_VAR]: String(this.pollUs) } : {}),
        // Workers log at their node's level (raybus's own messages).
        [LOG_LEVEL_VAR]: logLevel(),
        ...o.workerEnv,
        ...(o.imports?.length ? { [NODE_IMPORTS_VAR]: JSON.stringify(o.imports) } : {}),
        ...(files ? { [LOG_FILES_VAR]: '1' } : {}),
      },
      ...(spec.runtimeEnv ? { runtimeEnv: spec.runtimeEnv } : {}),
      gpuIds: spec.gpuIds,
      nodeHasGpus: (o.resources.GPU ?? 0) > 0,
    });
    const envKey = runtimeEnvKey(spec.runtimeEnv);
    if (warning && !this.warnedEnvKeys.has(envKey)) {
      this.warnedEnvKeys.add(envKey);
      logger.warn(warning);
    }
    let exited = false;
    let killedByNode = false;
    const exit = (reason: string): void => {
      if (exited) return;
      exited = true;
      events.exited(reason);
    };
    let child: ChildProcess;
    const out = files?.out ?? 'inherit';
    const err = files?.err ?? 'inherit';
    const execArgv = [
      ...workerExecArgv(process.execArgv),
      // Profiling the workers (benchmarks/README.md): RAYBUS_WORKER_CPU_PROF=<dir>.
      ...(process.env.RAYBUS_WORKER_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.RAYBUS_WORKER_CPU_PROF}`] : []),
    ];
    try {
      // stdout, stderr: the worker's log files (worker-logs.ts); fd 4: the frame pipe
      // (ipc-link.ts), and no IPC channel (fork would make one); Windows keeps frames on it.
      child = PIPE_LINK
        ? spawn(process.execPath, [...execArgv, o.workerEntry], { env, stdio: ['ignore', out, err, 'ignore', 'pipe'] })
        : fork(o.workerEntry, [], { env, serialization: 'advanced', stdio: ['ignore', out, err, 'ipc'], execArgv });
    } catch (e) {
      WorkerLogs.close(files);
      setImmediate(() => {
        events.error(e as Error);
        exit(`worker process could not be forked: ${(e as Error).message}`);
      });
      return { pid: undefined, unacked: () => 0, pause: () => Promise.resolve(), kill: () => undefined, close: () => Promise.resolve(), dropConsumers: () => Promise.resolve() };
    }
    // The child has its own copies.
    WorkerLogs.close(files);
    const pipe = PIPE_LINK ? (child.stdio[IPC_PIPE_FD] as Duplex | null) : null;
    if (!o.keepProcessAlive) {
      child.unref();
      (child.channel as { unref?: () => void } | null | undefined)?.unref?.();
      (pipe as { unref?: () => void } | null)?.unref?.();
    }
    const connection = o.connect();
    // No connection for this worker (the bus refused, or is still gone after every attempt):
    // the worker cannot work; it is stopped and its work reported like any worker death.
    void connection.catch((err: unknown) => {
      events.error(err as Error);
      child.kill('SIGKILL');
    });
    const bridge = new IpcBridge(
      `worker pid ${child.pid}`,
      pipe ? new PipeLink(pipe) : new ChannelLink(child),
      createDeferredTransport(connection),
      { onReady: () => events.ready(), onRetiring: () => events.retiring(), onIdle: () => events.idle(), onEnvSetupFailed: (message) => events.envSetupFailed(message) },
      o.clock,
    );
    // Every frame the worker wrote before dying is read before its death is reported (results
    // it sent keep their place; its connection, closed then, requeues only what it held): its
    // end of the pipe closes with it, and 'close' follows the last data. Bounded, in case
    // something else holds the pipe open.
    let stdioClosed = false;
    let dying: string | undefined;
    child.on('close', () => {
      stdioClosed = true;
      if (dying !== undefined) setImmediate(() => exit(dying!));
    });
    child.on('exit', (code, signal) => {
      let reason = signal ? `worker process ${child.pid} was killed by ${signal}` : `worker process ${child.pid} exited with code ${code}`;
      // A death the node did not cause: what the worker printed last says why (Node writes an
      // uncaught error's stack straight to the file, past the output forwarded to drivers).
      if (!killedByNode && (code !== 0 || signal) && o.logs) reason = o.logs.withTail(spec.workerId, reason);
      dying = reason;
      if (stdioClosed || !pipe) setImmediate(() => exit(reason));
      else o.clock.setTimeout(() => exit(reason), EXIT_READ_MS).unref();
    });
    child.on('error', (err) => {
      events.error(err);
      // A process that never started has no 'exit' to wait for.
      if (child.pid === undefined) setImmediate(() => exit(`worker process could not be started: ${err.message}`));
    });
    return {
      pid: child.pid,
      unacked: () => bridge.unacked(),
      pause: () => bridge.pause(),
      close: () => bridge.close(),
      dropConsumers: (queue) => bridge.dropConsumers(queue),
      kill: () => {
        if (exited || child.exitCode !== null || child.signalCode !== null) return;
        killedByNode = true;
        if (process.env.RAYBUS_WORKER_CPU_PROF && (pipe ? !pipe.destroyed : child.connected)) {
          // A profiled worker must exit by itself to write its profile (it exits when its link closes).
          if (pipe) pipe.destroy();
          else child.disconnect();
          o.clock.setTimeout(() => child.kill('SIGKILL'), PROFILED_EXIT_MS);
          return;
        }
        child.kill('SIGKILL');
      },
    };
  }
}

/** Dropped options whose value may follow as the next argument. */
const VALUED_DROPPED = new Set(['--cpu-prof-dir', '--cpu-prof-name', '--cpu-prof-interval', '--inspect-port', '--inspect-publish-uid']);

/**
 * The node's Node.js options a worker inherits: not its debugger or profiler, and not the
 * script of `node -e` / `node -p` (the worker would run the driver's script instead of its own).
 */
export function workerExecArgv(execArgv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < execArgv.length; i++) {
    const a = execArgv[i]!;
    if (a === '-e' || a === '--eval' || a === '-p' || a === '--print' || a === '-pe') {
      i += 1;
      continue;
    }
    if (a.startsWith('--eval=') || a.startsWith('--print=') || a.startsWith('--inspect') || a.startsWith('--cpu-prof')) {
      // `--cpu-prof-dir /tmp/prof` (value apart): its value goes too, or the worker would run it.
      if (VALUED_DROPPED.has(a)) i += 1;
      continue;
    }
    out.push(a);
  }
  return out;
}

/** A Transport that waits for its connection to open before every operation. */
function createDeferredTransport(p: Promise<Transport>): Transport {
  let t: Transport | undefined;
  const wrap =
    <K extends keyof Transport>(k: K) =>
    (...args: unknown[]): unknown =>
      t ? (t[k] as (...a: unknown[]) => unknown)(...args) : p.then((x) => (x[k] as (...a: unknown[]) => unknown)(...args));
  const deferred = {
    kind: 'deferred',
    get status$() {
      return t!.status$;
    },
    // Once open: whether the connection seals a gathered message from its parts (ipc-bridge.ts).
    get takesGathered() {
      return t?.takesGathered === true;
    },
    connect: wrap('connect'),
    close: wrap('close'),
    assertQueue: wrap('assertQueue'),
    deleteQueue: wrap('deleteQueue'),
    publish: wrap('publish'),
    consume: wrap('consume'),
    broadcast: wrap('broadcast'),
    subscribe: wrap('subscribe'),
  } as unknown as MaybeSyncTransport;
  void p.then(
    (x) => {
      t = x;
      // The in-memory bus's synchronous publish, once it is there (the bridge uses it for each
      // message when present: ipc-bridge.ts).
      const sync = syncPublishOf(x);
      if (sync) deferred.publishSync = sync;
    },
    () => undefined, // reported by the spawner
  );
  return deferred;
}
