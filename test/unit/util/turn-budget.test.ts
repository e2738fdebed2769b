/**
 * The per-turn work budget: charges go on until the turn's budget is spent, the first charge
 * of a turn always goes on, and a new turn (the event loop's check phase) starts afresh.
 */
import { nextTurn, TurnBudget } from '../../../src/util/turn-budget';

test('charges go on until the budget of the turn is spent; the next turn starts afresh', async () => {
  const budget = new TurnBudget(10);
  expect(budget.take(4)).toBe(true);
  expect(budget.take(6)).toBe(true);
  expect(budget.take(1)).toBe(false);
  await Promise.resolve();
  expect(budget.take(1)).toBe(false); // microtasks are the same turn
  await nextTurn();
  expect(budget.take(10)).toBe(true);
  expect(budget.take(1)).toBe(false);
});

test('the first charge of a turn goes on however large (work always progresses)', async () => {
  const budget = new TurnBudget(10);
  expect(budget.take(1_000)).toBe(true);
  expect(budget.take(1)).toBe(false);
  await nextTurn();
  expect(budget.take(1_000)).toBe(true);
});
