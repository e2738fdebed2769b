// The conformance suite on the counting adapter, under node:test:
//
//   npm run build && node --test examples/transport-adapter/
//
// Over raybus's in-memory bus (no server needed), and over a NATS server when
// RAYBUS_EXAMPLE_NATS_URL names one (e.g. nats://127.0.0.1:4222), through the registered
// `counting+nats://` scheme, as raybus would open it. jest and vitest take the same call with
// their own functions: { describe, it, before: beforeAll, after: afterAll }.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createTransport } from 'raybus';
import { describeTransport, InMemoryBus } from 'raybus/testing';
import { countingTransport, registerCounting } from './counting-transport.mjs';

const runner = { describe, it, before, after };

describeTransport(
  'counting over the in-memory bus',
  async () => {
    const bus = new InMemoryBus();
    return { a: countingTransport(bus.connect()), b: countingTransport(bus.connect()), cleanup: async () => {} };
  },
  runner,
);

it('counts what it publishes and delivers', async () => {
  const bus = new InMemoryBus();
  const t = countingTransport(bus.connect());
  await t.connect();
  await t.assertQueue('q');
  const got = new Promise((resolve) => t.consume('q', (d) => (d.ack(), resolve(d.body.byteLength)), { prefetch: 1 }));
  await t.publish('q', new Uint8Array(5));
  assert.equal(await got, 5);
  assert.deepEqual({ ...t.counts }, { published: 1, bytes: 5, delivered: 1 });
  await t.close();
});

const natsUrl = process.env.RAYBUS_EXAMPLE_NATS_URL;
if (natsUrl) {
  registerCounting(['nats']);
  // A cluster name of its own: every queue and lease of the run carries it.
  const address = `counting+${natsUrl}/?cluster=example-${process.pid}`;
  describeTransport('counting+nats', async () => ({ a: createTransport(address), b: createTransport(address), cleanup: async () => {} }), runner, {
    // Read from an unconnected transport: NATS has no single active consumers and no requeue at the head.
    capabilities: createTransport(address).capabilities,
  });
}
