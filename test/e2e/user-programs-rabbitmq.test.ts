/**
 * Every user program as a driver of a cluster on RabbitMQ (the machine's broker, under a cluster
 * name of this run's own): see user-programs/cluster-programs.ts.
 */
import { AMQP_TEST_URL, describeWithBroker } from '../conformance/amqp-broker';
import { lockAmqpSuites } from './amqp-e2e-helpers';
import { describeUserProgramsOn } from './user-programs/cluster-programs';

jest.setTimeout(120_000);

describeUserProgramsOn({
  name: 'RabbitMQ',
  describe: describeWithBroker,
  acquire: async () => {
    const unlock = await lockAmqpSuites();
    return { url: AMQP_TEST_URL, release: async () => unlock() };
  },
});
