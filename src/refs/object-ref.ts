/**
 * ObjectRef: a future for a value that lives with its owner. Deliberately not thenable, so
 * refs pass through async code unresolved. Resolution is an RxJS stream (`asObservable`).
 */
import type { Observable } from 'rxjs';
import type { ObjectId, ReplyQueue } from '../protocol/ids';

const REF_MARKER = Symbol.for('raybus.ObjectRef');

/** How a ref reaches the runtime of its process without importing it (no cycles). */
export interface RefResolver {
  observe(ref: ObjectRef<unknown>): Observable<unknown>;
}

let resolver: RefResolver | undefined;
/** @internal Make `r` resolve every ref of this copy of raybus (the runtime that started last). */
export function setRefResolver(r: RefResolver | undefined): void {
  resolver = r;
}

/** @internal `r` stops resolving refs, unless another runtime took over since. */
export function clearRefResolver(r: RefResolver): void {
  if (resolver === r) resolver = undefined;
}

/**
 * A reference to a value computed by a task or stored with `put`.
 *
 * @example
 * const ref = add.remote(1, 2);
 * console.log(ref.hex(), await ray.get(ref));
 */
export class ObjectRef<T = unknown> {
  /** Type-level only: the value type. */
  declare readonly __valueType?: T;
  /** @internal */
  readonly id: ObjectId;
  /** @internal The owner's address (its reply queue). */
  readonly owner: ReplyQueue;

  /** @internal Refs are created by raybus, never by users. */
  constructor(id: ObjectId, owner: ReplyQueue) {
    this.id = id;
    this.owner = owner;
  }

  /** The object id, as a hex string. */
  hex(): string {
    return this.id;
  }

  /** An Observable that emits the value once and completes, or errors. */
  asObservable(): Observable<T> {
    if (!resolver) throw new Error('raybus is not running: call ray.init() first');
    return resolver.observe(this) as Observable<T>;
  }

  toString(): string {
    return `ObjectRef(${this.id})`;
  }

  /** Node's inspector shows the id, not internals. */
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return this.toString();
  }

  static [Symbol.hasInstance](obj: unknown): boolean {
    return typeof obj === 'object' && obj !== null && (obj as Record<symbol, unknown>)[REF_MARKER] === true;
  }
}
Object.defineProperty(ObjectRef.prototype, REF_MARKER, { value: true });

/** True for ObjectRefs from any copy of raybus. */
export function isObjectRef(v: unknown): v is ObjectRef<unknown> {
  return v instanceof ObjectRef;
}
