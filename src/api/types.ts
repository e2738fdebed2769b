/**
 * Public types: how remote functions, actor classes and handles are typed from user code.
 */
import type { ObjectRef } from '../refs/object-ref';
import type { ObjectRefGenerator } from '../refs/object-ref-generator';
import type { ActorClassOptions, ActorMethodOptions, NumReturns, RemoteFunctionOptions } from './options';

/** Any function. */
export type AnyFunction = (...args: never[]) => unknown;
/** Any class. */
export type AnyClass = abstract new (...args: never[]) => unknown;

/**
 * The `numReturns` given in an options literal (camelCase or Ray's snake_case), inferred as
 * `M`; options without it leave `M` at its default `never`, meaning "unchanged".
 */
export type WithNumReturns<O, M> = O & { readonly numReturns?: M | null; readonly num_returns?: M | null };

/** `N` replaced by `M` when options set numReturns (`M` is `never` when they do not). */
export type NumReturnsAfter<N, M> = [M] extends [never] ? N : M;

/** One ObjectRef per element, keeping tuples as tuples. */
export type RefsOf<T> = { [K in keyof T]: ObjectRef<T[K]> };

/** A tuple of `N` items of `T` (an array of `T` when `N` is not a small literal). */
type TupleOf<T, N extends number, Acc extends T[] = []> = number extends N
  ? T[]
  : Acc['length'] extends N
    ? Acc
    : Acc['length'] extends 16
      ? T[]
      : TupleOf<T, N, [...Acc, T]>;

/** A value or a ref to it: top-level ObjectRef arguments are resolved before the call. */
export type RefOr<T> = T | ObjectRef<T>;

/** Arguments of `.remote()`: each may be given as an ObjectRef of its type. */
export type RemoteArgs<A extends unknown[]> = { [K in keyof A]: RefOr<A[K]> };

/** Awaited return type of a function. */
export type Resolved<R> = Awaited<R>;

/** What `.remote()` returns for a given numReturns (generators stream by default). */
export type RemoteResult<R, N> = [R] extends [never]
  ? PlainResult<R, N>
  : 0 extends 1 & R
    ? PlainResult<R, N>
    : [R] extends [Generator<infer Y, unknown, unknown> | AsyncGenerator<infer Y, unknown, unknown>]
      ? N extends 'dynamic'
        ? ObjectRef<ObjectRefGenerator<Y>>
        : ObjectRefGenerator<Y>
      : PlainResult<R, N>;

type PlainResult<R, N> = [N] extends [0]
  ? null
  : [N] extends [1 | undefined | null]
    ? ObjectRef<Resolved<R>>
    : [N] extends [number]
      ? MultipleRefs<Resolved<R>, N>
      : ObjectRef<Resolved<R>>;

/** The refs of `numReturns: N` (N > 1): one per tuple element, else N refs of the element type. */
type MultipleRefs<V, N extends number> = V extends readonly unknown[]
  ? number extends V['length']
    ? TupleOf<ObjectRef<V[number]>, N>
    : RefsOf<V>
  : TupleOf<ObjectRef<unknown>, N>;

/** A function turned remote with `ray.remote`. */
export interface RemoteFunction<F extends AnyFunction, N = undefined> {
  /** Submit the task. */
  remote(...args: RemoteArgs<Parameters<F>>): RemoteResult<ReturnType<F>, N>;
  /** A copy with merged options; the original is unchanged. Unknown option names do not compile. */
  options<const M extends NumReturns = never>(options: WithNumReturns<RemoteFunctionOptions, M>): RemoteFunction<F, NumReturnsAfter<N, M>>;
  /** Remote functions cannot be called directly: this throws a TypeError. */
  (...args: never[]): never;
}

/** Method names of an actor class instance (functions only). */
export type MethodNames<T> = { [K in keyof T]: T[K] extends (...args: never[]) => unknown ? K : never }[keyof T] & string;

/** One method on an actor handle. */
export interface ActorMethod<F extends AnyFunction, N = undefined> {
  remote(...args: RemoteArgs<Parameters<F>>): RemoteResult<ReturnType<F>, N>;
  /** A copy with merged options. Unknown option names do not compile. */
  options<const M extends NumReturns = never>(options: WithNumReturns<ActorMethodOptions, M>): ActorMethod<F, NumReturnsAfter<N, M>>;
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
export interface ActorClass<C extends AnyClass> {
  /** Create the actor; returns its handle at once. */
  remote(...args: RemoteArgs<ConstructorParameters<C>>): ActorHandle<InstanceType<C>>;
  /** A copy with merged options; the original is unchanged. Unknown option names do not compile. */
  options(options: ActorClassOptions): ActorClass<C>;
}

/** What `ray.remote(options)` returns: applied to a function or a class, or as a class decorator. */
export interface RemoteWithOptions<N> {
  /** The TC39 class decorator form (`@ray.remote({ ... }) class A {}`): the class becomes an actor class. */
  <C extends AnyClass>(cls: C, context: ClassDecoratorContext<C>): void;
  <F extends AnyFunction>(fn: F): RemoteFunction<F, N>;
  <C extends AnyClass>(cls: C): ActorClass<C>;
}

/** What `ray.method(options)` returns: a method decorator (both conventions) or a wrapper. */
export interface MethodWithOptions {
  /** Wrapper, or TC39 method decorator: the method itself, with its options attached. */
  <F extends AnyFunction>(method: F, context?: ClassMethodDecoratorContext): F;
  /** Legacy `experimentalDecorators` method decorator. */
  (prototype: object, key: string | symbol, descriptor: PropertyDescriptor): PropertyDescriptor;
}
