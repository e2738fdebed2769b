/**
 * The conformance suite on the in-memory bus: with all capabilities (the embedded default),
 * and with NATS's (no single active consumers, requeue later, no queue expiry, leases), as the
 * core's unit tests use it.
 */
import { InMemoryBus } from '../../src/transport/in-memory-transport';
import { describeTransport } from '../../src/testing/conformance';
import { JEST } from './jest-runner';

describeTransport('in-memory', async () => {
  const bus = new InMemoryBus();
  return { a: bus.connect(), b: bus.connect(), cleanup: async () => undefined };
}, JEST);

const NATS_LIKE = { singleActiveConsumer: false, requeueAtHead: false, queueExpiry: false, maxMessageBytes: 1 << 20, leases: true };

describeTransport(
  'in-memory, with the capabilities of NATS',
  async () => {
    const bus = new InMemoryBus({ capabilities: NATS_LIKE });
    return { a: bus.connect(), b: bus.connect(), cleanup: async () => undefined };
  },
  JEST,
  { capabilities: NATS_LIKE },
);
