/**
 * Walks a value before it is serialized: refuses what cannot cross a process boundary
 * (functions, symbols, class instances whose prototype and private state would be lost)
 * with an error naming the path (`args[1].cb`), and collects the ObjectRefs and actor
 * handles inside it for reference counting.
 */

const PLAIN_PROTOTYPES = new Set<unknown>([Object.prototype, null]);
const CLONEABLE = [
  Array,
  Map,
  Set,
  Date,
  RegExp,
  Error,
  ArrayBuffer,
  DataView,
  Object.getPrototypeOf(Uint8Array) as unknown as new () => unknown,
] as const;

/** What the walk found. */
export interface ValueScan {
  readonly refs: object[];
  readonly handles: object[];
}

function isCloneableBuiltin(v: object): boolean {
  for (const C of CLONEABLE) if (v instanceof C) return true;
  return typeof SharedArrayBuffer !== 'undefined' && v instanceof SharedArrayBuffer;
}

/**
 * Throw a TypeError naming the first unserializable path in `value`; otherwise return the
 * refs and handles found. `isRef`/`isHandle` recognise raybus's own wire types.
 */
export function scanValue(
  value: unknown,
  root: string,
  isRef: (v: object) => boolean,
  isHandle: (v: object) => boolean,
): ValueScan {
  const refs: object[] = [];
  const handles: object[] = [];
  const seen = new Set<object>();
  const walk = (v: unknown, path: string): void => {
    switch (typeof v) {
      case 'function':
        throw new TypeError(
          `raybus: cannot serialize a function at ${path}${(v as { name?: string }).name ? ` (${(v as { name: string }).name})` : ''}: functions do not cross process boundaries; pass data, or a remote function / actor handle`,
        );
      case 'symbol':
        throw new TypeError(`raybus: cannot serialize a Symbol at ${path}`);
      case 'object':
        break;
      default:
        return;
    }
    if (v === null || seen.has(v as object)) return;
    const obj = v as object;
    seen.add(obj);
    if (isRef(obj)) {
      refs.push(obj);
      return;
    }
    if (isHandle(obj)) {
      handles.push(obj);
      // A finished generator carries refs: they travel (and are counted) like any other.
      const inner = (obj as { refs?: unknown }).refs;
      if (Array.isArray(inner)) walk(inner, `${path}.refs`);
      return;
    }
    if (ArrayBuffer.isView(obj) || obj instanceof ArrayBuffer) return;
    if (Array.isArray(obj)) {
      for (let i = 0; i < obj.length; i++) walk(obj[i], `${path}[${i}]`);
      return;
    }
    if (obj instanceof Map) {
      let i = 0;
      for (const [k, val] of obj) {
        walk(k, `${path}.<key ${i}>`);
        walk(val, `${path}.get(${typeof k === 'string' ? JSON.stringify(k) : i})`);
        i++;
      }
      return;
    }
    if (obj instanceof Set) {
      let i = 0;
      for (const val of obj) walk(val, `${path}.<element ${i++}>`);
      return;
    }
    if (obj instanceof Date || obj instanceof RegExp || obj instanceof Error) return;
    const proto = Object.getPrototypeOf(obj) as unknown;
    if (!PLAIN_PROTOTYPES.has(proto) && !isCloneableBuiltin(obj)) {
      const name = (obj as { constructor?: { name?: string } }).constructor?.name ?? 'anonymous class';
      throw new TypeError(
        `raybus: cannot serialize an instance of class ${name} at ${path}: its prototype and private state would be lost; pass a plain object (or put the state in an actor)`,
      );
    }
    for (const key of Object.keys(obj)) walk((obj as Record<string, unknown>)[key], `${path}.${key}`);
    if (Object.getOwnPropertySymbols(obj).some((s) => Object.prototype.propertyIsEnumerable.call(obj, s))) {
      throw new TypeError(`raybus: cannot serialize symbol-keyed properties at ${path}`);
    }
  };
  walk(value, root);
  return { refs, handles };
}
