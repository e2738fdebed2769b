import {
  normalizeActorOptions,
  normalizeTaskOptions,
  resolveActorResources,
  resolveTaskResources,
} from '../../../../src/api/options';

describe('resource rule', () => {
  // Ray: test_basic.py::test_invalid_arguments (precision of fractional quantities)
  it('rejects quantities strictly between 0 and 0.0001', () => {
    expect(() => normalizeTaskOptions({ numCpus: 0.00005 }, 'remote')).toThrow(
      new RangeError('The precision of the fractional quantity of resource numCpus cannot go beyond 0.0001, but got 0.00005'),
    );
    expect(() => normalizeTaskOptions({ num_gpus: 0.0000001 }, 'remote')).toThrow(
      /The precision of the fractional quantity of resource num_gpus \(numGpus\) cannot go beyond 0.0001/,
    );
    expect(() => normalizeTaskOptions({ resources: { custom_resource: 0.0000001 } }, 'remote')).toThrow(
      /resource resources.custom_resource cannot go beyond 0.0001/,
    );
  });

  it('accepts 0, 0.0001 and 0.00015 (only the (0, 0.0001) band is rejected)', () => {
    expect(normalizeTaskOptions({ numCpus: 0.00015 }, 'remote')).toEqual({ numCpus: 0.00015 });
    expect(normalizeTaskOptions({ numCpus: 0.0001 }, 'remote')).toEqual({ numCpus: 0.0001 });
    expect(normalizeTaskOptions({ numCpus: 0 }, 'remote')).toEqual({ numCpus: 0 });
  });

  it('rejects negative quantities with Ray\'s message', () => {
    expect(() => normalizeTaskOptions({ numCpus: -1 }, 'remote')).toThrow(
      new RangeError('The quantity of resource numCpus cannot be negative'),
    );
    expect(() => normalizeActorOptions({ memory: -5 }, 'remote')).toThrow('The quantity of resource memory cannot be negative');
    expect(() => normalizeTaskOptions({ resources: { disk: -1 } }, 'remote')).toThrow(/resources.disk cannot be negative/);
  });

  it('rejects NaN and Infinity', () => {
    expect(() => normalizeTaskOptions({ numCpus: NaN }, 'remote')).toThrow(/must be a finite number/);
    expect(() => normalizeTaskOptions({ memory: Infinity }, 'remote')).toThrow(RangeError);
    expect(() => normalizeTaskOptions({ numGpus: -Infinity }, 'remote')).toThrow(RangeError);
  });

  // Ray docs resources.rst: "num_gpus=1.5 is invalid"
  it('GPU amounts above 1 must be whole', () => {
    expect(() => normalizeTaskOptions({ numGpus: 1.5 }, 'remote')).toThrow(RangeError);
    expect(() => normalizeActorOptions({ num_gpus: 2.5 }, 'remote')).toThrow(/must be a whole number when greater than 1/);
    expect(normalizeTaskOptions({ numGpus: 2 }, 'remote')).toEqual({ numGpus: 2 });
    expect(normalizeTaskOptions({ numGpus: 0.5 }, 'remote')).toEqual({ numGpus: 0.5 });
    expect(normalizeTaskOptions({ numGpus: 1 }, 'remote')).toEqual({ numGpus: 1 });
  });
});

describe('resources option', () => {
  it('must be a plain object of numbers', () => {
    expect(() => normalizeTaskOptions({ resources: [1] }, 'remote')).toThrow(/'resources' must be object, but received array/);
    expect(() => normalizeTaskOptions({ resources: new Map() }, 'remote')).toThrow(TypeError);
    expect(() => normalizeTaskOptions({ resources: { disk: '1' } }, 'remote')).toThrow(
      /The quantity of resource 'disk' in resources must be number, but received string/,
    );
    expect(() => normalizeTaskOptions({ resources: { disk: true } }, 'remote')).toThrow(TypeError);
  });

  it('rejects CPU and GPU, pointing at numCpus/numGpus', () => {
    expect(() => normalizeTaskOptions({ resources: { CPU: 1 } }, 'remote')).toThrow(/Use the 'numCpus' \(num_cpus\) and 'numGpus'/);
    expect(() => normalizeActorOptions({ resources: { GPU: 1 } }, 'remote')).toThrow(/instead of 'CPU' and 'GPU'/);
  });

  it.each(['memory', 'object_store_memory', 'bundle'])('rejects the reserved name %s', (key) => {
    expect(() => normalizeTaskOptions({ resources: { [key]: 1 } }, 'remote')).toThrow(new RegExp(`Invalid resource name '${key}'`));
  });

  it('returns a frozen copy', () => {
    const input = { disk: 1 };
    const opts = normalizeTaskOptions({ resources: input }, 'remote');
    input.disk = 5;
    expect(opts.resources).toEqual({ disk: 1 });
    expect(Object.isFrozen(opts.resources)).toBe(true);
  });
});

describe('resolveTaskResources', () => {
  it('defaults to one CPU', () => {
    expect(resolveTaskResources({})).toEqual({ CPU: 1 });
    expect(resolveTaskResources({ numCpus: null })).toEqual({ CPU: 1 });
  });

  // Ray: test_basic.py::test_ray_options (num_cpus, num_gpus, memory, custom resources)
  it('collects every requested resource', () => {
    const opts = normalizeTaskOptions(
      { numCpus: 2, numGpus: 3, memory: 150 * 2 ** 20 + 0.7, resources: { custom1: 1 }, acceleratorType: 'V100' },
      'remote',
    );
    expect(resolveTaskResources(opts)).toEqual({
      CPU: 2,
      GPU: 3,
      memory: 150 * 2 ** 20,
      custom1: 1,
      'accelerator_type:V100': 0.001,
    });
  });

  it('drops entries equal to 0', () => {
    expect(resolveTaskResources({ numCpus: 0, numGpus: 0, resources: { x: 0, y: 1 } })).toEqual({ y: 1 });
    expect(resolveTaskResources({ numCpus: 0 })).toEqual({});
  });

  it('returns a frozen set', () => {
    expect(Object.isFrozen(resolveTaskResources({}))).toBe(true);
  });
});

describe("resolveActorResources (Ray's actor resource defaults)", () => {
  it('no resource named: 1 CPU to place, 0 to run', () => {
    expect(resolveActorResources({})).toEqual({ placement: { CPU: 1 }, lifetime: {} });
  });

  it('memory alone does not count as naming a resource, but is reserved', () => {
    const { placement, lifetime } = resolveActorResources({ memory: 100 });
    expect(placement).toEqual({ CPU: 1, memory: 100 });
    expect(lifetime).toEqual({ memory: 100 });
  });

  it('naming numGpus holds 1 CPU + the GPU for life; placement === lifetime', () => {
    const res = resolveActorResources({ numGpus: 1 });
    expect(res.lifetime).toEqual({ CPU: 1, GPU: 1 });
    expect(res.placement).toBe(res.lifetime);
  });

  it('numCpus: 0 gives a 0-CPU actor', () => {
    const res = resolveActorResources({ numCpus: 0 });
    expect(res.lifetime).toEqual({});
    expect(res.placement).toBe(res.lifetime);
  });

  it('numCpus given is held for life', () => {
    expect(resolveActorResources({ numCpus: 2, memory: 10 })).toEqual({
      placement: { CPU: 2, memory: 10 },
      lifetime: { CPU: 2, memory: 10 },
    });
  });

  it('custom resources and acceleratorType count as naming a resource', () => {
    expect(resolveActorResources({ resources: { disk: 1 } }).lifetime).toEqual({ CPU: 1, disk: 1 });
    expect(resolveActorResources({ acceleratorType: 'A100' }).lifetime).toEqual({
      CPU: 1,
      'accelerator_type:A100': 0.001,
    });
    // As in Ray, the test is on keys: an empty dict names nothing.
    expect(resolveActorResources({ resources: {} })).toEqual({ placement: { CPU: 1 }, lifetime: {} });
  });

  it('null (reset) options count as unset', () => {
    expect(resolveActorResources({ numGpus: null, resources: null })).toEqual({ placement: { CPU: 1 }, lifetime: {} });
  });
});
