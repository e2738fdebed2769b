/** What a call before init says: the embedded default starts by itself; a cluster address needs init. */
import { requireCore, slot } from '../../../src/core/runtime-state';

describe('requireCore before init', () => {
  const saved = { address: process.env.RAYBUS_ADDRESS, autoInit: slot.autoInit };
  afterEach(() => {
    if (saved.address === undefined) delete process.env.RAYBUS_ADDRESS;
    else process.env.RAYBUS_ADDRESS = saved.address;
    slot.autoInit = saved.autoInit;
  });

  test('without RAYBUS_ADDRESS: asks for init', () => {
    delete process.env.RAYBUS_ADDRESS;
    slot.autoInit = undefined;
    expect(() => requireCore()).toThrow(/^raybus is not initialized: call `await ray.init\(\)` first$/);
  });

  test('with RAYBUS_ADDRESS: says why it cannot start by itself', () => {
    process.env.RAYBUS_ADDRESS = 'amqp://127.0.0.1:5672';
    slot.autoInit = undefined;
    expect(() => requireCore()).toThrow(/RAYBUS_ADDRESS is set, and joining that cluster takes a connection/);
  });
});
