/**
 * The generator tasks this process owns, by task id: opened at submission, fed by
 * `stream-item` messages, ended by the task's result (or its failure).
 */
import { completionId as completionIdOf, type ObjectId, type TaskId } from '../protocol/ids';
import { ObjectRefGenerator } from '../refs/object-ref-generator';
import type { WireOutcome } from '../protocol/wire';
import type { StreamItemMsg } from '../protocol/messages/reply';
import type { StreamObjects, StreamOutbox, StreamReceiver } from './stream-receiver';

/** A generator the caller dropped releases its stream (no producer stays paused). */
const generatorRegistry = new FinalizationRegistry<StreamReceiver>((r) => r.release());

/** The owner side of every generator task this process submitted. */
let Receiver: typeof StreamReceiver | undefined;
/** The receiver's class, loaded by the first generator task this process submits (few processes submit any). */
function receiverClass(): typeof StreamReceiver {
  return (Receiver ??= (require('./stream-receiver') as typeof import('./stream-receiver')).StreamReceiver);
}

export class StreamTable {
  private readonly streams = new Map<TaskId, StreamReceiver>();

  constructor(
    private readonly outbox: StreamOutbox,
    private readonly objects: StreamObjects,
    /** Cancels a generator task whose caller left its loop early (`ray.cancel`, not forced). */
    private readonly cancelTask?: (taskId: TaskId) => void,
  ) {}

  /**
   * Open the owner side of a generator task: its single return id is the completion ref, and
   * items arrive on the stream. The generator is released when collected (lifts backpressure).
   */
  open(taskId: TaskId, backpressure: number): { generator: ObjectRefGenerator<unknown>; returnIds: ObjectId[] } {
    const completionId = completionIdOf(taskId);
    const receiver = new (receiverClass())(this.outbox, this.objects, taskId, this.objects.ownedRef(completionId), backpressure, this.cancelTask);
    this.streams.set(taskId, receiver);
    // Only the caller holds the generator: once it is collected, the stream is released.
    const generator = new ObjectRefGenerator<unknown>({ source: receiver });
    generatorRegistry.register(generator, receiver);
    return { generator, returnIds: [completionId] };
  }

  /** An item arrived (dropped when its stream is unknown here: ended, or never opened). */
  onItem(msg: StreamItemMsg): void {
    this.streams.get(msg.task)?.onItem(msg.seq, msg.out, msg.from);
  }

  /** Forget the stream of `taskId` and hand it back (to end it). */
  take(taskId: TaskId): StreamReceiver | undefined {
    const s = this.streams.get(taskId);
    if (s) this.streams.delete(taskId);
    return s;
  }

  /** The task failed: its stream ends with `out` as a last item. */
  fail(taskId: TaskId, out: WireOutcome): void {
    this.take(taskId)?.end(out);
  }

  /** Tell the producer of `taskId` to stop (the stream then ends with its cancellation). */
  cancel(taskId: TaskId): void {
    this.streams.get(taskId)?.cancel();
  }

  get size(): number {
    return this.streams.size;
  }
}
