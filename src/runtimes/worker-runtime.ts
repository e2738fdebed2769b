/**
 * Entry point of a worker process, forked by its node. It reaches the bus through the IPC
 * transport, takes leased tasks from its worker queue one at a time, and may be dedicated to
 * hosting one actor.
 */
import { Socket } from 'node:net';
import { IpcTransport } from '../transport/ipc-transport';
import { ChannelLink, IPC_FD_VAR, PipeLink, type FrameLink } from '../transport/ipc-link';
import { CoreWorker } from '../core/core-worker';
import { slot } from '../core/runtime-state';
import { decodeWorkerMessage, rejectMalformed } from '../worker/envelope-check';
import { nodeQueue, workerQueue } from '../protocol/queues';
import type { WorkerMsg, TaskMsg } from '../protocol/messages/worker';
import type { Delivery } from '../transport/transport';
import { decodeArgs, executeCall, load } from '../worker/executor';
import { routeStreamControl } from '../worker/generator-runner';
import { WorkerTaskQueue } from '../worker/task-queue';
import { PIPELINE_MAX } from '../core/task-submitter';
import { ActorHost } from '../worker/actor-host';
import { setupRuntimeEnv } from '../worker/runtime-env-setup';
import { readWorkerGpuIds, readWorkerIdentity, readWorkerRuntimeEnv, type EnvSetupFailedReport } from '../protocol/worker-process';

/** Run this process as a worker of the node that forked it (see src/bin/worker.ts). */
export async function runWorker(): Promise<void> {
  // The node is gone (or let this worker go): nothing left to do.
  process.on('disconnect', () => process.exit(0));
  const identity = readWorkerIdentity();
  if (!identity) throw new Error('raybus: this process was not started as a worker by a raybus node');
  const { workerId, nodeId } = identity;
  // The effective runtime env this worker was started with: child tasks and actors inherit it.
  const runtimeEnv = readWorkerRuntimeEnv();
  const transport = new IpcTransport(process, openNodeLink());
  await transport.connect();
  // Made once the core is: the blocked notice reaches it through this slot.
  const queueSlot: { tasks?: WorkerTaskQueue } = {};
  const core: CoreWorker = new CoreWorker({
    procId: workerId,
    transport,
    jobId: identity.jobId,
    namespace: identity.namespace,
    nodeId,
    isDriver: false,
    ...(runtimeEnv ? { runtimeEnv } : {}),
    // A task waiting in get/wait: its node lends the lease's CPU out meanwhile (Ray's
    // NotifyWorkerBlocked), and what was pushed behind it goes back to its owner.
    blockedNotices: {
      blocked: (lease) => {
        core.send(nodeQueue(nodeId), { t: 'worker-blocked', lease, blocked: true });
        queueSlot.tasks?.onBlocked(lease);
      },
      unblocked: (lease) => core.send(nodeQueue(nodeId), { t: 'worker-blocked', lease, blocked: false }),
    },
  });
  routeStreamControl(core);
  slot.core = core;
  slot.process = {
    jobId: core.options.jobId,
    nodeId,
    namespace: core.options.namespace,
    workerId,
    assignedResources: {},
    gpuIds: readWorkerGpuIds(),
    actorId: null,
    wasCurrentActorReconstructed: false,
  };
  await core.start();
  try {
    // Before the worker takes any work: working directory, then modules (user code may use both).
    await setupRuntimeEnv(runtimeEnv);
  } catch (err) {
    // Take no work; the node fails what this worker was started for and stops it.
    const report: EnvSetupFailedReport = { raybus: 'env-setup-failed', message: (err as Error).message };
    process.send?.(report);
    return;
  }
  const queue = workerQueue(workerId);
  await transport.assertQueue(queue);
  let host: ActorHost | undefined;
  const tasks = (queueSlot.tasks = new WorkerTaskQueue(core, (msg, ack) => runTask(core, msg, ack)));
  await transport.consume(
    queue,
    (d: Delivery) => {
      let msg: WorkerMsg;
      try {
        msg = decodeWorkerMessage(d.body) as WorkerMsg;
      } catch (err) {
        rejectMalformed(d, err);
        return;
      }
      if (msg.t === 'host-actor') {
        host = new ActorHost(core, msg.spec, msg.restart, nodeId);
        d.ack();
        void host.start();
        return;
      }
      if (msg.t === 'task') return tasks.push(msg, d);
      d.nack(false, 'unknown message');
    },
    // As many as an owner pipelines on one lease; they run one at a time (WorkerTaskQueue).
    { prefetch: PIPELINE_MAX },
  );
  transport.signalReady();
  void host;
}

/** Runs of each function in this worker, for maxCalls. */
const callCounts = new Map<string, number>();

async function runTask(core: CoreWorker, msg: TaskMsg, onSent: () => void): Promise<void> {
  const runs = (callCounts.get(msg.fn.id) ?? 0) + 1;
  callCounts.set(msg.fn.id, runs);
  const retire = msg.mc !== undefined && msg.mc > 0 && runs >= msg.mc;
  // Told before the result goes out (same ordered channel), so the node never re-leases us.
  if (retire) (core.transport as IpcTransport).signalRetiring();
  const pinned = core.receiveArgs(msg.args);
  try {
    let call: () => unknown;
    try {
      const fn = await load(msg.fn);
      const args = decodeArgs(msg.args);
      call = () => (fn as (...a: unknown[]) => unknown)(...args);
    } catch (err) {
      call = () => {
        throw err;
      };
    }
    await executeCall(core, {
      taskId: msg.task,
      owner: msg.owner,
      name: msg.fn.name,
      nret: msg.nret,
      ...(msg.bp ? { bp: msg.bp } : {}),
      retire,
      timed: true,
      onSent,
      context: {
        taskId: msg.task,
        actorId: null,
        attempt: msg.ctx.attempt,
        metadata: msg.ctx.metadata ?? {},
        wasCurrentActorReconstructed: false,
        ...(msg.ctx.res ? { resources: msg.ctx.res } : {}),
        // This process serves every job's tasks: each runs in its own job and namespace.
        jobId: msg.ctx.jobId,
        namespace: msg.ctx.namespace,
        lease: msg.lease,
      },
      call,
    });
  } finally {
    for (const id of pinned) core.store.unpin(id);
  }
  if (retire) {
    // maxCalls reached: the result (marked retire) is on its way; leave once it is written.
    await (core.transport as IpcTransport).drain();
    process.exit(0);
  }
}

/** The link to the node: its pipe where it made one, else the IPC channel. */
function openNodeLink(): FrameLink {
  const fd = Number(process.env[IPC_FD_VAR]);
  if (!Number.isInteger(fd) || fd <= 2) return new ChannelLink(process as unknown as ConstructorParameters<typeof ChannelLink>[0]);
  const socket = new Socket({ fd, readable: true, writable: true });
  // The IPC channel keeps the worker alive (and ends it on disconnect); the pipe need not.
  socket.unref();
  return new PipeLink(socket);
}

