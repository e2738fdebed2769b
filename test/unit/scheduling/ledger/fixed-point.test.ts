import {
  fromResourceUnits,
  fromUnits,
  RESOURCE_UNIT_SCALING,
  toResourceUnits,
  toUnits,
} from '../../../../src/scheduling/ledger/fixed-point';

describe('fixed-point resource units', () => {
  it('scales by 1/10000 with rounding, as Ray RESOURCE_UNIT_SCALING', () => {
    expect(RESOURCE_UNIT_SCALING).toBe(10_000);
    expect(toUnits(1)).toBe(10_000);
    expect(toUnits(0.29)).toBe(2_900); // 0.29 * 10000 is 2899.9999999999995 in floats
    expect(toUnits(0.00004)).toBe(0);
    expect(toUnits(0.00005)).toBe(1);
    expect(Object.is(toUnits(-0.00001), 0)).toBe(true); // no -0
    expect(fromUnits(3)).toBe(0.0003);
  });

  it('adds exactly where floats drift', () => {
    expect(0.1 + 0.2).not.toBe(0.3);
    expect(toUnits(0.1) + toUnits(0.2)).toBe(toUnits(0.3));
    expect(fromUnits(toUnits(0.1) + toUnits(0.2))).toBe(0.3);
  });

  it('keeps byte resources (memory, object_store_memory) at scale 1 so terabytes stay exact', () => {
    const twoTb = 2 * 1024 ** 4;
    expect(toResourceUnits('memory', twoTb)).toBe(twoTb);
    expect(fromResourceUnits('object_store_memory', 5)).toBe(5);
    expect(toResourceUnits('CPU', 0.5)).toBe(5_000);
    expect(() => toUnits(twoTb)).toThrow(RangeError); // would pass 2^53 at 1/10000
  });

  it('rejects non-finite amounts', () => {
    expect(() => toUnits(Number.NaN)).toThrow(RangeError);
    expect(() => toUnits(Infinity)).toThrow(RangeError);
  });
});
