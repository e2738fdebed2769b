/**
 * Hosts one actor in a worker process: runs the constructor, then consumes the actor's
 * mailbox queue with prefetch = maxConcurrency (1 for sync actors, so calls run one at a
 * time in queue order). A process hosts one actor, or many with `isolation: 'shared'`: each
 * then has its host here, and `stop()` ends one without ending the process. A redelivered
 * call (the previous incarnation died holding it) runs again only when the call allows task
 * retries; otherwise it fails with RayActorError
 * (at-most-once). On a bus that does not requeue at the head, a caller's calls pass through a
 * CallSequencer first (call-sequencer.ts), so a restarted host still runs them in order.
 */
import { actorCreationTaskId, type ReplyQueue, type TaskId, type NodeId, type WorkerId } from '../protocol/ids';
import { CANCEL_TOPIC, actorQueue } from '../protocol/queues';
import type { ActorSpec } from '../protocol/wire';
import type { CallMsg } from '../protocol/messages/mailbox';
import { abortRunning } from '../core/running-tasks';
import type { CoreWorker } from '../core/core-worker';
import { slot, type ProcessContext } from '../core/runtime-state';
import { decodeMessage, decodeTopicMessage } from '../serialization/message-codec';
import type { CodeOrigin } from '../serialization/code-shipping';
import { encodeError, encodeTaskError } from '../serialization/error-codec';
import { RayActorError, TaskCancelledError } from '../errors/ray-errors';
import type { Delivery } from '../transport/transport';
import { decodeArgs, executeCall, load, runInContext } from './executor';
import { workerRejections } from './delivery-check';
import { systemClock, type Clock, type Timer } from '../util/clock';
import { flushWorkerOutput, workerExecutions } from './worker-observability';
import { capabilitiesOf, type Subscription } from '../transport/transport';
import { CallSequencer } from './call-sequencer';
import { addBounded } from '../util/bounded-set';

/** Calls a sync actor holds ahead of the one it runs. */
const MAILBOX_PREFETCH = 1000;
/**
 * How long a redelivered call waits for its caller's verdict (`call-verdict`) before it runs
 * anyway: a caller that answers nothing is gone or stuck, and at-least-once then holds.
 */
const VERDICT_TIMEOUT_MS = 10_000;

/** A delivered call; `verdict` while a redelivered one waits for its caller to count it. */
interface Waiting {
  readonly msg: CallMsg;
  readonly d: Delivery;
  verdict?: 'pending' | Timer;
}
/** How long an exiting actor's process waits for its last IPC batch to flush. */
const EXIT_FLUSH_MS = 20;
/** Cancelled calls not seen yet, remembered for the actors of this process. */
const MAX_CANCELLED = 10_000;

/**
 * What the actors of one process share: one subscription to cancel notices and one handler of
 * each reply kind (a process may host thousands of shared actors).
 */
interface HostsOfProcess {
  readonly hosts: Set<ActorHost>;
  /** Calls cancelled before they started (notices name calls of any actor: bounded). */
  readonly cancelled: Set<string>;
  readonly subscribed: Promise<void>;
}

const processHosts = new WeakMap<CoreWorker, HostsOfProcess>();

function hostsOf(core: CoreWorker): HostsOfProcess {
  let shared = processHosts.get(core);
  if (shared) return shared;
  const hosts = new Set<ActorHost>();
  const cancelled = new Set<string>();
  // Cancelled calls: dropped if still queued, aborted if running.
  const subscribed = core.transport
    .subscribe(CANCEL_TOPIC, (body) => {
      let task: TaskId;
      try {
        task = decodeTopicMessage('cancel', body).task;
      } catch (err) {
        workerRejections.drop(CANCEL_TOPIC, err);
        return;
      }
      if (abortRunning(task, new TaskCancelledError(task))) return;
      addBounded(cancelled, task, MAX_CANCELLED);
    })
    .then(() => undefined);
  core.registerReplyHandler('call-verdict', (m) => {
    for (const h of hosts) h.onVerdict(m.task, m.run, m.attempt);
  });
  core.registerReplyHandler('call-seq', (m) => {
    for (const h of hosts) h.onLowest(m.s, m.lo);
  });
  shared = { hosts, cancelled, subscribed };
  processHosts.set(core, shared);
  return shared;
}

export class ActorHost {
  private instance: Record<string, unknown> | undefined;
  private exiting = false;
  /** Delivered calls not started yet, in delivery order. */
  private readonly waiting: Waiting[] = [];
  private running = 0;
  private readonly cancelled: Set<string>;
  private readonly process: HostsOfProcess;
  /** Keeps each caller's order where the bus does not (no requeue at the head). */
  private readonly sequencer?: CallSequencer<{ msg: CallMsg; d: Delivery }>;
  /** The mailbox consumer, once the constructor ran. */
  private mailbox?: Subscription;
  /** Hosted with other actors in this process (`isolation: 'shared'`). */
  private readonly shared: boolean;
  /** Called once a shared actor stopped (killed or exited): the process forgets it. */
  onStopped?: () => void;

  /**
   * @param origin where the `host-actor` order came from: the class is loaded only on the
   *   word of a cluster key holder when the node requires it (code-shipping.ts).
   */
  constructor(
    private readonly core: CoreWorker,
    private readonly spec: ActorSpec,
    private readonly restart: boolean,
    private readonly nodeId: NodeId,
    private readonly origin: CodeOrigin,
    private readonly clock: Clock = systemClock,
  ) {
    this.shared = spec.iso === 'shared';
    this.process = hostsOf(core);
    this.cancelled = this.process.cancelled;
    if (!capabilitiesOf(core.transport).requeueAtHead) {
      this.sequencer = new CallSequencer(({ msg, d }) => this.accept(msg, d), {
        clock,
        query: (owner, s) => core.send(owner, { t: 'call-seq-query', s, reply: core.address }),
      });
    }
  }

  async start(): Promise<void> {
    const { spec } = this;
    this.process.hosts.add(this);
    // Subscribed to cancel notices before the constructor runs, so a cancel sent while the
    // actor starts is not missed.
    await this.process.subscribed;
    if (!this.shared) {
      // Output of this process is the actor's, whatever runs: it goes to the actor's owner.
      const executions = workerExecutions();
      if (executions) executions.fallback = this.logAs;
      const proc = slot.process as ProcessContext;
      // The process now belongs to the actor's job (its creator's), whatever job it served before.
      slot.process = {
        ...proc,
        jobId: spec.ctx.jobId,
        namespace: spec.ctx.namespace,
        actorId: spec.actorId,
        wasCurrentActorReconstructed: this.restart,
        assignedResources: { ...spec.lifetime },
      };
    }
    const pinned = this.core.receiveArgs(spec.args);
    const outcomes = await (async () => {
      try {
        const cls = (await load(spec.cls, this.origin)) as unknown as new (...a: unknown[]) => Record<string, unknown>;
        const pulling = this.core.fetchArgs(spec.args);
        if (pulling) await pulling;
        const args = decodeArgs(spec.args);
        return await runInContext(this.core, { ...this.context(actorCreationTaskId(spec.actorId), 0), signal: new AbortController().signal }, `${spec.meta.className}.constructor`, 1, () => {
          this.instance = new cls(...args);
          return null;
        });
      } catch (err) {
        return [{ e: encodeTaskError(`${spec.meta.className}.constructor`, spec.actorId, err) }];
      } finally {
        for (const id of pinned) this.core.store.unpin(id);
      }
    })();
    const failed = outcomes.find((o) => 'e' in o);
    if (failed && 'e' in failed) {
      this.core.sendToBroker({ t: 'actor-failed', actor: spec.actorId, err: failed.e, intentional: false, initFailed: true });
      this.forget();
      return;
    }
    if (this.exiting) return;
    const queue = actorQueue(spec.actorId);
    await this.core.transport.assertQueue(queue);
    // Prefetch more than we run at once, so the next call is already here when one finishes
    // (no ack round trip between calls); `maxConcurrency` is enforced by the local queue.
    const prefetch = Math.max(spec.maxConcurrency, MAILBOX_PREFETCH);
    this.mailbox = await this.core.transport.consume(queue, (d) => this.onCall(d), { prefetch });
    // Stopped while the consumer was being set up: let its deliveries go back.
    if (this.exiting) return void this.mailbox.cancel().catch(() => undefined);
    this.core.sendToBroker({ t: 'actor-ready', actor: spec.actorId, worker: this.core.options.procId as WorkerId, pid: process.pid });
  }

  /** Where the actor's output goes: its owner's driver prints it as `(ClassName pid=N node=…)`. */
  private get logAs(): { name: string; owner: ReplyQueue; nolog?: boolean } {
    const { spec } = this;
    return (this.logDestination ??= { name: spec.meta.className, owner: spec.owner, ...(spec.ctx.nolog ? { nolog: true } : {}) });
  }

  private logDestination?: { name: string; owner: ReplyQueue; nolog?: boolean };

  private context(taskId: TaskId, attempt: number): Omit<Parameters<typeof runInContext>[1], 'signal'> {
    return {
      taskId,
      actorId: this.spec.actorId,
      attempt,
      metadata: this.spec.ctx.metadata ?? {},
      wasCurrentActorReconstructed: this.restart,
      jobId: this.spec.ctx.jobId,
      namespace: this.spec.ctx.namespace,
      // A shared actor's process context is not its own: its calls carry what it holds.
      ...(this.shared ? { resources: this.spec.lifetime, exit: { requested: false } } : {}),
    };
  }

  private onCall(d: Delivery): void {
    if (this.exiting) {
      d.nack(true);
      return;
    }
    let msg: CallMsg;
    try {
      msg = decodeMessage('mailbox', d.body);
    } catch (err) {
      workerRejections.reject(d, err);
      return;
    }
    if (this.sequencer) this.sequencer.admit(msg.sq, msg.owner, { msg, d });
    else this.accept(msg, d);
  }

  /** A call in its caller's order: drop it (cancelled), fail it (at-most-once), or queue it. */
  private accept(msg: CallMsg, d: Delivery): void {
    if (this.cancelled.delete(msg.task)) {
      // The caller cancelled it while it was queued: never runs (the caller already failed it).
      d.ack();
      return;
    }
    if (d.redelivered && msg.retries === 0) {
      // At-most-once: the previous incarnation may or may not have run this call.
      const err = new RayActorError(
        `The actor ${this.spec.meta.className} (${this.spec.actorId}) died while call '${msg.method}' was in flight; it may or may not have run (maxTaskRetries=0).`,
        this.spec.actorId,
      );
      this.reply(msg, [{ e: encodeError(err) }]);
      d.ack();
      return;
    }
    const w: Waiting = { msg, d };
    this.waiting.push(w);
    // At-least-once within maxTaskRetries: the caller counts the runs cut short and says
    // whether this one runs again. Calls behind it wait (a sync actor keeps their order).
    if (d.redelivered) this.askVerdict(w);
    this.pump();
  }

  private askVerdict(w: Waiting): void {
    w.verdict = 'pending';
    const timer = this.clock.setTimeout(() => {
      if (w.verdict !== timer) return;
      w.verdict = undefined;
      this.pump();
    }, VERDICT_TIMEOUT_MS);
    w.verdict = timer;
    this.core.send(w.msg.owner, { t: 'call-redelivered', task: w.msg.task, reply: this.core.address }, undefined, () => {
      // The caller's queue is gone (it died): nobody waits for this call.
      if (w.verdict === undefined || !this.waiting.includes(w)) return;
      this.drop(w);
    });
  }

  /** The caller's answer about a redelivered call (any actor's: each host looks for its own). */
  onVerdict(task: TaskId, run: boolean, attempt: number): void {
    const w = this.waiting.find((x) => x.msg.task === task && x.verdict !== undefined);
    if (!w) return;
    this.clock.clear(w.verdict as Timer);
    w.verdict = undefined;
    if (!run) return this.drop(w);
    (w.msg as { ctx: CallMsg['ctx'] }).ctx = { ...w.msg.ctx, attempt };
    this.pump();
  }

  /** A caller's answer about its calls still waiting (any actor's: sequences are per handle). */
  onLowest(s: string, lo: number): void {
    this.sequencer?.onLowest(s, lo);
  }

  /** The caller failed (or no longer waits for) a redelivered call: it never runs. */
  private drop(w: Waiting): void {
    const i = this.waiting.indexOf(w);
    if (i >= 0) this.waiting.splice(i, 1);
    this.clock.clear(w.verdict as Timer | undefined);
    w.verdict = undefined;
    w.d.ack();
    this.pump();
  }

  /** Start queued calls, in delivery order, while fewer than maxConcurrency run. */
  private pump(): void {
    while (this.running < this.spec.maxConcurrency && this.waiting.length > 0 && !this.exiting) {
      if (this.waiting[0]!.verdict !== undefined) return;
      const { msg, d } = this.waiting.shift()!;
      if (this.cancelled.delete(msg.task)) {
        d.ack();
        continue;
      }
      this.running += 1;
      // Results (and acks) of earlier calls go out before this one runs: should it kill the
      // process, the calls that finished keep their results (and a retried call is not run
      // again).
      this.core.flushOutgoing();
      let acked = false;
      const ack = (): void => {
        if (!acked) d.ack();
        acked = true;
      };
      void this.run(msg, ack).finally(() => {
        ack();
        this.running -= 1;
        this.pump();
      });
    }
  }

  private reply(msg: CallMsg, rets: Array<{ e: ReturnType<typeof encodeError> } | { d: Uint8Array }>): void {
    this.core.send(msg.owner, { t: 'result', task: msg.task, rets });
  }

  private async run(msg: CallMsg, onSent: () => void): Promise<void> {
    const name = `${this.spec.meta.className}.${msg.method}`;
    const pinned = this.core.receiveArgs(msg.args);
    let exited = false;
    const context = msg.ctx.tc ? { ...this.context(msg.task, msg.ctx.attempt), tc: msg.ctx.tc } : this.context(msg.task, msg.ctx.attempt);
    try {
      let call: () => unknown;
      try {
        // Arguments too large for one message are pulled from their holder first.
        const pulling = this.core.fetchArgs(msg.args);
        if (pulling) await pulling;
        const args = decodeArgs(msg.args);
        call = () => this.invoke(msg.method, args);
      } catch (err) {
        call = () => {
          throw err;
        };
      }
      await executeCall(this.core, {
        taskId: msg.task,
        owner: msg.owner,
        name,
        nret: msg.nret,
        ...(msg.bp ? { bp: msg.bp } : {}),
        context,
        call,
        onSent,
        actorCall: true,
        // Its run time goes with the result: the owner's task table counts durations by it.
        timed: true,
        log: this.logAs,
        transform: (rets) => {
          if (!(context.exit?.requested ?? slot.process!.exitRequested)) return rets;
          exited = true;
          const err = new RayActorError(
            `The actor ${this.spec.meta.className} (${this.spec.actorId}) exited intentionally: exitActor() was called in method '${msg.method}'.`,
            this.spec.actorId,
          );
          return Array.from({ length: Math.max(1, msg.nret) }, () => ({ e: encodeError(err) }));
        },
      });
    } finally {
      for (const id of pinned) this.core.store.unpin(id);
    }
    if (exited) this.exit(`exitActor() called in ${msg.method}`);
    else if (msg.method === '__ray_terminate__') this.exit('__ray_terminate__ called');
  }

  private invoke(method: string, args: unknown[]): unknown {
    if (method === '__ray_ready__') return true;
    if (method === '__ray_terminate__') return null;
    const fn = this.instance?.[method];
    if (typeof fn !== 'function') throw new TypeError(`Actor ${this.spec.meta.className} has no method '${method}'`);
    return (fn as (...a: unknown[]) => unknown).apply(this.instance, args);
  }

  /** Leave for good: tell the registry it was intentional, then end the process (or, shared, this actor alone). */
  private exit(reason: string): void {
    if (this.exiting) return;
    this.exiting = true;
    flushWorkerOutput();
    this.sequencer?.stop();
    this.core.sendToBroker({
      t: 'actor-failed',
      actor: this.spec.actorId,
      err: encodeError(new RayActorError(`The actor exited intentionally (${reason}).`, this.spec.actorId)),
      intentional: true,
      initFailed: false,
    });
    if (this.shared) return this.stop();
    // Give the IPC batch (result + notice) a turn to flush before exiting.
    this.clock.setTimeout(() => process.exit(0), EXIT_FLUSH_MS).ref();
  }

  /**
   * A shared actor stops (killed, or it exited) while its process lives on: it takes no more
   * calls, the calls delivered and not started go back to the mailbox (cancelling the consumer
   * returns them), and its instance is let go. Calls already running finish.
   */
  stop(): void {
    this.exiting = true;
    this.sequencer?.stop();
    for (const w of this.waiting.splice(0)) this.clock.clear(w.verdict as Timer | undefined);
    this.instance = undefined;
    void this.mailbox?.cancel().catch(() => undefined);
    this.mailbox = undefined;
    this.forget();
  }

  private forget(): void {
    if (!this.process.hosts.delete(this)) return;
    this.onStopped?.();
  }
}
