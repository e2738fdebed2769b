/**
 * Strategies by name. Create one instance per name per broker: SPREAD keeps a cursor.
 */
import { DefaultStrategy, type DefaultStrategyOptions } from './default-strategy';
import { NodeAffinityStrategy } from './node-affinity-strategy';
import { SpreadStrategy } from './spread-strategy';

/** The strategy names, as Ray spells them. */
export const STRATEGY_NAMES = ['DEFAULT', 'SPREAD', 'NODE_AFFINITY'] as const;

/** A strategy name. */
export type StrategyName = (typeof STRATEGY_NAMES)[number];

/** The strategy type each name builds. */
export interface StrategyByName {
  DEFAULT: DefaultStrategy;
  SPREAD: SpreadStrategy;
  NODE_AFFINITY: NodeAffinityStrategy;
}

/** Options shared by the strategies that build on the hybrid policy. */
export interface CreateStrategyOptions {
  readonly hybrid?: DefaultStrategyOptions;
}

/** Whether `name` is a strategy name. */
export function isStrategyName(name: unknown): name is StrategyName {
  return typeof name === 'string' && (STRATEGY_NAMES as readonly string[]).includes(name);
}

/**
 * Builds the strategy called `name`.
 * @throws RangeError for an unknown name (the message lists the valid ones).
 * @example
 * const spread = createStrategy('SPREAD');
 * spread.pick({ ledger, demand: { CPU: 1 }, random: Math.random });
 */
export function createStrategy<N extends StrategyName>(
  name: N,
  options: CreateStrategyOptions = {},
): StrategyByName[N] {
  const strategies: { [K in StrategyName]: () => StrategyByName[K] } = {
    DEFAULT: () => new DefaultStrategy(options.hybrid),
    SPREAD: () => new SpreadStrategy(),
    NODE_AFFINITY: () => new NodeAffinityStrategy(new DefaultStrategy(options.hybrid)),
  };
  if (!isStrategyName(name)) {
    throw new RangeError(`unknown scheduling strategy ${String(name)}; valid: ${STRATEGY_NAMES.join(', ')}`);
  }
  return strategies[name]();
}

/** One instance of every strategy, for a broker. */
export function createStrategies(options: CreateStrategyOptions = {}): StrategyByName {
  return {
    DEFAULT: createStrategy('DEFAULT', options),
    SPREAD: createStrategy('SPREAD', options),
    NODE_AFFINITY: createStrategy('NODE_AFFINITY', options),
  };
}
