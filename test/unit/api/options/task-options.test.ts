import {
  DEFAULT_TASK_MAX_RETRIES,
  normalizeTaskOptions,
  type RemoteFunctionOptions,
  type TaskOptions,
} from '../../../../src/api/options';
import {
  NodeAffinitySchedulingStrategy,
  PlacementGroupSchedulingStrategy,
} from '../../../../src/api/scheduling-strategy';

class RetryableError extends Error {}

const pg = { id: 'pg1', bundleSpecs: [{ CPU: 1 }] };
const affinity = new NodeAffinitySchedulingStrategy({ nodeId: 'abc', soft: true });
const inGroup = new PlacementGroupSchedulingStrategy({ placementGroup: pg });

/** [camelCase, snake_case, a valid value, its normalized form]. */
const TASK_CASES: ReadonlyArray<readonly [string, string, unknown, unknown]> = [
  ['numReturns', 'num_returns', 2, 2],
  ['numCpus', 'num_cpus', 0.5, 0.5],
  ['numGpus', 'num_gpus', 1, 1],
  ['memory', 'memory', 1024, 1024],
  ['resources', 'resources', { disk: 2 }, { disk: 2 }],
  ['acceleratorType', 'accelerator_type', 'A100', 'A100'],
  ['maxCalls', 'max_calls', 3, 3],
  ['maxRetries', 'max_retries', -1, -1],
  ['retryExceptions', 'retry_exceptions', [RetryableError, 'TimeoutError'], [RetryableError, 'TimeoutError']],
  ['runtimeEnv', 'runtime_env', { env_vars: { A: 'a' } }, { envVars: { A: 'a' } }],
  ['schedulingStrategy', 'scheduling_strategy', 'SPREAD', 'SPREAD'],
  ['backpressure', '_generator_backpressure_num_objects', 5, 5],
  ['_metadata', '_metadata', { 'lib.io/options': { a: 1 } }, { 'lib.io/options': { a: 1 } }],
];

describe('normalizeTaskOptions: spellings', () => {
  it.each(TASK_CASES)('accepts %s and %s', (camel, snake, value, normalized) => {
    expect(normalizeTaskOptions({ [camel]: value }, 'remote')).toEqual({ [camel]: normalized });
    expect(normalizeTaskOptions({ [snake]: value }, 'remote')).toEqual({ [camel]: normalized });
  });

  it.each(TASK_CASES.filter(([camel, snake]) => camel !== snake))(
    'rejects both spellings of %s',
    (camel, snake, value) => {
      expect(() => normalizeTaskOptions({ [camel]: value, [snake]: value }, 'remote')).toThrow(
        new RegExp(`'${camel}' was given twice, as '${camel}' and '${snake}'`),
      );
    },
  );

  it('treats undefined as absent, also for the duplicate check', () => {
    expect(normalizeTaskOptions({ numCpus: undefined, num_cpus: 2 }, 'remote')).toEqual({ numCpus: 2 });
    expect(normalizeTaskOptions({ numCpus: undefined }, 'remote')).toEqual({});
  });

  it('keeps null (reset to default)', () => {
    expect(normalizeTaskOptions({ resources: null, num_cpus: null }, 'remote')).toEqual({
      resources: null,
      numCpus: null,
    });
  });

  it('returns a frozen object with camelCase keys only', () => {
    const opts = normalizeTaskOptions({ num_cpus: 1, max_retries: 0 }, 'remote');
    expect(Object.keys(opts)).toEqual(['numCpus', 'maxRetries']);
    expect(Object.isFrozen(opts)).toBe(true);
  });

  it('accepts the scheduling strategy classes', () => {
    expect(normalizeTaskOptions({ schedulingStrategy: affinity }, 'remote').schedulingStrategy).toBe(affinity);
    expect(normalizeTaskOptions({ scheduling_strategy: inGroup }, 'remote').schedulingStrategy).toBe(inGroup);
    expect(normalizeTaskOptions({ schedulingStrategy: 'DEFAULT' }, 'remote').schedulingStrategy).toBe('DEFAULT');
  });

  it('types both spellings (compile-time check)', () => {
    const typed: RemoteFunctionOptions = { num_cpus: 1, maxRetries: 2, runtime_env: { env_vars: { A: 'b' } } };
    // @ts-expect-error unknown option
    const bad: RemoteFunctionOptions = { numCpuz: 1 };
    const normalized: TaskOptions = normalizeTaskOptions(typed, 'remote');
    expect(normalized).toEqual({ numCpus: 1, maxRetries: 2, runtimeEnv: { envVars: { A: 'b' } } });
    expect(bad).toBeDefined();
  });
});

describe('normalizeTaskOptions: errors', () => {
  it('requires a plain object', () => {
    expect(() => normalizeTaskOptions(null, 'remote')).toThrow(TypeError);
    expect(() => normalizeTaskOptions([], 'remote')).toThrow(/plain object, but received array/);
    expect(() => normalizeTaskOptions(new Map(), 'remote')).toThrow(/received Map/);
  });

  it('names an unknown key and lists the valid names', () => {
    const act = (): unknown => normalizeTaskOptions({ foo: 1 }, 'remote');
    expect(act).toThrow(TypeError);
    expect(act).toThrow(/Invalid option 'foo' for remote functions/);
    expect(act).toThrow(/numCpus \(num_cpus\)/);
    expect(act).toThrow(/backpressure \(_generator_backpressure_num_objects\)/);
    expect(act).toThrow(/memory, /);
  });

  it('rejects actor-only options on tasks', () => {
    expect(() => normalizeTaskOptions({ maxRestarts: 1 }, 'remote')).toThrow(/Invalid option 'maxRestarts'/);
  });

  it('suggests the spelling for a near miss', () => {
    expect(() => normalizeTaskOptions({ numCPUs: 1 }, 'remote')).toThrow(/Did you mean 'numCpus'\?/);
  });

  it('names wrong types as spelled, with the camelCase name', () => {
    expect(() => normalizeTaskOptions({ numCpus: '1' }, 'remote')).toThrow(
      new TypeError("The type of option 'numCpus' must be number, but received string"),
    );
    expect(() => normalizeTaskOptions({ num_cpus: '1' }, 'remote')).toThrow(
      "The type of option 'num_cpus' (numCpus) must be number, but received string",
    );
  });

  // Ray: test_basic.py::test_options (every option rejects an unrelated object with TypeError)
  it.each(TASK_CASES)('%s rejects an instance of an unrelated class with TypeError', (camel) => {
    const uniqueObject = new (class Unrelated {})();
    expect(() => normalizeTaskOptions({ [camel]: uniqueObject }, 'remote')).toThrow(TypeError);
  });

  it('does not take booleans as numbers (stricter than Python)', () => {
    expect(() => normalizeTaskOptions({ numCpus: true }, 'remote')).toThrow(/received boolean/);
    expect(() => normalizeTaskOptions({ maxRetries: false }, 'remote')).toThrow(TypeError);
  });

  // Ray: test_basic.py::test_options (max_calls in .options())
  it("refuses maxCalls in '.options()' only", () => {
    expect(normalizeTaskOptions({ maxCalls: 1 }, 'remote')).toEqual({ maxCalls: 1 });
    expect(() => normalizeTaskOptions({ maxCalls: 1 }, 'options')).toThrow(
      "Setting 'maxCalls' is not supported in '.options()'",
    );
    expect(() => normalizeTaskOptions({ max_calls: 1 }, 'options')).toThrow(/maxCalls/);
  });

  // Ray: test_basic.py::test_invalid_arguments (counting options)
  it.each([
    ['maxRetries', -2],
    ['maxRetries', 1.5],
    ['max_retries', NaN],
  ])('counting option %s rejects %p with Ray\'s message', (key, value) => {
    const act = (): unknown => normalizeTaskOptions({ [key]: value }, 'remote');
    expect(act).toThrow(RangeError);
    expect(act).toThrow(/only accepts null, 0, -1 or a positive integer, where -1 represents infinity/);
  });

  // Ray: test_basic.py::test_invalid_arguments (max_calls: -1 and below rejected)
  it.each([-1, -50, 2.5, Infinity])('maxCalls rejects %p', (value) => {
    expect(() => normalizeTaskOptions({ maxCalls: value }, 'remote')).toThrow(
      /'maxCalls' only accepts null, 0 or a positive integer/,
    );
  });

  // Ray: ray_option_utils.py validate_num_returns (newest) and the num_returns option row
  it('validates numReturns', () => {
    expect(normalizeTaskOptions({ numReturns: 0 }, 'remote')).toEqual({ numReturns: 0 });
    expect(normalizeTaskOptions({ numReturns: 'dynamic' }, 'remote')).toEqual({ numReturns: 'dynamic' });
    expect(normalizeTaskOptions({ num_returns: 'streaming' }, 'remote')).toEqual({ numReturns: 'streaming' });
    expect(() => normalizeTaskOptions({ numReturns: -1 }, 'remote')).toThrow(new RangeError("'numReturns' must be >= 0, but got -1."));
    expect(() => normalizeTaskOptions({ numReturns: 1.5 }, 'remote')).toThrow(RangeError);
    expect(() => normalizeTaskOptions({ numReturns: 'foo' }, 'remote')).toThrow(/'dynamic', 'streaming' or an integer >= 0/);
    expect(() => normalizeTaskOptions({ numReturns: true }, 'remote')).toThrow(TypeError);
  });

  it('validates backpressure', () => {
    expect(normalizeTaskOptions({ backpressure: -1 }, 'remote')).toEqual({ backpressure: -1 });
    expect(() => normalizeTaskOptions({ backpressure: 0 }, 'remote')).toThrow(
      new RangeError(
        'backpressure (_generator_backpressure_num_objects)=0 is not allowed. Use a value > 0, or -1 to disable',
      ),
    );
    expect(() => normalizeTaskOptions({ _generator_backpressure_num_objects: 0 }, 'remote')).toThrow(/=0 is not allowed/);
    expect(() => normalizeTaskOptions({ backpressure: -2 }, 'remote')).toThrow(RangeError);
    expect(() => normalizeTaskOptions({ backpressure: 1.5 }, 'remote')).toThrow(RangeError);
    expect(() => normalizeTaskOptions({ backpressure: '1' }, 'remote')).toThrow(TypeError);
  });

  // Ray: ray_option_utils.py retry_exceptions validator ("must be either a boolean or a list of exceptions")
  it('validates retryExceptions', () => {
    expect(normalizeTaskOptions({ retryExceptions: true }, 'remote')).toEqual({ retryExceptions: true });
    expect(normalizeTaskOptions({ retryExceptions: [Error, TypeError] }, 'remote')).toEqual({
      retryExceptions: [Error, TypeError],
    });
    const frozen = normalizeTaskOptions({ retryExceptions: ['X'] }, 'remote').retryExceptions;
    expect(Object.isFrozen(frozen)).toBe(true);
    expect(() => normalizeTaskOptions({ retryExceptions: 'yes' }, 'remote')).toThrow(
      /must be either a boolean or an array of error classes or error names/,
    );
    expect(() => normalizeTaskOptions({ retryExceptions: [class NotAnError {}] }, 'remote')).toThrow(
      /'retryExceptions\[0\]' must be an error class/,
    );
    expect(() => normalizeTaskOptions({ retryExceptions: [() => 1] }, 'remote')).toThrow(TypeError);
    expect(() => normalizeTaskOptions({ retryExceptions: [''] }, 'remote')).toThrow(RangeError);
  });

  it('validates schedulingStrategy', () => {
    expect(() => normalizeTaskOptions({ schedulingStrategy: 'spread' }, 'remote')).toThrow(RangeError);
    expect(() => normalizeTaskOptions({ schedulingStrategy: 'PACK' }, 'remote')).toThrow(
      /'DEFAULT', 'SPREAD', a NodeAffinitySchedulingStrategy or a PlacementGroupSchedulingStrategy/,
    );
    expect(() => normalizeTaskOptions({ schedulingStrategy: { nodeId: 'abc' } }, 'remote')).toThrow(TypeError);
    expect(() => normalizeTaskOptions({ scheduling_strategy: 1 }, 'remote')).toThrow(
      /'scheduling_strategy' \(schedulingStrategy\)/,
    );
  });

  it('validates _metadata', () => {
    expect(() => normalizeTaskOptions({ _metadata: [] }, 'remote')).toThrow(TypeError);
    expect(() => normalizeTaskOptions({ _metadata: 'x' }, 'remote')).toThrow(/'_metadata' must be object/);
  });

  it("copies the byte arrays in _metadata: changing the caller's afterwards changes nothing sent", () => {
    // A pipe's message takes large byte arrays by reference (gathered-bytes.ts).
    const big = new Uint8Array(100 * 1024).fill(1);
    const buf = Buffer.alloc(8, 2);
    const shared = { note: 'kept as it is' };
    const meta = { 'lib.io/blob': big, nested: { list: [buf, 3] }, shared };
    const o = normalizeTaskOptions({ _metadata: meta }, 'remote')._metadata as unknown as typeof meta;
    big.fill(9);
    buf.fill(9);
    expect(o['lib.io/blob'].every((b) => b === 1)).toBe(true);
    expect(Buffer.isBuffer(o.nested.list[0])).toBe(true);
    expect([...(o.nested.list[0] as Buffer)]).toEqual([2, 2, 2, 2, 2, 2, 2, 2]);
    expect(o.nested.list[1]).toBe(3);
    // Nothing else is copied, and the caller's object is left as it was.
    expect(o.shared).toBe(shared);
    expect(meta.nested.list[0]).toBe(buf);
  });

  it('validates acceleratorType and runtimeEnv types', () => {
    expect(() => normalizeTaskOptions({ acceleratorType: 1 }, 'remote')).toThrow(TypeError);
    expect(() => normalizeTaskOptions({ acceleratorType: '' }, 'remote')).toThrow(RangeError);
    expect(() => normalizeTaskOptions({ runtimeEnv: 'x' }, 'remote')).toThrow(/'runtimeEnv' must be object/);
    expect(() => normalizeTaskOptions({ runtimeEnv: { pip: ['x'] } }, 'remote')).toThrow(/Invalid field/);
  });
});

describe('defaults', () => {
  it("DEFAULT_TASK_MAX_RETRIES is 4 (raybus's default; Ray's is 3)", () => {
    expect(DEFAULT_TASK_MAX_RETRIES).toBe(4);
  });
});
