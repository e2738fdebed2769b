/**
 * Naming and describing options in error messages. Every message names the option as the
 * user spelled it, followed by the canonical camelCase name when the two differ, so
 * `num_cpus: 'x'` reports "'num_cpus' (numCpus)".
 */

/** An option as the user spelled it, and its canonical camelCase name. */
export interface OptionName {
  readonly spelled: string;
  readonly camel: string;
}

/** `'numCpus'`, or `'num_cpus' (numCpus)` when spelled in snake_case. */
export function quotedName(name: OptionName): string {
  return name.spelled === name.camel ? `'${name.camel}'` : `'${name.spelled}' (${name.camel})`;
}

/** `numCpus`, or `num_cpus (numCpus)` when spelled in snake_case (unquoted, as Ray words resource errors). */
export function plainName(name: OptionName): string {
  return name.spelled === name.camel ? name.camel : `${name.spelled} (${name.camel})`;
}

/** A name for a nested value, e.g. `resources.GPU` or `runtimeEnv.envVars.HOME`. */
export function childName(parent: OptionName, key: string | number): OptionName {
  const suffix = typeof key === 'number' ? `[${key}]` : `.${key}`;
  return { spelled: parent.spelled + suffix, camel: parent.camel + suffix };
}

/** True for `{}` literals and `Object.create(null)` objects; false for arrays, class instances, null. */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** The type of a value as error messages show it: `string`, `null`, `array`, `object`, `Map`, ... */
export function describeType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'object') {
    if (isPlainObject(value)) return 'object';
    const ctor = (Object.getPrototypeOf(value) as { constructor?: { name?: unknown } } | null)?.constructor;
    return typeof ctor?.name === 'string' && ctor.name !== '' ? ctor.name : 'object';
  }
  return typeof value;
}

/** A short rendering of a value for range errors: `'foo'`, `1.5`, `NaN`, or its type. */
export function describeValue(value: unknown): string {
  if (typeof value === 'string') return `'${value}'`;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  return describeType(value);
}

/**
 * The wrong-type error: "The type of option 'numCpus' must be number, but received string".
 */
export function optionTypeError(name: OptionName, expected: string, value: unknown, noun = 'option'): TypeError {
  return new TypeError(
    `The type of ${noun} ${quotedName(name)} must be ${expected}, but received ${describeType(value)}`,
  );
}
