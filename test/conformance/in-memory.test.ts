import { InMemoryBus } from '../../src/transport/in-memory-transport';
import { describeTransport } from './transport.conformance';

describeTransport('in-memory', async () => {
  const bus = new InMemoryBus();
  return { a: bus.connect(), b: bus.connect(), cleanup: async () => undefined };
});
