import {
  mergeActorOptions,
  normalizeActorOptions,
  type ActorClassOptions,
} from '../../../../src/api/options';
import { NodeAffinitySchedulingStrategy } from '../../../../src/api/scheduling-strategy';

/** [camelCase, snake_case, a valid value, its normalized form]. */
const ACTOR_CASES: ReadonlyArray<readonly [string, string, unknown, unknown]> = [
  ['numCpus', 'num_cpus', 2, 2],
  ['numGpus', 'num_gpus', 0.5, 0.5],
  ['memory', 'memory', 100, 100],
  ['resources', 'resources', { custom: 1 }, { custom: 1 }],
  ['acceleratorType', 'accelerator_type', 'H100', 'H100'],
  ['maxRestarts', 'max_restarts', -1, -1],
  ['maxTaskRetries', 'max_task_retries', 3, 3],
  ['maxConcurrency', 'max_concurrency', 10, 10],
  ['maxPendingCalls', 'max_pending_calls', -1, -1],
  ['name', 'name', 'ctr', 'ctr'],
  ['namespace', 'namespace', 'ns', 'ns'],
  ['lifetime', 'lifetime', 'detached', 'detached'],
  ['getIfExists', 'get_if_exists', false, false],
  ['runtimeEnv', 'runtime_env', { working_dir: '/tmp' }, { workingDir: '/tmp' }],
  ['schedulingStrategy', 'scheduling_strategy', 'SPREAD', 'SPREAD'],
  ['_metadata', '_metadata', { ns: { a: 1 } }, { ns: { a: 1 } }],
];

describe('normalizeActorOptions: spellings', () => {
  it.each(ACTOR_CASES)('accepts %s and %s', (camel, snake, value, normalized) => {
    expect(normalizeActorOptions({ [camel]: value }, 'remote')).toEqual({ [camel]: normalized });
    expect(normalizeActorOptions({ [snake]: value }, 'options')).toEqual({ [camel]: normalized });
  });

  it.each(ACTOR_CASES.filter(([camel, snake]) => camel !== snake))('rejects both spellings of %s', (camel, snake, value) => {
    expect(() => normalizeActorOptions({ [camel]: value, [snake]: value }, 'remote')).toThrow(/was given twice/);
  });

  // Ray: test_basic.py::test_options (every option rejects an unrelated object with TypeError)
  it.each(ACTOR_CASES)('%s rejects an instance of an unrelated class with TypeError', (camel) => {
    const uniqueObject = new (class Unrelated {})();
    expect(() => normalizeActorOptions({ [camel]: uniqueObject }, 'remote')).toThrow(TypeError);
  });

  it('types both spellings (compile-time check)', () => {
    const typed: ActorClassOptions = { max_restarts: 1, maxTaskRetries: 1, get_if_exists: true, name: 'a' };
    // @ts-expect-error numReturns is not an actor option
    const bad: ActorClassOptions = { numReturns: 1 };
    expect(normalizeActorOptions(typed, 'remote')).toEqual({ maxRestarts: 1, maxTaskRetries: 1, getIfExists: true, name: 'a' });
    expect(bad).toBeDefined();
  });
});

describe('normalizeActorOptions: errors', () => {
  it('names an unknown key and lists the valid names for actors', () => {
    const act = (): unknown => normalizeActorOptions({ maxRetries: 1 }, 'remote');
    expect(act).toThrow(TypeError);
    expect(act).toThrow(/Invalid option 'maxRetries' for actors/);
    expect(act).toThrow(/maxRestarts \(max_restarts\)/);
    expect(act).toThrow(/getIfExists \(get_if_exists\)/);
  });

  // Ray: test_basic.py::test_invalid_arguments (max_restarts, max_task_retries)
  it.each(['maxRestarts', 'max_task_retries', 'maxPendingCalls'])('%s rejects -2 and fractions', (key) => {
    expect(() => normalizeActorOptions({ [key]: -2 }, 'remote')).toThrow(
      /only accepts null, 0, -1 or a positive integer, where -1 represents infinity/,
    );
    expect(() => normalizeActorOptions({ [key]: 0.5 }, 'remote')).toThrow(RangeError);
    expect(() => normalizeActorOptions({ [key]: '1' }, 'remote')).toThrow(TypeError);
  });

  it('maxConcurrency must be >= 1 (raybus rejects the 0 Ray allows)', () => {
    expect(normalizeActorOptions({ maxConcurrency: 1 }, 'remote')).toEqual({ maxConcurrency: 1 });
    expect(() => normalizeActorOptions({ maxConcurrency: 0 }, 'remote')).toThrow(RangeError);
    expect(() => normalizeActorOptions({ max_concurrency: 0 }, 'remote')).toThrow(/'max_concurrency' \(maxConcurrency\)/);
    expect(() => normalizeActorOptions({ maxConcurrency: 2.5 }, 'remote')).toThrow(RangeError);
  });

  // Ray: test_actor_advanced.py::test_detached_actor (namespace validation)
  it('rejects empty names and namespaces', () => {
    expect(() => normalizeActorOptions({ name: '' }, 'remote')).toThrow(RangeError);
    expect(() => normalizeActorOptions({ namespace: '' }, 'options')).toThrow(/'namespace' cannot be an empty string/);
    expect(() => normalizeActorOptions({ namespace: 1 }, 'options')).toThrow(TypeError);
    expect(() => normalizeActorOptions({ name: 1 }, 'options')).toThrow(TypeError);
  });

  it('validates lifetime', () => {
    expect(normalizeActorOptions({ lifetime: 'non_detached' }, 'remote')).toEqual({ lifetime: 'non_detached' });
    expect(normalizeActorOptions({ lifetime: null }, 'remote')).toEqual({ lifetime: null });
    expect(() => normalizeActorOptions({ lifetime: 'forever' }, 'remote')).toThrow(
      /'lifetime' must be one of 'detached', 'non_detached' or null/,
    );
    expect(() => normalizeActorOptions({ lifetime: true }, 'remote')).toThrow(TypeError);
  });

  it('getIfExists requires a name', () => {
    expect(() => normalizeActorOptions({ getIfExists: true }, 'remote')).toThrow(
      /The actor name must be specified to use 'getIfExists'/,
    );
    expect(normalizeActorOptions({ get_if_exists: true, name: 'a' }, 'remote')).toEqual({ getIfExists: true, name: 'a' });
    expect(normalizeActorOptions({ getIfExists: false }, 'remote')).toEqual({ getIfExists: false });
    expect(() => normalizeActorOptions({ getIfExists: 'yes' }, 'remote')).toThrow(TypeError);
  });

  it("getIfExists in '.options()' is checked against the merged name", () => {
    const base = normalizeActorOptions({ name: 'ctr' }, 'remote');
    const override = normalizeActorOptions({ getIfExists: true }, 'options');
    expect(mergeActorOptions(base, override)).toEqual({ name: 'ctr', getIfExists: true });
    expect(() => mergeActorOptions({}, override)).toThrow(/actor name must be specified/);
    expect(() => mergeActorOptions(base, normalizeActorOptions({ getIfExists: true, name: null }, 'options'))).toThrow(
      /actor name must be specified/,
    );
  });

  it('accepts strategy instances', () => {
    const strategy = new NodeAffinitySchedulingStrategy({ node_id: 'n1' });
    expect(normalizeActorOptions({ schedulingStrategy: strategy }, 'remote').schedulingStrategy).toBe(strategy);
  });
});
