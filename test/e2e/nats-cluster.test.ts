/**
 * The cluster suite (cluster-suite.ts) on NATS JetStream: `raybus start --address nats://…`
 * nodes and `init({ address: 'nats://…' })` drivers, on a nats-server of the suite's own
 * (test/support/private-nats.ts), which the restart case restarts. Needs nats-server
 * installed (skipped without it, failing with CI=true).
 */
import { describeClusterSuite } from './cluster-suite';
import { NATS } from './cluster-buses';

// Real processes on a 2-core machine: give each case room (they take seconds, not minutes).
jest.setTimeout(90_000);

describeClusterSuite(NATS);
