/**
 * ObjectRefGenerator: what a generator task returns (Ray's `num_returns="streaming"`), and
 * the value a `'dynamic'` task resolves to. Items arrive as refs in yield order; an error
 * raised after k yields is ref k+1, then the stream ends. Values are an RxJS stream too.
 */
import type { TaskId } from '../protocol/ids';
import type { Observable } from 'rxjs';
import { rx } from '../util/rx';
import { EXT_REF_GENERATOR, serializer } from '../serialization/serializer';
import { isObjectRef, type ObjectRef } from './object-ref';

const GEN_MARKER = Symbol.for('raybus.ObjectRefGenerator');

/** How a streaming generator talks to its runtime (set by the core worker). */
export interface StreamSource {
  /** Resolves with the next item, or undefined once the stream ended. */
  pull(): Promise<ObjectRef<unknown> | undefined>;
  /** The item that `pull` would return now, without waiting: a ref, 'end', or 'pending'. */
  peek(): ObjectRef<unknown> | 'end' | 'pending';
  /** Resolves once an item (or the end) is available. */
  whenAvailable(): Promise<void>;
  /** The ref that resolves when the task finished (or failed). */
  completed(): ObjectRef<unknown>;
  /** The caller is done with the stream (cancel or garbage collection). */
  release(): void;
  /** The caller left its loop early (`break`, `return` or a throw): the producer is cancelled. */
  stop(): void;
  readonly taskId: TaskId;
}

/**
 * A stream of ObjectRefs produced by a generator task or actor method.
 *
 * @example
 * for await (const ref of gen.remote(3)) console.log(await ray.get(ref));
 */
export class ObjectRefGenerator<T = unknown> implements AsyncIterable<ObjectRef<T>>, Iterable<ObjectRef<T>> {
  /** @internal Streaming source (absent for a finished 'dynamic' generator). */
  readonly source?: StreamSource;
  /** @internal All refs, for a 'dynamic' generator (known once the task finished). */
  readonly refs?: ReadonlyArray<ObjectRef<T>>;
  private cursor = 0;

  /** @internal */
  constructor(init: { source: StreamSource } | { refs: ReadonlyArray<ObjectRef<T>> }) {
    if ('source' in init) this.source = init.source;
    else this.refs = init.refs;
  }

  /** The id of the task producing the items. */
  get taskId(): TaskId {
    return this.source?.taskId ?? ('' as TaskId);
  }

  /** The next ref (`done` once the generator finished). */
  async next(): Promise<IteratorResult<ObjectRef<T>, undefined>> {
    if (this.refs) {
      const ref = this.refs[this.cursor];
      if (!ref) return { done: true, value: undefined };
      this.cursor += 1;
      return { done: false, value: ref };
    }
    const ref = (await this.source!.pull()) as ObjectRef<T> | undefined;
    return ref ? { done: false, value: ref } : { done: true, value: undefined };
  }

  /**
   * `for await` over the items. Leaving the loop early (`break`, `return`, a throw) cancels the
   * generator task, as ending a loop over a Node stream destroys it (`ray.cancel(gen)` does the
   * same); the rest of the stream then reads as done.
   */
  [Symbol.asyncIterator](): AsyncIterator<ObjectRef<T>, undefined> {
    return {
      next: () => this.next(),
      return: () => {
        this.source?.stop();
        return Promise.resolve({ done: true, value: undefined });
      },
    };
  }

  /** Synchronous iteration: only for a finished 'dynamic' generator. */
  [Symbol.iterator](): Iterator<ObjectRef<T>> {
    if (!this.refs) throw new TypeError("A streaming ObjectRefGenerator is not synchronously iterable: use 'for await'");
    return this.refs[Symbol.iterator]();
  }

  /** A ref that resolves once the generator task finished (or rejects with its failure). */
  completed(): ObjectRef<unknown> {
    if (!this.source) throw new TypeError('completed() is only available on streaming generators');
    return this.source.completed();
  }

  /** The values as an Observable, in order; errors where the generator threw. */
  asObservable(): Observable<T> {
    const { defer, from, concatMap } = rx();
    return defer(() => from(this as AsyncIterable<ObjectRef<T>>)).pipe(concatMap((ref) => ref.asObservable()));
  }

  static [Symbol.hasInstance](v: unknown): boolean {
    return typeof v === 'object' && v !== null && (v as Record<symbol, unknown>)[GEN_MARKER] === true;
  }
}
Object.defineProperty(ObjectRefGenerator.prototype, GEN_MARKER, { value: true });

// A finished 'dynamic' generator travels as the list of its refs; a streaming one stays with
// its owner (its items arrive there).
serializer.registerExtension<ObjectRefGenerator<unknown>>({
  Class: ObjectRefGenerator,
  type: EXT_REF_GENERATOR,
  accepts: (g) => g.refs !== undefined,
  write: (g) => {
    if (!g.refs) throw new TypeError('raybus: a streaming ObjectRefGenerator cannot be passed to another task or actor');
    return g.refs;
  },
  read: (refs) => {
    if (!Array.isArray(refs) || !refs.every(isObjectRef)) throw new TypeError('raybus: malformed ObjectRefGenerator');
    return new ObjectRefGenerator({ refs });
  },
});

/** True for generators from any copy of raybus. */
export function isObjectRefGenerator(v: unknown): v is ObjectRefGenerator<unknown> {
  return v instanceof ObjectRefGenerator;
}
