/**
 * Errors on the wire: user errors are carried as { name, message, stack, props } and
 * rebuilt with the same name, message and stack; raybus errors are rebuilt as their class.
 */
import { RayError, RayTaskError, WIRE_ERROR_CLASSES } from '../errors/ray-errors';
import type { WireError } from '../protocol/wire';
import { classAt, originOf } from './error-classes';

export type { WireError } from '../protocol/wire';

const BUILTIN_ERRORS: Record<string, ErrorConstructor> = {
  Error,
  TypeError,
  RangeError,
  SyntaxError,
  ReferenceError,
  EvalError,
  URIError,
};

/** Turn anything thrown into a WireError. */
export function encodeError(err: unknown, depth = 0): WireError {
  if (!(err instanceof Error) && !(typeof err === 'object' && err !== null && 'message' in err)) {
    return { name: 'Error', message: `non-Error value thrown: ${safeString(err)}` };
  }
  const e = err as Error & Record<string, unknown>;
  const props: Record<string, string | number | boolean | null> = {};
  for (const k of Object.keys(e)) {
    const v = e[k];
    if (k === 'cause') continue;
    if (v === null || ['string', 'number', 'boolean'].includes(typeof v)) props[k] = v as string | number | boolean | null;
  }
  const rayClass = err instanceof RayError ? findRayClass(err) : undefined;
  const cause = e.cause !== undefined && depth < 8 ? encodeError(e.cause, depth + 1) : undefined;
  const origin = rayClass ? undefined : originOf(e);
  return {
    name: String(e.name ?? 'Error'),
    message: String(e.message ?? ''),
    stack: typeof e.stack === 'string' ? e.stack : undefined,
    ...(rayClass ? { rayClass } : {}),
    ...(Object.keys(props).length ? { props } : {}),
    ...(cause ? { cause } : {}),
    ...(origin ? { origin } : {}),
  };
}

function findRayClass(err: Error): string | undefined {
  // Most specific first: iterate in reverse declaration order of subclass depth.
  const entries = Object.entries(WIRE_ERROR_CLASSES).reverse();
  let best: string | undefined;
  let bestDepth = -1;
  for (const [name, C] of entries) {
    if (err instanceof C) {
      let d = 0;
      for (let p = C.prototype as object | null; p; p = Object.getPrototypeOf(p) as object | null) d++;
      if (d > bestDepth) {
        best = name;
        bestDepth = d;
      }
    }
  }
  return best;
}

function safeString(v: unknown): string {
  try {
    return typeof v === 'string' ? v : JSON.stringify(v) ?? String(v);
  } catch {
    try {
      return String(v);
    } catch {
      // e.g. a null-prototype object: no toString at all.
      return Object.prototype.toString.call(v);
    }
  }
}

/**
 * Rebuild a user error: same name, message, stack and fields; builtin classes keep their
 * class, and so does a class exported by a module of remote code loaded here (`origin`).
 */
function decodeUserError(w: WireError): Error {
  const User = w.origin ? classAt(w.origin) : undefined;
  let err: Error;
  if (User) {
    // Its constructor is not run (its arguments are unknown): the fields travel as data.
    err = Object.create(User.prototype) as Error;
    Object.defineProperty(err, 'message', { value: w.message, writable: true, configurable: true, enumerable: false });
    Object.defineProperty(err, 'stack', { value: w.stack ?? `${w.name}: ${w.message}`, writable: true, configurable: true, enumerable: false });
  } else {
    err = new (BUILTIN_ERRORS[w.name] ?? Error)(w.message);
  }
  if (err.name !== w.name) Object.defineProperty(err, 'name', { value: w.name, writable: true, configurable: true, enumerable: false });
  if (w.stack) err.stack = w.stack;
  if (w.props) Object.assign(err, w.props);
  if (w.cause) (err as Error & { cause?: unknown }).cause = decodeError(w.cause);
  return err;
}

/** Rebuild any wire error (raybus classes as themselves). */
export function decodeError(w: WireError): Error {
  if (w.rayClass && w.rayClass in WIRE_ERROR_CLASSES) {
    if (w.rayClass === 'RayTaskError') {
      const cause = w.cause ? decodeError(w.cause) : new Error(w.message);
      return makeTaskError(String(w.props?.functionName ?? ''), cause, String(w.props?.taskId ?? ''), w.stack);
    }
    const C = WIRE_ERROR_CLASSES[w.rayClass as keyof typeof WIRE_ERROR_CLASSES] as unknown as new (m: string) => Error;
    const err = Object.create(C.prototype) as Error;
    Object.defineProperty(err, 'message', { value: w.message, writable: true, configurable: true, enumerable: false });
    if (w.stack) Object.defineProperty(err, 'stack', { value: w.stack, writable: true, configurable: true, enumerable: false });
    // Sent without one (a dead actor's answer): the stack of where it was rebuilt, in this process.
    else Error.captureStackTrace(err, decodeError);
    if (w.props) Object.assign(err, w.props);
    if (w.cause) (err as Error & { cause?: unknown }).cause = decodeError(w.cause);
    return err;
  }
  return decodeUserError(w);
}

const dualClassCache = new Map<ErrorConstructor, new (fn: string, cause: Error, taskId: string) => RayTaskError>();

/** The class of a user error (not Error itself, not a raybus error), for the dual class. */
function userClassOf(cause: Error): ErrorConstructor | undefined {
  if (cause instanceof RayError) return undefined;
  const C = (cause as { constructor?: unknown }).constructor;
  return typeof C === 'function' && C !== Error && (C as { prototype?: unknown }).prototype instanceof Error ? (C as ErrorConstructor) : undefined;
}

/**
 * Build the error `get` throws for a failed task: a `RayTaskError` that, when the cause is a
 * builtin error class, is also an instance of that class (Ray's `as_instanceof_cause`).
 */
export function makeTaskError(functionName: string, cause: Error, taskId: string, stack?: string, extra = ''): RayTaskError {
  const Builtin = userClassOf(cause) ?? BUILTIN_ERRORS[cause.name];
  let err: RayTaskError;
  if (Builtin && Builtin !== Error) {
    let Dual = dualClassCache.get(Builtin);
    if (!Dual) {
      // A subclass of the builtin that carries RayTaskError's prototype members and marker.
      Dual = class extends (Builtin as ErrorConstructor) {} as unknown as new (fn: string, cause: Error, taskId: string) => RayTaskError;
      for (const key of Reflect.ownKeys(RayTaskError.prototype)) {
        if (key === 'constructor') continue;
        Object.defineProperty(Dual.prototype, key, Reflect.getOwnPropertyDescriptor(RayTaskError.prototype, key)!);
      }
      for (const key of Reflect.ownKeys(RayError.prototype)) {
        if (key === 'constructor' || key === 'name') continue;
        Object.defineProperty(Dual.prototype, key, Reflect.getOwnPropertyDescriptor(RayError.prototype, key)!);
      }
      dualClassCache.set(Builtin, Dual);
    }
    const template = new RayTaskError(functionName, cause, taskId, extra);
    err = Object.create(Dual.prototype) as RayTaskError;
    Object.defineProperty(err, 'message', { value: template.message, writable: true, configurable: true, enumerable: false });
    Object.defineProperty(err, 'stack', { value: `RayTaskError(${cause.name}): ${template.message}`, writable: true, configurable: true, enumerable: false });
    Object.assign(err, { functionName, taskId, remoteStack: template.remoteStack });
    // As Ray's dual class proxies to its cause, the cause's own fields read through it too.
    for (const k of Object.keys(cause)) if (!(k in err)) (err as unknown as Record<string, unknown>)[k] = (cause as unknown as Record<string, unknown>)[k];
    Object.defineProperty(err, 'cause', { value: cause, writable: true, configurable: true, enumerable: false });
    Object.defineProperty(err, 'name', { value: `RayTaskError(${cause.name})`, writable: true, configurable: true, enumerable: false });
  } else {
    err = new RayTaskError(functionName, cause, taskId, extra);
    Object.defineProperty(err, 'name', { value: `RayTaskError(${cause.name})`, writable: true, configurable: true, enumerable: false });
  }
  void stack;
  return err;
}

/** Encode a RayTaskError so that the far side rebuilds the same thing. */
export function encodeTaskError(functionName: string, taskId: string, cause: unknown): WireError {
  const c = cause instanceof RayTaskError ? cause : undefined;
  // A nested task error keeps its original cause (Ray: errors chain through dependents).
  const inner = c ? (c.cause as Error) : cause;
  return {
    name: 'RayTaskError',
    message: safeString((inner as Error | undefined)?.message ?? inner),
    rayClass: 'RayTaskError',
    props: { functionName: c ? c.functionName : functionName, taskId: c ? c.taskId : taskId },
    cause: encodeError(inner),
  };
}
