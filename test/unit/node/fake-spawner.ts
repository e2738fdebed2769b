/**
 * A WorkerSpawner without processes, for NodeManager tests: each "worker" is driven by the
 * test (ready, crash, runtime-env failure, maxCalls, work in progress), and exits
 * asynchronously when killed, as a process would.
 */
import type { WorkerHandle, WorkerProcessEvents, WorkerSpawnSpec, WorkerSpawner } from '../../../src/node/worker-spawner';

let nextPid = 1000;

export class FakeWorker implements WorkerHandle {
  readonly pid = nextPid++;
  /** Messages handed to it and not acknowledged. */
  inFlight = 0;
  killed = 0;
  paused = false;
  closed = false;
  exited = false;
  /** Keep the "process" alive after kill() until the test calls exit(). */
  holdExit = false;

  constructor(
    readonly spec: WorkerSpawnSpec,
    private readonly events: WorkerProcessEvents,
  ) {}

  unacked(): number {
    return this.inFlight;
  }

  async pause(): Promise<void> {
    this.paused = true;
  }

  kill(): void {
    this.killed += 1;
    if (!this.holdExit) queueMicrotask(() => this.exit('worker process was killed by SIGKILL'));
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  /** Queues whose consumers the node ended (a shared actor stopped). */
  readonly dropped: string[] = [];

  async dropConsumers(queue: string): Promise<void> {
    this.dropped.push(queue);
  }

  // ---- what the test makes the worker do

  ready(): void {
    this.events.ready();
  }

  /** The process ends (a crash unless the node killed it). */
  exit(reason = `worker process ${this.pid} exited with code 1`): void {
    if (this.exited) return;
    this.exited = true;
    this.events.exited(reason);
  }

  failEnvSetup(message: string): void {
    this.events.envSetupFailed(message);
  }

  failToStart(err: Error): void {
    this.events.error(err);
  }

  /** maxCalls reached: it exits after its current task. */
  retire(): void {
    this.events.retiring();
  }

  /** It finished what it was handed: everything is acknowledged. */
  finishWork(): void {
    this.inFlight = 0;
    this.events.idle();
  }
}

export class FakeSpawner implements WorkerSpawner {
  readonly workers: FakeWorker[] = [];

  spawn(spec: WorkerSpawnSpec, events: WorkerProcessEvents): FakeWorker {
    const w = new FakeWorker(spec, events);
    this.workers.push(w);
    return w;
  }

  /** The worker of `workerId`. */
  byId(workerId: string): FakeWorker {
    const w = this.workers.find((x) => x.spec.workerId === workerId);
    if (!w) throw new Error(`no fake worker ${workerId}`);
    return w;
  }
}
