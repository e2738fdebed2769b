/**
 * Entry point of a worker process, forked by its node. It reaches the bus through the IPC
 * transport, takes leased tasks from its worker queue one at a time, and may be dedicated to
 * hosting one actor. On a node that authenticates its bus (RAYBUS_REQUIRE_SIGNED_CODE=1) it
 * takes only deliveries the node opened with the cluster key; it never holds the key.
 */
import { IpcTransport } from '../transport/ipc-transport';
import { ChannelLink, IPC_FD_VAR, PipeLink, workerPollUs, type FrameLink } from '../transport/ipc-link';
import type { CoreWorker } from '../core/core-worker';
import { slot } from '../core/runtime-state';
import { decodeMessage } from '../serialization/message-codec';
import { REQUIRE_SIGNED_CODE_VAR, requireSignedCode, type CodeOrigin } from '../serialization/code-shipping';
import { originOf, workerRejections } from '../worker/delivery-check';
import { nodeQueue, workerQueue } from '../protocol/queues';
import type { WorkerMsg, TaskMsg } from '../protocol/messages/worker';
import { AUTHENTICATED_HEADER, type Delivery } from '../transport/transport';
import { decodeArgs, executeCall, load } from '../worker/executor';
import { routeStreamControl } from '../worker/generator-runner';
import { WorkerTaskQueue } from '../worker/task-queue';
import { PIPELINE_MAX } from '../core/submit-policy';
import { ActorHost } from '../worker/actor-host';
import { setupRuntimeEnv } from '../worker/runtime-env-setup';
import { readWorkerGpuIds, readWorkerIdentity, readWorkerRuntimeEnv } from '../protocol/worker-process';
import { flushWorkerOutput, installWorkerObservability } from '../worker/worker-observability';
import { readBusCapabilities } from '../transport/message-limit';
import { createWorkerContainer } from '../di/worker-container';
import { CORE_WORKER, SERIALIZER, resolve } from '../di/tokens';

/** Run this process as a worker of the node that forked it (see src/bin/worker.ts). */
export async function runWorker(): Promise<void> {
  const link = openNodeLink();
  // The node is gone (or let this worker go): nothing left to do.
  link.onClose(() => process.exit(0));
  const identity = readWorkerIdentity();
  if (!identity) throw new Error('raybus: this process was not started as a worker by a raybus node');
  const { workerId, nodeId } = identity;
  // The effective runtime env this worker was started with: child tasks and actors inherit it.
  const runtimeEnv = readWorkerRuntimeEnv();
  const authenticated = process.env[REQUIRE_SIGNED_CODE_VAR] === '1';
  requireSignedCode(authenticated);
  // What the node's bus can do reaches the worker with its environment.
  const transport = new IpcTransport(link, authenticated ? { requireHeader: AUTHENTICATED_HEADER } : {}, readBusCapabilities());
  await transport.connect();
  // Made once the core is: the blocked notice reaches it through this slot.
  const queueSlot: { tasks?: WorkerTaskQueue } = {};
  const c = createWorkerContainer({
    identity: { procId: workerId, jobId: identity.jobId, namespace: identity.namespace, nodeId },
    // A task waiting in get/wait: its node lends the lease's CPU out meanwhile (Ray's
    // NotifyWorkerBlocked), and what was pushed behind it goes back to its owner.
    blockedNotices: {
      blocked: (lease) => {
        core.send(nodeQueue(nodeId), { t: 'worker-blocked', lease, blocked: true });
        queueSlot.tasks?.onBlocked(lease);
      },
      unblocked: (lease) => core.send(nodeQueue(nodeId), { t: 'worker-blocked', lease, blocked: false }),
    },
    transport,
    ...(runtimeEnv ? { runtimeEnv } : {}),
  });
  resolve(c, SERIALIZER);
  const core = resolve(c, CORE_WORKER);
  routeStreamControl(core);
  installWorkerObservability(core, { workerId, nodeId });
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
    transport.signalEnvSetupFailed((err as Error).message);
    transport.flush();
    return;
  }
  const queue = workerQueue(workerId);
  await transport.assertQueue(queue);
  // The actor this worker was dedicated to, or the shared actors it hosts (isolation: 'shared').
  let dedicated: ActorHost | undefined;
  const shared = new Map<string, ActorHost>();
  const tasks = (queueSlot.tasks = new WorkerTaskQueue(core, (msg, ack, origin) => runTask(core, msg, ack, origin)));
  await transport.consume(
    queue,
    (d: Delivery) => {
      let msg: WorkerMsg;
      try {
        msg = decodeMessage('worker', d.body);
      } catch (err) {
        workerRejections.reject(d, err);
        return;
      }
      if (msg.t === 'task') return tasks.push(msg, d);
      if (msg.t === 'stop-actor') {
        d.ack();
        shared.get(msg.actor)?.stop();
        return;
      }
      // One actor per worker, the one its node started it for; or shared actors only.
      const isShared = msg.spec.iso === 'shared';
      const refusal =
        msg.nodeId !== nodeId
          ? `'host-actor' for another node`
          : dedicated || (!isShared && shared.size > 0)
            ? 'this worker already hosts an actor'
            : shared.has(msg.spec.actorId)
              ? 'this worker already hosts that actor'
              : undefined;
      if (refusal) {
        workerRejections.reject(d, new Error(refusal));
        return;
      }
      const host = new ActorHost(core, msg.spec, msg.restart, nodeId, originOf(d), core.clock);
      if (isShared) {
        const id = msg.spec.actorId;
        shared.set(id, host);
        host.onStopped = () => {
          if (shared.get(id) === host) shared.delete(id);
        };
      } else {
        dedicated = host;
      }
      d.ack();
      void host.start();
    },
    // As many as an owner pipelines on one lease; they run one at a time (WorkerTaskQueue).
    { prefetch: PIPELINE_MAX },
  );
  transport.signalReady();
}

/** Runs of each function in this worker, for maxCalls. */
const callCounts = new Map<string, number>();

async function runTask(core: CoreWorker, msg: TaskMsg, onSent: () => void, origin: CodeOrigin): Promise<void> {
  const runs = (callCounts.get(msg.fn.id) ?? 0) + 1;
  callCounts.set(msg.fn.id, runs);
  const retire = msg.mc !== undefined && msg.mc > 0 && runs >= msg.mc;
  // Told before the result goes out (same ordered channel), so the node never re-leases us.
  if (retire) (core.transport as IpcTransport).signalRetiring();
  const pinned = core.receiveArgs(msg.args);
  try {
    let call: () => unknown;
    try {
      const fn = await load(msg.fn, origin);
      // Arguments too large for one message are pulled from their holder first.
      const pulling = core.fetchArgs(msg.args);
      if (pulling) await pulling;
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
      ...(msg.ctx.nolog ? { log: { name: msg.fn.name, owner: msg.owner, nolog: true } } : {}),
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
        ...(msg.ctx.tc ? { tc: msg.ctx.tc } : {}),
      },
      call,
    });
  } finally {
    for (const id of pinned) core.store.unpin(id);
  }
  if (retire) {
    // maxCalls reached: the result (marked retire) is on its way; leave once it is written.
    flushWorkerOutput();
    await (core.transport as IpcTransport).drain();
    process.exit(0);
  }
}

/** The link to the node: its pipe where it made one, else the IPC channel. */
function openNodeLink(): FrameLink {
  const fd = Number(process.env[IPC_FD_VAR]);
  if (!Number.isInteger(fd) || fd <= 2) return new ChannelLink(process as unknown as ConstructorParameters<typeof ChannelLink>[0]);
  // No IPC channel beside it: the pipe keeps the worker alive, and its closing ends it.
  return PipeLink.onFd(fd, workerPollUs());
}

