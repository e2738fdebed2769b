/**
 * The cluster suite (cluster-suite.ts) on RabbitMQ: a RabbitMQ node of the suite's own
 * (test/support/private-rabbitmq.ts). Needs RabbitMQ installed (skipped without it, failing
 * with CI=true).
 */
import { describeClusterSuite } from './cluster-suite';
import { RABBITMQ } from './cluster-buses';

// Real processes on a 2-core machine: give each case room (they take seconds, not minutes).
jest.setTimeout(90_000);

describeClusterSuite(RABBITMQ);
