/**
 * `runtimeEnv` (Ray's "Runtime Environments" docs): environment variables, a working directory and
 * modules to import before user code runs. Task-level fields override job-level ones;
 * `envVars` merge key by key.
 */
import { childName, describeType, isPlainObject, optionTypeError, quotedName, type OptionName } from './option-name';
import { normalizeOptionBag, option, type SnakeNamesOf, type WithSnakeAliases } from './option-table';
import type { RuntimeEnv } from '../../protocol/runtime-env';

export { mergeRuntimeEnv, type RuntimeEnv } from '../../protocol/runtime-env';

const RUNTIME_ENV_FIELDS = {
  envVars: option('env_vars', checkEnvVars),
  workingDir: option('working_dir', checkPath),
  modules: option('modules', checkModules),
} as const;

/** A runtime environment as users write it: camelCase or snake_case (`env_vars`, `working_dir`). */
export type RuntimeEnvOptions = WithSnakeAliases<RuntimeEnv, SnakeNamesOf<typeof RUNTIME_ENV_FIELDS>>;

/** Ray runtime_env fields raybus does not implement, and what to use instead. */
const RAY_ONLY_FIELDS: Readonly<Record<string, string>> = {
  py_modules: "Use 'modules' for modules to import.",
  pip: 'Install packages on the nodes instead; raybus does not install dependencies.',
  uv: 'Install packages on the nodes instead; raybus does not install dependencies.',
  conda: 'Install packages on the nodes instead; raybus does not install dependencies.',
};

/**
 * Validates a runtime environment and returns it with camelCase keys, frozen. Unknown fields
 * throw a TypeError listing the valid ones; env var values must be strings.
 *
 * @example
 * normalizeRuntimeEnv({ env_vars: { MODE: 'test' }, workingDir: '/srv/app' });
 * // → { envVars: { MODE: 'test' }, workingDir: '/srv/app' }
 */
export function normalizeRuntimeEnv(input: unknown): RuntimeEnv {
  const bag = normalizeOptionBag(input, RUNTIME_ENV_FIELDS, {
    what: 'runtimeEnv',
    noun: 'field',
    prefix: 'runtimeEnv.',
    hint: (key) =>
      Object.hasOwn(RAY_ONLY_FIELDS, key)
        ? `raybus does not support Ray's '${key}'. ${RAY_ONLY_FIELDS[key] ?? ''}`
        : undefined,
  });
  for (const [key, value] of Object.entries(bag)) {
    // null fields are not meaningful inside a runtime env: absent already means "inherit".
    if (value === null) {
      throw new TypeError(`runtimeEnv.${key} cannot be null; leave it out to inherit the job-level value`);
    }
  }
  return Object.freeze(bag) as RuntimeEnv;
}

/** The `runtimeEnv` option of tasks, actors and `init`: a plain object, normalized. */
export function checkRuntimeEnvOption(value: unknown, name: OptionName): RuntimeEnv {
  if (!isPlainObject(value)) throw optionTypeError(name, 'object', value);
  return normalizeRuntimeEnv(value);
}

function checkEnvVars(value: unknown, name: OptionName): Readonly<Record<string, string>> {
  if (!isPlainObject(value)) throw optionTypeError(name, 'object', value);
  const entries: Array<[string, string]> = [];
  for (const [key, v] of Object.entries(value)) {
    if (key === '' || key.includes('=') || key.includes('\0')) {
      throw new RangeError(`Invalid environment variable name ${JSON.stringify(key)} in ${quotedName(name)}`);
    }
    const child = childName(name, key);
    if (typeof v !== 'string') throw optionTypeError(child, 'string', v);
    if (v.includes('\0')) throw new RangeError(`${quotedName(child)} cannot contain a NUL character`);
    entries.push([key, v]);
  }
  return Object.freeze(Object.fromEntries(entries));
}

function checkPath(value: unknown, name: OptionName): string {
  if (typeof value !== 'string') throw optionTypeError(name, 'string', value);
  if (value === '') throw new RangeError(`${quotedName(name)} cannot be an empty string`);
  return value;
}

function checkModules(value: unknown, name: OptionName): readonly string[] {
  if (!Array.isArray(value)) throw optionTypeError(name, 'array of strings', value);
  return Object.freeze(
    value.map((item: unknown, index) => {
      const child = childName(name, index);
      if (typeof item !== 'string') {
        throw new TypeError(`${quotedName(child)} must be a module specifier string, but received ${describeType(item)}`);
      }
      if (item === '') throw new RangeError(`${quotedName(child)} cannot be an empty string`);
      return item;
    }),
  );
}
