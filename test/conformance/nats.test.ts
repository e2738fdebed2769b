import { createNatsTransport } from '../../adapters/nats';
import { deleteNamespace, describeWithNats, NATS_TEST_URL, testNamespace } from './nats-server';
import { describeTransport } from '../../src/testing/conformance';
import { JEST } from './jest-runner';

describeWithNats('NATS transport', () => {
  const namespace = testNamespace();
  afterAll(async () => {
    await deleteNamespace(namespace);
  });
  const make = (name: string) => createNatsTransport(NATS_TEST_URL, { namespace, connectionName: name });
  describeTransport(
    'nats',
    async () => ({ a: make('raybus-conformance-a'), b: make('raybus-conformance-b'), cleanup: async () => undefined }),
    JEST,
    // Read from an unconnected transport (no connection is made); a case checks the connected ones agree.
    { capabilities: make('raybus-conformance-capabilities').capabilities },
  );
});
