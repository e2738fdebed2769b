/**
 * Public types: how remote functions, actor classes and handles are typed from user code.
 */
import type { ObjectRef } from '../refs/object-ref';
import type { ObjectRefGenerator } from '../refs/object-ref-generator';

/** A value or a ref to it: top-level ObjectRef arguments are resolved before the call. */
export type RefOr<T> = T | ObjectRef<T>;

/** Arguments of `.remote()`: each may be given as an ObjectRef of its type. */
export type RemoteArgs<A extends unknown[]> = { [K in keyof A]: RefOr<A[K]> };

/** Awaited return type of a function. */
export type Resolved<R> = Awaited<R>;

/** What `.remote()` returns for a given numReturns (generators stream by default). */
export type RemoteResult<R, N> = [R] extends [never]
  ? PlainResult<R, N>
  : [R] extends [Generator<infer Y, unknown, unknown> | AsyncGenerator<infer Y, unknown, unknown>]
    ? N extends 'dynamic'
      ? ObjectRef<ObjectRefGenerator<Y>>
      : ObjectRefGenerator<Y>
    : PlainResult<R, N>;

type PlainResult<R, N> = N extends 0
  ? null
  : N extends 1 | undefined
    ? ObjectRef<Resolved<R>>
    : N extends number
      ? Resolved<R> extends readonly unknown[]
        ? { [K in keyof Resolved<R>]: ObjectRef<Resolved<R>[K]> }
        : ObjectRef<unknown>[]
      : ObjectRef<Resolved<R>>;

/** A function turned remote with `ray.remote`. */
export interface RemoteFunction<F extends (...args: never[]) => unknown, N = undefined> {
  /** Submit the task. */
  remote(...args: RemoteArgs<Parameters<F>>): RemoteResult<ReturnType<F>, N>;
  /** A copy with merged options; the original is unchanged. */
  options<O extends { numReturns?: number | 'dynamic' | 'streaming'; num_returns?: number | 'dynamic' | 'streaming' }>(
    options: O & Record<string, unknown>,
  ): RemoteFunction<F, O extends { numReturns: infer M } ? M : O extends { num_returns: infer M } ? M : N>;
  /** Remote functions cannot be called directly: this throws a TypeError. */
  (...args: never[]): never;
}

/** Method names of an actor class instance (functions only). */
export type MethodNames<T> = { [K in keyof T]: T[K] extends (...args: never[]) => unknown ? K : never }[keyof T] & string;

/** One method on an actor handle. */
export interface ActorMethod<F extends (...args: never[]) => unknown, N = undefined> {
  remote(...args: RemoteArgs<Parameters<F>>): RemoteResult<ReturnType<F>, N>;
  options<O extends { numReturns?: number | 'dynamic' | 'streaming'; num_returns?: number | 'dynamic' | 'streaming' }>(
    options: O & Record<string, unknown>,
  ): ActorMethod<F, O extends { numReturns: infer M } ? M : N>;
}

/** Built-in methods every actor has. */
export interface ActorBuiltins {
  /** Resolves (to true) once the constructor ran. */
  __ray_ready__: ActorMethod<() => true>;
  /** Exit gracefully after queued work; never restarted. */
  __ray_terminate__: ActorMethod<() => void>;
}

/** A handle to an actor of class instance type T. */
export type ActorHandle<T> = { [K in MethodNames<T>]: T[K] extends (...args: never[]) => unknown ? ActorMethod<T[K]> : never } & ActorBuiltins & {
  /** The actor id. */
  readonly actorId: string;
};

/** An actor class turned remote with `ray.remote`. */
export interface ActorClass<C extends abstract new (...args: never[]) => unknown> {
  /** Create the actor; returns its handle at once. */
  remote(...args: RemoteArgs<ConstructorParameters<C>>): ActorHandle<InstanceType<C>>;
  /** A copy with merged options; the original is unchanged. */
  options(options: Record<string, unknown>): ActorClass<C>;
}
