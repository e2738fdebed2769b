/**
 * A small validation vocabulary for messages as they arrive: each check walks a decoded
 * value and returns the first problem it finds (a sentence naming the field), or undefined.
 * Checks bound every string and array they accept, so a message that passes cannot make its
 * handler loop or allocate without limit.
 *
 * A container checks its entries with an empty path first and builds an entry's path only for
 * the entry that fails, checked again with it (checks are pure): a message that passes costs
 * no string per field.
 */

/** A check of one value at `path`: undefined when it is fine, else the problem. */
export type Check = (value: unknown, path: string) => string | undefined;

/** Longest id, name or other short string raybus puts in a message. */
export const MAX_NAME = 1024;
/** Longest free text (descriptions, reasons, error messages, sources). */
const MAX_TEXT = 16 * 1024 * 1024;
/** Most entries in one list or map of a message (arguments, returns, leases, resources). */
const MAX_ENTRIES = 100_000;

export const str =
  (max = MAX_NAME): Check =>
  (v, p) =>
    typeof v !== 'string' ? `${p} must be a string` : v.length > max ? `${p} is longer than ${max} characters` : undefined;

export const name = str(MAX_NAME);
export const text = str(MAX_TEXT);

export const num: Check = (v, p) => (typeof v === 'number' && Number.isFinite(v) ? undefined : `${p} must be a finite number`);

export const int =
  (min: number, max: number): Check =>
  (v, p) =>
    typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max ? undefined : `${p} must be an integer in [${min}, ${max}]`;

export const bool: Check = (v, p) => (typeof v === 'boolean' ? undefined : `${p} must be a boolean`);

export const bytes: Check = (v, p) => (v instanceof Uint8Array ? undefined : `${p} must be bytes`);

/** Anything (opaque data the receiver does not interpret, e.g. user metadata). */
export const any: Check = () => undefined;

export const lit =
  (...values: readonly (string | number | boolean)[]): Check =>
  (v, p) =>
    values.includes(v as string) ? undefined : `${p} must be one of ${values.map((x) => JSON.stringify(x)).join(', ')}`;

export const opt =
  (check: Check): Check =>
  (v, p) =>
    v === undefined || v === null ? undefined : check(v, p);

export const arr =
  (check: Check, max = MAX_ENTRIES): Check =>
  (v, p) => {
    if (!Array.isArray(v)) return `${p} must be an array`;
    if (v.length > max) return `${p} has more than ${max} entries`;
    for (let i = 0; i < v.length; i++) {
      if (check(v[i], '')) return check(v[i], `${p}[${i}]`);
    }
    return undefined;
  };

/** A fixed-length array (a tuple). */
export const tuple =
  (...checks: Check[]): Check =>
  (v, p) => {
    if (!Array.isArray(v) || v.length !== checks.length) return `${p} must be an array of ${checks.length}`;
    for (let i = 0; i < checks.length; i++) {
      if (checks[i]!(v[i], '')) return checks[i]!(v[i], `${p}[${i}]`);
    }
    return undefined;
  };

const isPlain = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);

/** A map from keys to values of one kind. */
export const dict =
  (check: Check, max = MAX_ENTRIES): Check =>
  (v, p) => {
    if (!isPlain(v)) return `${p} must be an object`;
    let n = 0;
    for (const k in v) {
      if (++n > max) return `${p} has more than ${max} entries`;
      if (k.length > MAX_NAME) return `${p} has a key longer than ${MAX_NAME} characters`;
      if (check(v[k], '')) return check(v[k], `${p}.${k}`);
    }
    return undefined;
  };

/** An object with these fields (others are allowed and ignored by the handlers). */
export const obj =
  (fields: Record<string, Check>): Check =>
  (v, p) => {
    if (!isPlain(v)) return `${p} must be an object`;
    for (const k in fields) {
      const check = fields[k]!;
      if (check(v[k], '')) return check(v[k], p ? `${p}.${k}` : k);
    }
    return undefined;
  };

/** Messages tagged by `t`: the check of the message's kind, or a problem for an unknown tag. */
export const tagged =
  (kinds: Record<string, Check>): Check =>
  (v, p) => {
    if (!isPlain(v)) return 'not a raybus envelope';
    const t = v.t;
    if (typeof t !== 'string') return 'no message tag';
    const check = Object.prototype.hasOwnProperty.call(kinds, t) ? kinds[t] : undefined;
    if (!check) return `unknown message '${t.slice(0, 64)}'`;
    const bad = check(v, p);
    return bad ? `'${t}': ${bad}` : undefined;
  };
