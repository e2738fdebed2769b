/**
 * How a node starts a worker process, behind a small interface: the node's lifecycle logic
 * (worker-process.machine.ts, worker-table.ts) sees a handle and a few events, never a
 * ChildProcess, so it is tested with a fake spawner (test/unit/node/fake-spawner.ts).
 * process-spawner.ts forks real processes.
 */
import type { WorkerId } from '../protocol/ids';
import type { RuntimeEnv } from '../protocol/runtime-env';

/** What a worker is started for. */
export interface WorkerSpawnSpec {
  readonly workerId: WorkerId;
  /** Its canonical runtime env (undefined: the default env). */
  readonly runtimeEnv?: RuntimeEnv;
  /** GPU ids assigned to it (empty: none). */
  readonly gpuIds: readonly number[];
}

/**
 * What a worker process tells its node. A spawner calls these asynchronously, never from
 * inside `spawn()`.
 */
export interface WorkerProcessEvents {
  /** It set up its runtime env and consumes its queue. */
  ready(): void;
  /** It reached a task's maxCalls and exits after its current task. */
  retiring(): void;
  /** Its runtime env could not be set up (it takes no work). */
  envSetupFailed(message: string): void;
  /** Every message handed to it is acknowledged. */
  idle(): void;
  /** The process could not be started, or failed later (a warning then). */
  error(err: Error): void;
  /** The process is gone (after what it sent before dying was handled); called once. */
  exited(reason: string): void;
}

/** The node's hold on one worker process. */
export interface WorkerHandle {
  readonly pid: number | undefined;
  /** Messages handed to the worker and not yet acknowledged (work in progress). */
  unacked(): number;
  /** Stop handing the worker messages (drain; call when `unacked()` is 0). */
  pause(): Promise<void>;
  /** Kill the process (its exit follows as `exited`). */
  kill(): void;
  /** Close the worker's bus connection: its unacknowledged messages go back to their queues. */
  close(): Promise<void>;
  /** End the worker's consumers of `queue` (a shared actor stopped): what they hold goes back. */
  dropConsumers(queue: string): Promise<void>;
}

/** Starts worker processes. */
export interface WorkerSpawner {
  spawn(spec: WorkerSpawnSpec, events: WorkerProcessEvents): WorkerHandle;
}
