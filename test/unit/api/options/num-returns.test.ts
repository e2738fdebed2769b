import { resolveNumReturns, validateNumReturnsFor } from '../../../../src/api/options';

describe('validateNumReturnsFor', () => {
  // Ray: newest ray_option_utils.validate_num_returns (older versions failed at ray.get,
  // test_generators.py::test_dynamic_generator)
  it.each(['streaming', 'dynamic'] as const)("rejects '%s' on a non-generator", (mode) => {
    expect(() => validateNumReturnsFor(false, mode)).toThrow(
      new RegExp(`numReturns='${mode}' can only be used with generator functions`),
    );
  });

  it('accepts generator modes on generators and integers anywhere', () => {
    expect(() => validateNumReturnsFor(true, 'streaming')).not.toThrow();
    expect(() => validateNumReturnsFor(true, 'dynamic')).not.toThrow();
    expect(() => validateNumReturnsFor(true, 2)).not.toThrow();
    expect(() => validateNumReturnsFor(false, 0)).not.toThrow();
    expect(() => validateNumReturnsFor(false, null)).not.toThrow();
    expect(() => validateNumReturnsFor(false, undefined)).not.toThrow();
  });
});

describe('resolveNumReturns', () => {
  it("defaults to 1, or 'streaming' for generators", () => {
    expect(resolveNumReturns(false, undefined)).toBe(1);
    expect(resolveNumReturns(false, null)).toBe(1);
    expect(resolveNumReturns(true, undefined)).toBe('streaming');
    expect(resolveNumReturns(true, 3)).toBe(3);
    expect(resolveNumReturns(false, 0)).toBe(0);
    expect(() => resolveNumReturns(false, 'dynamic')).toThrow(TypeError);
  });
});
