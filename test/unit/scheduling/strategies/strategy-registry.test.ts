import { DefaultStrategy } from '../../../../src/scheduling/strategies/default-strategy';
import { NodeAffinityStrategy } from '../../../../src/scheduling/strategies/node-affinity-strategy';
import { SpreadStrategy } from '../../../../src/scheduling/strategies/spread-strategy';
import {
  createStrategies,
  createStrategy,
  isStrategyName,
  STRATEGY_NAMES,
} from '../../../../src/scheduling/strategies/strategy-registry';

describe('strategy registry', () => {
  it('creates each strategy by name', () => {
    expect(createStrategy('DEFAULT')).toBeInstanceOf(DefaultStrategy);
    expect(createStrategy('SPREAD')).toBeInstanceOf(SpreadStrategy);
    expect(createStrategy('NODE_AFFINITY')).toBeInstanceOf(NodeAffinityStrategy);
    expect(createStrategy('DEFAULT', { hybrid: { spreadThreshold: 1 } }).options.spreadThreshold).toBe(1);
    const all = createStrategies();
    expect(STRATEGY_NAMES.map((n) => all[n].name)).toEqual(['DEFAULT', 'SPREAD', 'NODE_AFFINITY']);
  });

  it('rejects unknown names, listing the valid ones', () => {
    expect(isStrategyName('SPREAD')).toBe(true);
    expect(isStrategyName('spread')).toBe(false);
    expect(() => createStrategy('RANDOM' as 'DEFAULT')).toThrow(/DEFAULT, SPREAD, NODE_AFFINITY/);
  });
});
