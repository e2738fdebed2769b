import {
  bundleWarnings,
  validateBundles,
  validatePlacementGroupStrategy,
} from '../../../../src/scheduling/placement/validate-bundles';

// Messages from python/ray/util/placement_group.py::_validate_bundles.
describe('validateBundles', () => {
  it('accepts a list of non-empty resource objects', () => {
    expect(() => validateBundles([{ CPU: 1 }, { GPU: 1, CPU: 0 }, { memory: 1e9, Custom: 0.5 }])).not.toThrow();
  });

  it('rejects a non-list with a TypeError', () => {
    expect(() => validateBundles({ CPU: 1 })).toThrow(TypeError);
    expect(() => validateBundles('CPU')).toThrow('Placement group bundles must be a list, got string.');
  });

  it('rejects an empty list', () => {
    expect(() => validateBundles([])).toThrow(RangeError);
    expect(() => validateBundles([])).toThrow(/Bundles must be a non-empty list of resource dictionaries.*Got empty list instead/);
  });

  it('rejects bundles that are not objects of numbers', () => {
    for (const bad of [[1], [null], [[1]], [{ CPU: '1' }], [new Map([['CPU', 1]])]]) {
      expect(() => validateBundles(bad)).toThrow(TypeError);
    }
  });

  it('rejects empty and all-zero bundles', () => {
    const message = /^Bundles cannot be an empty dictionary or resources with only 0 values\. Bundles: /;
    expect(() => validateBundles([{ CPU: 1 }, {}])).toThrow(message);
    expect(() => validateBundles([{ CPU: 0, GPU: 0 }])).toThrow(RangeError);
    expect(() => validateBundles([{ CPU: 0, GPU: 0 }])).toThrow(message);
  });

  it('rejects negative, non-finite and fractional-above-one GPU amounts', () => {
    expect(() => validateBundles([{ CPU: -1 }])).toThrow(RangeError);
    expect(() => validateBundles([{ CPU: Infinity }])).toThrow(RangeError);
    expect(() => validateBundles([{ GPU: 1.5 }])).toThrow(RangeError);
  });

  it('warns about object_store_memory in bundles (DeprecationWarning in Ray)', () => {
    expect(bundleWarnings([{ CPU: 1 }])).toEqual([]);
    expect(bundleWarnings([{ CPU: 1, object_store_memory: 100 }])[0]).toMatch(/deprecated/);
  });

  it('validates the strategy name', () => {
    expect(() => validatePlacementGroupStrategy('STRICT_SPREAD')).not.toThrow();
    expect(() => validatePlacementGroupStrategy('pack')).toThrow(
      'Invalid placement group strategy pack. Supported strategies are: PACK, SPREAD, STRICT_PACK, STRICT_SPREAD.',
    );
  });
});
