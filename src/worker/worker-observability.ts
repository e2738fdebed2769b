/**
 * A worker process's part in observability, set up once by the worker runtime: what it runs
 * (for the state API's RUNNING actor calls and the timeline), its output on its way to the
 * driver, and output of nested work passed on towards the driver.
 */
import type { NodeId, WorkerId } from '../protocol/ids';
import type { CoreWorker } from '../core/core-worker';
import { ExecutionLog } from '../observability/execution-log';
import { systemClock, type Clock } from '../util/clock';
import { LogCapture } from './log-capture';

interface Installed {
  readonly executions: ExecutionLog;
  readonly capture: LogCapture;
}

let installed: Installed | undefined;

/** Set up this worker's observability on its core (once per process). */
export function installWorkerObservability(core: CoreWorker, identity: { readonly workerId: WorkerId; readonly nodeId: NodeId }, clock: Clock = systemClock): Installed {
  if (installed) return installed;
  const executions = new ExecutionLog({ nodeId: identity.nodeId, workerId: identity.workerId, pid: process.pid });
  const capture = new LogCapture({ pid: process.pid, node: identity.nodeId, worker: identity.workerId }, executions, (owner, msg) => core.send(owner, msg), clock);
  capture.install();
  // Output of tasks this worker submitted goes on towards the driver, through the owner of what runs here.
  core.logForward = (msg) => {
    const d = executions.anyDestination();
    if (d && !d.nolog) core.send(d.owner, msg);
  };
  core.state.on('tasks', () => ({ running: executions.runningCalls() }));
  core.state.on('task-summary', () => ({ running: executions.runningCalls() }));
  core.state.on('timeline', (q) => {
    const items = executions.timeline(q.limit);
    return items.length > 0 ? { items } : undefined;
  });
  installed = { executions, capture };
  return installed;
}

/** This worker's executions (undefined outside a worker process). */
export function workerExecutions(): ExecutionLog | undefined {
  return installed?.executions;
}

/** Send the output lines waiting to go (before a result, before the process exits). */
export function flushWorkerOutput(): void {
  if (installed?.capture.hasPending) installed.capture.flush();
}
