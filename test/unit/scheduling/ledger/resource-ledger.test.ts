import { ResourceLedger } from '../../../../src/scheduling/ledger/resource-ledger';
import { mulberry32 } from '../../../../src/scheduling/strategies/seeded-random';

function twoNodes(): ResourceLedger {
  const ledger = new ResourceLedger();
  ledger.addNode('a', { CPU: 4, memory: 1000, 'accelerator_type:A100': 1 }, { zone: 'x' });
  ledger.addNode('b', { CPU: 2, Custom: 3, GPU: 0 });
  return ledger;
}

describe('ResourceLedger', () => {
  it('tracks nodes, totals and availability; zero totals are dropped', () => {
    const ledger = twoNodes();
    expect(ledger.nodeIds()).toEqual(['a', 'b']);
    expect(ledger.totals('b')).toEqual({ CPU: 2, Custom: 3 });
    expect(ledger.labels('a')).toEqual({ zone: 'x' });
    expect(ledger.clusterTotals()).toEqual({ CPU: 6, memory: 1000, 'accelerator_type:A100': 1, Custom: 3 });
    expect(ledger.reserve('a', { CPU: 1.5, memory: 400 })).toBe(true);
    expect(ledger.available('a')).toEqual({ CPU: 2.5, memory: 600, 'accelerator_type:A100': 1 });
  });

  it('omits resources with 0 available, as ray.available_resources() does', () => {
    const ledger = twoNodes();
    expect(ledger.reserve('b', { CPU: 2 })).toBe(true);
    expect(ledger.available('b')).toEqual({ Custom: 3 });
    expect(ledger.clusterAvailable()).toEqual({ CPU: 4, memory: 1000, 'accelerator_type:A100': 1, Custom: 3 });
    expect(ledger.reserve('a', { CPU: 4 })).toBe(true);
    expect(ledger.clusterAvailable()).not.toHaveProperty('CPU');
  });

  it('reserves all or nothing', () => {
    const ledger = twoNodes();
    expect(ledger.reserve('b', { CPU: 1, Custom: 4 })).toBe(false);
    expect(ledger.available('b')).toEqual({ CPU: 2, Custom: 3 });
    expect(ledger.reserve('b', { CPU: 1, Nonexistent: 1 })).toBe(false);
    expect(ledger.available('b')).toEqual({ CPU: 2, Custom: 3 });
  });

  it('ignores zero entries in demands (Ray drops them before submission)', () => {
    const ledger = twoNodes();
    expect(ledger.fits('b', { CPU: 1, GPU: 0, Nonexistent: 0 })).toBe(true);
    expect(ledger.reserve('b', { CPU: 1, GPU: 0 })).toBe(true);
    ledger.release('b', { CPU: 1, GPU: 0 });
    expect(ledger.available('b')).toEqual({ CPU: 2, Custom: 3 });
  });

  it('tells fits (now) from feasibleOn / isFeasible (totals)', () => {
    const ledger = twoNodes();
    ledger.reserve('a', { CPU: 4 });
    expect(ledger.fits('a', { CPU: 1 })).toBe(false);
    expect(ledger.feasibleOn('a', { CPU: 1 })).toBe(true);
    expect(ledger.feasibleOn('b', { CPU: 3 })).toBe(false);
    expect(ledger.isFeasible({ CPU: 3 })).toBe(true);
    expect(ledger.isFeasible({ CPU: 5 })).toBe(false);
    // test_submit_api: resources={"NonexistentCustom": 1} is infeasible, not failed.
    expect(ledger.isFeasible({ NonexistentCustom: 1 })).toBe(false);
  });

  it('removeNode marks dead: no reservations, no sums, releases still accepted', () => {
    const ledger = twoNodes();
    expect(ledger.reserve('b', { CPU: 1 })).toBe(true);
    ledger.removeNode('b');
    expect(ledger.hasNode('b')).toBe(true);
    expect(ledger.isAlive('b')).toBe(false);
    expect(ledger.nodeIds()).toEqual(['a']);
    expect(ledger.clusterTotals()).toEqual({ CPU: 4, memory: 1000, 'accelerator_type:A100': 1 });
    expect(ledger.fits('b', { CPU: 1 })).toBe(false);
    expect(ledger.reserve('b', { CPU: 1 })).toBe(false);
    expect(ledger.isFeasible({ Custom: 1 })).toBe(false);
    expect(() => ledger.release('b', { CPU: 1 })).not.toThrow();
    ledger.addNode('b', { CPU: 8 }); // a dead id may come back; it moves last
    expect(ledger.nodeIds()).toEqual(['a', 'b']);
    expect(() => ledger.addNode('a', { CPU: 1 })).toThrow(/already exists/);
  });

  it('fails loudly on a release that was never reserved', () => {
    const ledger = twoNodes();
    expect(() => ledger.release('a', { CPU: 0.0001 })).toThrow(/never reserved/);
    ledger.reserve('a', { CPU: 1, memory: 10 });
    expect(() => ledger.release('a', { CPU: 1, memory: 11 })).toThrow(/never reserved/);
    expect(ledger.available('a')).toEqual({ CPU: 3, memory: 990, 'accelerator_type:A100': 1 }); // unchanged
    expect(() => ledger.release('zzz', { CPU: 1 })).toThrow(/unknown node/);
  });

  it('rejects bad demand amounts synchronously', () => {
    const ledger = twoNodes();
    expect(() => ledger.fits('a', { CPU: -1 })).toThrow(RangeError);
    expect(() => ledger.fits('a', { CPU: Number.NaN })).toThrow(RangeError);
    expect(() => ledger.fits('a', { CPU: '1' as unknown as number })).toThrow(TypeError);
    expect(() => ledger.fits('a', { GPU: 1.5 })).toThrow(/GPU amounts above 1 must be whole/);
  });

  it('utilization is the max used/total over CPU, memory, object_store_memory only', () => {
    const ledger = new ResourceLedger();
    ledger.addNode('n', { CPU: 10, memory: 100, GPU: 2, Custom: 1 });
    expect(ledger.utilization('n')).toBe(0);
    ledger.reserve('n', { GPU: 2, Custom: 1 });
    expect(ledger.utilization('n')).toBe(0); // GPU and custom resources do not count
    ledger.reserve('n', { CPU: 3, memory: 70 });
    expect(ledger.utilization('n')).toBeCloseTo(0.7, 12);
    ledger.addNode('bare', { Custom: 4 });
    expect(ledger.utilization('bare')).toBe(0);
  });

  it('clone() plans without touching the original; resetAvailable frees everything', () => {
    const ledger = twoNodes();
    ledger.reserve('a', { CPU: 4 });
    const copy = ledger.clone();
    expect(copy.reserve('b', { CPU: 2 })).toBe(true);
    expect(ledger.available('b')).toEqual({ CPU: 2, Custom: 3 });
    expect(ledger.clone({ resetAvailable: true }).fits('a', { CPU: 4 })).toBe(true);
  });

  // Port of test_basic.py::test_many_fractional_resources: after 500 random fractional
  // CPU/GPU/custom reservations and releases the totals come back exactly (no drift).
  it('returns to exact totals after 500 random fractional reserve/release (test_many_fractional_resources)', () => {
    const ledger = new ResourceLedger();
    ledger.addNode('n', { CPU: 2, GPU: 2, Custom: 2 });
    const random = mulberry32(20240607);
    const frac = (): number => Math.round(random() * 10_000) / 10_000;
    const held: { demand: Record<string, number>; gpuIds: number[] | null }[] = [];
    const releaseOne = (): void => {
      const [h] = held.splice(Math.floor(random() * held.length), 1);
      if (h === undefined) throw new Error('nothing held');
      if (h.gpuIds === null) ledger.release('n', h.demand);
      else ledger.releaseWithIds('n', h.demand, h.gpuIds);
    };
    let reserved = 0;
    for (let i = 0; i < 500; i++) {
      const demand = { CPU: frac(), GPU: frac(), Custom: frac() };
      while (!ledger.fits('n', demand)) releaseOne();
      if (i % 2 === 0) {
        expect(ledger.reserve('n', demand)).toBe(true);
        held.push({ demand, gpuIds: null });
      } else {
        const got = ledger.reserveWithIds('n', demand);
        expect(got).not.toBeNull();
        if (demand.GPU > 0) expect(got?.gpuIds).toHaveLength(1);
        held.push({ demand, gpuIds: got?.gpuIds ?? [] });
      }
      reserved++;
      if (random() < 0.3 && held.length > 0) releaseOne();
    }
    while (held.length > 0) releaseOne();
    expect(reserved).toBe(500);
    expect(ledger.available('n')).toStrictEqual({ CPU: 2, GPU: 2, Custom: 2 });
    expect(ledger.clusterAvailable()).toStrictEqual({ CPU: 2, GPU: 2, Custom: 2 });
    expect(ledger.gpuFree('n')).toStrictEqual([1, 1]);
  });
});

describe('taking back a blocked task’s CPU (Ray’s ReturnCpuResourcesToUnblockedWorker, allow_going_negative)', () => {
  it('may overdraw a node; nothing fits until it is back in credit; views show none available, not less', () => {
    const ledger = twoNodes();
    expect(ledger.reserve('b', { CPU: 2 })).toBe(true);
    ledger.reserveOverdraw('b', { CPU: 1 });
    expect(ledger.available('b')).toEqual({ Custom: 3 });
    expect(ledger.clusterAvailable()).toEqual({ CPU: 4, memory: 1000, 'accelerator_type:A100': 1, Custom: 3 });
    expect(ledger.fits('b', { CPU: 0.5 })).toBe(false);
    expect(ledger.utilization('b')).toBeCloseTo(1.5);
    ledger.releaseWithIds('b', { CPU: 1 }, []);
    expect(ledger.fits('b', { CPU: 0.5 })).toBe(false);
    ledger.releaseWithIds('b', { CPU: 2 }, []);
    expect(ledger.available('b')).toEqual({ CPU: 2, Custom: 3 });
    expect(() => ledger.reserveOverdraw('b', { GPU: 1 })).toThrow(/GPUs/);
  });
});
