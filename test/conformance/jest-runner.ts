/**
 * The conformance suite (raybus/testing `describeTransport`) declares its cases with the test
 * runner it is given: these are jest's.
 */
import type { TestRunner } from '../../src/testing/conformance';

export const JEST: TestRunner = { describe, it, before: beforeAll, after: afterAll };
