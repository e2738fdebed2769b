import {
  mergeMethodOptions,
  normalizeMethodOptions,
  type ActorMethodOptions,
} from '../../../../src/api/options';

const METHOD_CASES: ReadonlyArray<readonly [string, string, unknown]> = [
  ['numReturns', 'num_returns', 2],
  ['maxTaskRetries', 'max_task_retries', -1],
  ['retryExceptions', 'retry_exceptions', true],
  ['backpressure', '_generator_backpressure_num_objects', 4],
];

describe('normalizeMethodOptions', () => {
  it.each(METHOD_CASES)('accepts %s and %s', (camel, snake, value) => {
    expect(normalizeMethodOptions({ [camel]: value })).toEqual({ [camel]: value });
    expect(normalizeMethodOptions({ [snake]: value })).toEqual({ [camel]: value });
  });

  it.each(METHOD_CASES)('rejects both spellings of %s', (camel, snake, value) => {
    expect(() => normalizeMethodOptions({ [camel]: value, [snake]: value })).toThrow(/was given twice/);
  });

  it('lists the valid names for actor methods', () => {
    const act = (): unknown => normalizeMethodOptions({ numCpus: 1 });
    expect(act).toThrow(TypeError);
    expect(act).toThrow(/Invalid option 'numCpus' for actor methods/);
    expect(act).toThrow(/numReturns \(num_returns\), maxTaskRetries \(max_task_retries\)/);
  });

  it('validates values', () => {
    expect(() => normalizeMethodOptions({ numReturns: -1 })).toThrow(RangeError);
    expect(() => normalizeMethodOptions({ max_task_retries: -3 })).toThrow(/'max_task_retries' \(maxTaskRetries\)/);
    expect(() => normalizeMethodOptions({ backpressure: 0 })).toThrow(/=0 is not allowed/);
    expect(() => normalizeMethodOptions({ retryExceptions: 1 })).toThrow(TypeError);
    expect(() => normalizeMethodOptions('x')).toThrow(TypeError);
  });

  it('merges per call over the method defaults', () => {
    const defaults = normalizeMethodOptions({ numReturns: 2, maxTaskRetries: 1 });
    const call = normalizeMethodOptions({ num_returns: 1, retryExceptions: ['TimeoutError'] });
    const merged = mergeMethodOptions(defaults, call);
    expect(merged).toEqual({ numReturns: 1, maxTaskRetries: 1, retryExceptions: ['TimeoutError'] });
    expect(Object.isFrozen(merged)).toBe(true);
    expect(defaults).toEqual({ numReturns: 2, maxTaskRetries: 1 });
    expect(mergeMethodOptions(defaults, { maxTaskRetries: null })).toEqual({ numReturns: 2, maxTaskRetries: null });
  });

  it('types both spellings (compile-time check)', () => {
    const typed: ActorMethodOptions = { num_returns: 'streaming', _generator_backpressure_num_objects: 2 };
    expect(normalizeMethodOptions(typed)).toEqual({ numReturns: 'streaming', backpressure: 2 });
  });
});
