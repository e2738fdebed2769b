import { Ring } from '../../../src/observability/ring';

describe('Ring', () => {
  test('keeps the newest entries in order and counts what it dropped', () => {
    const r = new Ring<number>(3);
    expect([...r]).toEqual([]);
    r.push(1);
    r.push(2);
    expect([...r]).toEqual([1, 2]);
    r.push(3);
    r.push(4);
    r.push(5);
    expect([...r]).toEqual([3, 4, 5]);
    expect(r.size).toBe(3);
    expect(r.dropped).toBe(2);
    r.clear();
    expect([...r]).toEqual([]);
  });

  test('refuses a capacity that is not a positive integer', () => {
    expect(() => new Ring(0)).toThrow(/capacity must be an integer >= 1/);
    expect(() => new Ring(1.5)).toThrow(RangeError);
  });
});
