import { ResourceLedger } from '../../../../src/scheduling/ledger/resource-ledger';

function gpuNode(gpus = 2): ResourceLedger {
  const ledger = new ResourceLedger();
  ledger.addNode('n', { CPU: 8, GPU: gpus });
  return ledger;
}

describe('GPU id assignment', () => {
  it('gives ids 0..N-1 and whole demands take whole free ids, lowest first', () => {
    const ledger = gpuNode(4);
    // test_submit_api: a num_gpus=1 call gets [0] on a GPU node; a default call gets [].
    expect(ledger.reserveWithIds('n', { GPU: 1 })).toEqual({ gpuIds: [0] });
    expect(ledger.reserveWithIds('n', { CPU: 1 })).toEqual({ gpuIds: [] });
    expect(ledger.reserveWithIds('n', { GPU: 2 })).toEqual({ gpuIds: [1, 2] });
    expect(ledger.reserveWithIds('n', { GPU: 2 })).toBeNull();
    expect(ledger.gpuFree('n')).toEqual([0, 0, 0, 1]);
  });

  it('lets fractional demands share one id (two 0.5 tasks see the same id)', () => {
    const ledger = gpuNode();
    expect(ledger.reserveWithIds('n', { GPU: 0.5 })).toEqual({ gpuIds: [0] });
    expect(ledger.reserveWithIds('n', { GPU: 0.5 })).toEqual({ gpuIds: [0] });
    expect(ledger.reserveWithIds('n', { GPU: 0.5 })).toEqual({ gpuIds: [1] });
  });

  it('picks the best-fitting id for a fraction', () => {
    const ledger = gpuNode(3);
    ledger.reserveWithIds('n', { GPU: 1 }); // id 0 full
    ledger.reserveWithIds('n', { GPU: 0.3 }); // id 1 → 0.7 free
    expect(ledger.gpuFree('n')).toEqual([0, 0.7, 1]);
    expect(ledger.reserveWithIds('n', { GPU: 0.6 })).toEqual({ gpuIds: [1] }); // 0.7 beats 1.0
    expect(ledger.reserveWithIds('n', { GPU: 0.2 })).toEqual({ gpuIds: [2] }); // 0.1 left on id 1
  });

  it('needs whole free ids for whole demands even when the sum would do', () => {
    const ledger = gpuNode(2);
    ledger.reserveWithIds('n', { GPU: 0.5 });
    ledger.reserveWithIds('n', { GPU: 0.6 });
    expect(ledger.available('n')).toEqual({ CPU: 8, GPU: 0.9 });
    ledger.releaseWithIds('n', { GPU: 0.5 }, [0]);
    expect(ledger.available('n').GPU).toBe(1.4);
    expect(ledger.fits('n', { GPU: 1 })).toBe(true);
    ledger.reserveWithIds('n', { GPU: 0.3 }); // best fit: id 1 (0.4 free)
    ledger.reserveWithIds('n', { GPU: 0.5 }); // id 0
    expect(ledger.available('n').GPU).toBe(0.6);
    expect(ledger.gpuFree('n')).toEqual([0.5, 0.1]);
    expect(ledger.fits('n', { GPU: 0.6 })).toBe(false); // 0.6 in sum, but no single id has it
    expect(ledger.isFeasible({ GPU: 2 })).toBe(true);
    expect(ledger.isFeasible({ GPU: 3 })).toBe(false);
  });

  it('release() frees the ids reserve() picked; releaseWithIds checks the ids', () => {
    const ledger = gpuNode(2);
    expect(ledger.reserve('n', { GPU: 0.3 })).toBe(true); // id 0
    expect(ledger.reserve('n', { GPU: 0.8 })).toBe(true); // id 1
    ledger.release('n', { GPU: 0.3 });
    ledger.release('n', { GPU: 0.8 });
    expect(ledger.gpuFree('n')).toEqual([1, 1]);
    expect(() => ledger.release('n', { GPU: 0.3 })).toThrow(/never reserved/);

    const got = ledger.reserveWithIds('n', { GPU: 1 });
    expect(got).toEqual({ gpuIds: [0] });
    expect(() => ledger.releaseWithIds('n', { GPU: 1 }, [1])).toThrow(/never reserved/);
    expect(() => ledger.releaseWithIds('n', { GPU: 1 }, [0, 1])).toThrow(/does not match/);
    ledger.releaseWithIds('n', { GPU: 1 }, [0]);
    expect(ledger.available('n')).toEqual({ CPU: 8, GPU: 2 });
  });
});
