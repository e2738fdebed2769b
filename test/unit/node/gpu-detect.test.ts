import { acceleratorTypeFromName, parseNvidiaSmi } from '../../../src/node/gpu-detect';

describe('nvidia-smi parsing', () => {
  it('counts GPUs and derives Ray accelerator type names', () => {
    expect(parseNvidiaSmi('0, NVIDIA A100-SXM4-40GB\n1, NVIDIA A100-SXM4-40GB\n')).toEqual({ count: 2, acceleratorType: 'A100' });
    expect(parseNvidiaSmi('')).toEqual({ count: 0, acceleratorType: undefined });
  });
  it.each([
    ['Tesla V100-SXM2-16GB', 'V100'],
    ['NVIDIA H100 80GB HBM3', 'H100'],
    ['NVIDIA A10G', 'A10G'],
    ['NVIDIA L40S', 'L40S'],
    ['Tesla T4', 'T4'],
  ])('%s → %s', (name, type) => {
    expect(acceleratorTypeFromName(name)).toBe(type);
  });
});
