/**
 * The table-driven core of option normalization: each kind of options (remote functions,
 * actors, actor methods, init, runtimeEnv) is a table from camelCase name to its snake_case
 * alias and a check; {@link normalizeOptionBag} applies a table to user input.
 */
import { describeType, isPlainObject, type OptionName } from './option-name';

/** Validates one supplied (non-null, non-undefined) value and returns its normalized form. */
export type OptionCheck = (value: unknown, name: OptionName) => unknown;

/** One row of an option table. */
export interface OptionSpec<Snake extends string = string> {
  /** The snake_case spelling Ray uses (equal to the camelCase name when it has no underscore). */
  readonly snake: Snake;
  readonly check: OptionCheck;
}

/** A table of options keyed by camelCase name. */
export type OptionTable = Readonly<Record<string, OptionSpec>>;

/** Builds a table row; the snake name's literal type is kept for {@link WithSnakeAliases}. */
export function option<Snake extends string>(snake: Snake, check: OptionCheck): OptionSpec<Snake> {
  return { snake, check };
}

/** The camelCase → snake_case map of a table, as a type. */
export type SnakeNamesOf<Table> = {
  readonly [K in keyof Table]: Table[K] extends OptionSpec<infer Snake> ? Snake : never;
};

/**
 * `T` plus an optional snake_case alias for every camelCase key of `T` whose alias differs,
 * with the same value type.
 */
export type WithSnakeAliases<T, Names extends { readonly [K in keyof T]: string }> = T & {
  readonly [K in keyof T & keyof Names as Names[K] extends K ? never : Names[K]]?: T[K];
};

/** How a kind of options is named in messages. */
export interface OptionKind {
  /** "remote functions", "actors", "actor methods", "init", "runtimeEnv". */
  readonly what: string;
  /** "option" or "field". */
  readonly noun: string;
  /** Prefix for nested names, e.g. "runtimeEnv." */
  readonly prefix?: string;
  /** Extra advice for an unknown key (e.g. a Ray-only runtime_env field). */
  readonly hint?: (key: string) => string | undefined;
}

/** "numReturns (num_returns), numCpus (num_cpus), memory, ..." */
function listValidNames(table: OptionTable): string {
  return Object.entries(table)
    .map(([camel, spec]) => (spec.snake === camel ? camel : `${camel} (${spec.snake})`))
    .join(', ');
}

/**
 * Validates `input` against `table` and returns a new object with camelCase keys only.
 *
 * - `input` must be a plain object (TypeError).
 * - An unknown key throws a TypeError naming it and listing the valid names.
 * - Giving both spellings of one option throws a TypeError.
 * - `undefined` means absent and is dropped; `null` is kept as is (it means "reset to the
 *   default", as Ray's `.options(resources=None)`); any other value goes through the check.
 *
 * The result is not frozen, so callers can run cross-field checks first.
 */
export function normalizeOptionBag(input: unknown, table: OptionTable, kind: OptionKind): Record<string, unknown> {
  if (!isPlainObject(input)) {
    throw new TypeError(`${capitalize(kind.noun)}s for ${kind.what} must be a plain object, but received ${describeType(input)}`);
  }
  const bySpelling = new Map<string, string>();
  for (const [camel, spec] of Object.entries(table)) {
    bySpelling.set(camel, camel);
    bySpelling.set(spec.snake, camel);
  }
  const prefix = kind.prefix ?? '';
  const spelledAs = new Map<string, string>();
  const result: Record<string, unknown> = {};
  for (const key of Object.keys(input)) {
    const camel = bySpelling.get(key);
    if (camel === undefined) throw unknownKeyError(key, table, kind);
    const value = input[key];
    if (value === undefined) continue;
    const previous = spelledAs.get(camel);
    if (previous !== undefined) {
      throw new TypeError(
        `The ${kind.noun} '${prefix}${camel}' was given twice, as '${previous}' and '${key}'; use one spelling`,
      );
    }
    spelledAs.set(camel, key);
    const spec = table[camel] as OptionSpec;
    result[camel] = value === null ? null : spec.check(value, { spelled: prefix + key, camel: prefix + camel });
  }
  return result;
}

function unknownKeyError(key: string, table: OptionTable, kind: OptionKind): TypeError {
  const squash = (s: string): string => s.toLowerCase().replace(/[_-]/g, '');
  const lookalike = Object.keys(table).find((camel) => squash(camel) === squash(key));
  const extra = kind.hint?.(key);
  return new TypeError(
    `Invalid ${kind.noun} '${kind.prefix ?? ''}${key}' for ${kind.what}.` +
      (lookalike !== undefined ? ` Did you mean '${lookalike}'?` : '') +
      (extra !== undefined ? ` ${extra}` : '') +
      ` Valid ${kind.noun}s are: ${listValidNames(table)}`,
  );
}

function capitalize(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}
