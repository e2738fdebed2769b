import {
  mergeActorOptions,
  mergeMetadata,
  mergeTaskOptions,
  normalizeActorOptions,
  normalizeTaskOptions,
  resolveTaskResources,
} from '../../../../src/api/options';

describe('mergeTaskOptions', () => {
  it('is a shallow merge where the override wins; neither input changes', () => {
    const base = normalizeTaskOptions({ numCpus: 1, maxRetries: 0, resources: { a: 1 } }, 'remote');
    const override = normalizeTaskOptions({ num_cpus: 2, resources: { b: 1 } }, 'options');
    const merged = mergeTaskOptions(base, override);
    expect(merged).toEqual({ numCpus: 2, maxRetries: 0, resources: { b: 1 } });
    expect(Object.isFrozen(merged)).toBe(true);
    expect(base).toEqual({ numCpus: 1, maxRetries: 0, resources: { a: 1 } });
    expect(override).toEqual({ numCpus: 2, resources: { b: 1 } });
  });

  // Ray: remote_function.py docstring, `Foo.options(num_cpus=1, resources=None)`
  it('.options({ resources: null }) resets to the default', () => {
    const base = normalizeTaskOptions({ numCpus: 2, resources: { custom: 1 } }, 'remote');
    const merged = mergeTaskOptions(base, normalizeTaskOptions({ resources: null, numCpus: null }, 'options'));
    expect(merged).toEqual({ numCpus: null, resources: null });
    expect(resolveTaskResources(merged)).toEqual({ CPU: 1 });
  });

  it('keeps maxCalls from the decorator', () => {
    const base = normalizeTaskOptions({ maxCalls: 1 }, 'remote');
    expect(mergeTaskOptions(base, normalizeTaskOptions({ numGpus: 1 }, 'options'))).toEqual({ maxCalls: 1, numGpus: 1 });
  });

  // Ray: test_basic.py::test_options ("test updating each namespace of _metadata independently")
  it('merges _metadata per top-level key', () => {
    const base = normalizeTaskOptions(
      { _metadata: { ns1: { a1: 1, b1: 2, c1: 3 }, ns2: { a2: 1 } }, numCpus: 1 },
      'remote',
    );
    const override = normalizeTaskOptions({ _metadata: { ns1: { b1: 22 }, ns3: { b3: 2 } }, numCpus: 2 }, 'options');
    expect(mergeTaskOptions(base, override)).toEqual({
      _metadata: { ns1: { a1: 1, b1: 22, c1: 3 }, ns2: { a2: 1 }, ns3: { b3: 2 } },
      numCpus: 2,
    });
    expect(base._metadata).toEqual({ ns1: { a1: 1, b1: 2, c1: 3 }, ns2: { a2: 1 } });
  });

  // Ray: test_basic.py::test_options (mock_options: a=11, c=3 over a=1, b=2)
  it('merges _metadata inner objects as { ...old[k], ...new[k] }', () => {
    const base = normalizeTaskOptions({ _metadata: { namespace: { a: 1, b: 2 } }, numGpus: 2 }, 'remote');
    const override = normalizeTaskOptions({ numCpus: 1, numGpus: 1, _metadata: { namespace: { a: 11, c: 3 } } }, 'options');
    expect(mergeTaskOptions(base, override)).toEqual({
      _metadata: { namespace: { a: 11, b: 2, c: 3 } },
      numCpus: 1,
      numGpus: 1,
    });
  });

  it('replaces non-object _metadata values and resets _metadata with null', () => {
    const base = normalizeTaskOptions({ _metadata: { k: { a: 1 }, n: 1 } }, 'remote');
    expect(mergeTaskOptions(base, { _metadata: { k: 5, n: { x: 1 } } })._metadata).toEqual({ k: 5, n: { x: 1 } });
    expect(mergeTaskOptions(base, { _metadata: null })._metadata).toBeNull();
    expect(mergeTaskOptions({}, { _metadata: { k: {} } })._metadata).toEqual({ k: {} });
    expect(mergeTaskOptions(base, {})._metadata).toBe(base._metadata);
  });
});

describe('mergeActorOptions', () => {
  it('shallow-merges and merges _metadata per key', () => {
    const base = normalizeActorOptions({ name: 'a', maxRestarts: 1, _metadata: { lib: { x: 1 } } }, 'remote');
    const override = normalizeActorOptions({ max_restarts: -1, _metadata: { lib: { y: 2 } } }, 'options');
    expect(mergeActorOptions(base, override)).toEqual({ name: 'a', maxRestarts: -1, _metadata: { lib: { x: 1, y: 2 } } });
  });
});

describe('mergeMetadata', () => {
  it('keeps a namespace called __proto__ as a plain key', () => {
    const override = JSON.parse('{"__proto__": {"a": 1}}') as Record<string, unknown>;
    const merged = mergeMetadata({}, override);
    expect(Object.getPrototypeOf(merged)).toBe(Object.prototype);
    expect(Object.keys(merged)).toEqual(['__proto__']);
  });
});
