/**
 * A worker that made or received actor handles lets the actor go once they are collected,
 * which in V8 happens only when the heap is collected, and an idle worker may not collect for
 * a long time. So a worker that holds handles collects once it is idle after a task or call
 * (debounced, at most once per COLLECT_EVERY_MS), as Ray's worker drops the handles a task
 * held when it returns (`test_actor.py::test_distributed_actor_handle_deletion`). Drivers are
 * left alone: their heap is the user's.
 */
import { runInNewContext } from 'node:vm';
import type { ObjectId } from '../protocol/ids';
import type { Clock, Timer } from '../util/clock';

/** Wait this long after the last task ended before collecting (the worker is idle). */
const IDLE_MS = 50;
/** Collect at most this often. */
const COLLECT_EVERY_MS = 1000;

let gc: (() => void) | undefined;
/**
 * V8's collector, switched on for this process the first time it is needed (node:v8 is
 * required then: most workers never hold a handle, and it costs each its RSS).
 */
function collector(): () => void {
  if (!gc) {
    (require('node:v8') as typeof import('node:v8')).setFlagsFromString('--expose-gc');
    gc = runInNewContext('gc') as () => void;
  }
  return gc;
}

/** Collects a worker's heap while it holds actor handles (see the file comment). */
export class HandleCollector {
  private readonly borrowed = new Set<ObjectId>();
  private timer: Timer | undefined;
  private last = -Infinity;

  constructor(
    private readonly clock: Clock,
    /** Is the entry of `key` still held here? */
    private readonly held: (key: ObjectId) => boolean,
  ) {}

  /** An actor handle was made here (its key counts it). */
  note(key: ObjectId): void {
    this.borrowed.add(key);
  }

  /** A task or call ended: collect soon if borrowed handles may have become garbage. */
  taskEnded(): void {
    if (this.borrowed.size === 0) return;
    this.clock.clear(this.timer);
    const wait = Math.max(IDLE_MS, this.last + COLLECT_EVERY_MS - this.clock.now());
    this.timer = this.clock.setTimeout(() => this.collect(), wait);
  }

  private collect(): void {
    this.timer = undefined;
    this.last = this.clock.now();
    collector()();
    // Finalizers run after the collection: forget the handles they returned.
    setImmediate(() => {
      for (const key of [...this.borrowed]) if (!this.held(key)) this.borrowed.delete(key);
    });
  }
}
