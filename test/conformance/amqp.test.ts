import { createAmqpTransport } from '../../adapters/amqp';
import { AMQP_TEST_URL, describeWithBroker } from './amqp-broker';
import { describeTransport } from '../../src/testing/conformance';
import { JEST } from './jest-runner';

describeWithBroker('AMQP transport', () => {
  describeTransport('amqp', async () => ({
    a: createAmqpTransport(AMQP_TEST_URL, { connectionName: 'raybus-conformance-a' }),
    b: createAmqpTransport(AMQP_TEST_URL, { connectionName: 'raybus-conformance-b' }),
    cleanup: async () => undefined,
  }), JEST);
});
