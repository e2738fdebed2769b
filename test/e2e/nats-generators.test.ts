/**
 * The generator suite (generators-suite.ts) on NATS JetStream, on a server of the suite's own
 * (cluster-buses.ts). Skipped where that server is not installed (failing with CI=true).
 */
import { describeGeneratorSuite } from './generators-suite';
import { NATS } from './cluster-buses';

jest.setTimeout(90_000);

describeGeneratorSuite(NATS);
